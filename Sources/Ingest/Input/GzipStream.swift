import CZlib

/// Decompresses gzip input (RFC 1952) with zlib, as `zcat` does: members one after another (what
/// `cat a.gz b.gz` and parallel gzip writers produce), zero padding after the last member allowed.
final class GzipStream: ByteStream {
    private let raw: RawInput
    private let input: CompressedBuffer
    private var stream = z_stream()
    /// Inside a member (its end, with the CRC and length check, not yet reached).
    private var inMember = true
    private var finished = false

    init(raw: RawInput, prefix: [UInt8]) throws(IngestError) {
        self.raw = raw
        input = CompressedBuffer(raw: raw, prefix: prefix)
        // 16 + 15: a gzip wrapper (not zlib's), the largest window.
        guard inflateInit2_(&stream, 16 + 15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw IngestError(file: raw.input.displayName, problem: "cannot start zlib (out of memory)", remedy: "")
        }
    }

    deinit { inflateEnd(&stream) }

    func read(into destination: UnsafeMutableRawPointer, count: Int) throws(IngestError) -> Int {
        let space = UInt32(min(count, Int(UInt32.max)))
        stream.next_out = destination.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = space
        while !finished && stream.avail_out == space {
            let haveInput = try input.refillIfEmpty()
            if !inMember {
                guard haveInput else {
                    finished = true
                    break
                }
                try startNextMember()
                continue
            }
            stream.next_in = (input.bytes + input.start).assumingMemoryBound(to: Bytef.self)
            stream.avail_in = UInt32(input.available)
            let code = inflate(&stream, Z_NO_FLUSH)
            input.start = input.end - Int(stream.avail_in)
            switch code {
            case Z_OK:
                continue
            case Z_STREAM_END:
                inMember = false
            case Z_BUF_ERROR where !haveInput:
                throw damaged("the gzip data ends in the middle of a member: the file is truncated", at: raw.consumed)
            case Z_BUF_ERROR:
                continue
            case Z_MEM_ERROR:
                throw IngestError(file: raw.input.displayName, problem: "zlib ran out of memory", remedy: "")
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "error \(code)"
                throw damaged("the gzip data is damaged (zlib: \(reason))", at: input.offset)
            }
        }
        return Int(space - stream.avail_out)
    }

    /// After a member's end: another member, zero padding to the end, or an error.
    private func startNextMember() throws(IngestError) {
        let next = input.bytes.load(fromByteOffset: input.start, as: UInt8.self)
        if next == 0x1f {
            inflateReset(&stream)
            inMember = true
        } else if next == 0 {
            // Padding: only zeros may follow.
            while input.start < input.end {
                guard input.bytes.load(fromByteOffset: input.start, as: UInt8.self) == 0 else {
                    throw damaged("unexpected bytes after zero padding at the end of the gzip data", at: input.offset)
                }
                input.start += 1
            }
        } else {
            throw damaged("unexpected bytes after the end of the gzip data (not another gzip member)", at: input.offset)
        }
    }

    private func damaged(_ problem: String, at offset: Int) -> IngestError {
        IngestError.damagedCompression(raw.input, problem: problem, offset: offset, check: "gzip -t")
    }
}

extension IngestError {
    /// A compressed input that cannot be decoded: names the input and the stored-file byte offset.
    static func damagedCompression(_ input: JSONLInput, problem: String, offset: Int, check: String) -> IngestError {
        let remedy: String
        switch input {
        case .file(let url): remedy = "Copy or download the file again (check it with: \(check) \(url.path))."
        case .standardInput: remedy = "Check the data sent to standard input (\(check))."
        }
        return IngestError(file: input.displayName, location: "byte \(offset)", problem: problem, remedy: remedy)
    }
}
