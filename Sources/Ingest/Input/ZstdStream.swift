import CZstd

/// Decompresses zstd input with libzstd's streaming API, as `zstdcat` does: any number of frames
/// (skippable ones included), each checked to its end.
final class ZstdStream: ByteStream {
    private let raw: RawInput
    private let input: CompressedBuffer
    private let context: OpaquePointer
    /// A frame is started and not yet complete (libzstd's last answer was not 0).
    private var inFrame = false

    init(raw: RawInput, prefix: [UInt8]) throws(IngestError) {
        self.raw = raw
        input = CompressedBuffer(raw: raw, prefix: prefix)
        guard let context = ZSTD_createDCtx() else {
            throw IngestError(file: raw.input.displayName, problem: "cannot start zstd (out of memory)", remedy: "")
        }
        self.context = context
    }

    deinit { ZSTD_freeDCtx(context) }

    func read(into destination: UnsafeMutableRawPointer, count: Int) throws(IngestError) -> Int {
        var output = ZSTD_outBuffer(dst: destination, size: count, pos: 0)
        while output.pos == 0 {
            let haveInput = try input.refillIfEmpty()
            if !haveInput && !inFrame { return 0 }
            // With no input left, a call still flushes what the context holds; producing nothing
            // then means the frame cannot end.
            var source = ZSTD_inBuffer(src: input.bytes + input.start, size: input.available, pos: 0)
            let result = ZSTD_decompressStream(context, &output, &source)
            input.start += source.pos
            if ZSTD_isError(result) != 0 {
                let reason = String(cString: ZSTD_getErrorName(result))
                if ZSTD_getErrorCode(result) == ZSTD_error_frameParameter_windowTooLarge {
                    // Decoding would need a window beyond zstd's default 128 MiB limit (zstd --long).
                    throw IngestError(file: raw.input.displayName, location: "byte \(input.offset)", problem: "the zstd frame needs a window larger than 128 MiB (zstd: \(reason))",
                                      remedy: "Recompress it without --long (zstd -d --long=31 -c FILE | zstd -o NEW), or pipe it in: zstd -d --long=31 -c FILE | quadcat ingest CAT - ...")
                }
                throw IngestError.damagedCompression(raw.input, problem: "the zstd data cannot be decoded (zstd: \(reason))", offset: input.offset, check: "zstd -t")
            }
            inFrame = result != 0
            if !haveInput && output.pos == 0 && inFrame {
                throw IngestError.damagedCompression(raw.input, problem: "the zstd data ends in the middle of a frame: the file is truncated", offset: raw.consumed, check: "zstd -t")
            }
        }
        return output.pos
    }
}
