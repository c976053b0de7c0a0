import CKernels
import CLZ4

/// Which codec the writer uses for a chunk.
public enum CodecPolicy: String, Sendable, Codable, CaseIterable {
    /// Compress only where it saves real space (docs/FORMAT.md, "Codecs"): text and member lists are tried with LZ4,
    /// float vectors with shuffle-LZ4 on a probe of the chunk first, since Gaussian gradients do not
    /// compress and decoding would cost scan speed for nothing.
    case auto
    case raw
    case lz4
    case shuffleLZ4 = "shuffle-lz4"
}

/// Encodes and decodes chunk payloads.
enum PayloadCodec {
    /// Compression is kept only when the stored form is at most this fraction of the raw size.
    static let keepRatio = 0.9
    /// Bytes of a float chunk compressed first to decide whether the whole chunk is worth trying.
    static let probeBytes = 64 * 1024

    /// The codec and stored bytes for a raw payload under `policy`.
    static func encode(_ raw: UnsafeRawBufferPointer, dtype: StoredDType, policy: CodecPolicy) -> (ChunkCodec, [UInt8]?) {
        switch policy {
        case .raw:
            return (.raw, nil)
        case .lz4:
            return (.lz4, compress(raw, shuffleElementSize: nil))
        case .shuffleLZ4:
            return (.shuffleLZ4, compress(raw, shuffleElementSize: dtype.elementSize))
        case .auto:
            let shuffle = dtype.elementSize > 1 && dtype != .members ? dtype.elementSize : nil
            let codec: ChunkCodec = shuffle == nil ? .lz4 : .shuffleLZ4
            if dtype.isVector && raw.count > 2 * probeBytes {
                let probeLength = probeBytes / dtype.elementSize * dtype.elementSize
                let probe = compress(UnsafeRawBufferPointer(rebasing: raw[0..<probeLength]), shuffleElementSize: shuffle)
                if Double(probe.count) > keepRatio * Double(probeLength) { return (.raw, nil) }
            }
            let stored = compress(raw, shuffleElementSize: shuffle)
            return Double(stored.count) <= keepRatio * Double(raw.count) ? (codec, stored) : (.raw, nil)
        }
    }

    static func compress(_ raw: UnsafeRawBufferPointer, shuffleElementSize: Int?) -> [UInt8] {
        guard raw.count > 0 else { return [] }
        var shuffled: [UInt8] = []
        var input = raw
        if let size = shuffleElementSize, size > 1, raw.count % size == 0 {
            shuffled = [UInt8](repeating: 0, count: raw.count)
            shuffled.withUnsafeMutableBytes { out in
                qc_byte_shuffle(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), out.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count / size, size)
            }
        }
        return shuffled.withUnsafeBytes { shuffledBytes in
            if !shuffled.isEmpty { input = shuffledBytes }
            let bound = Int(LZ4_compressBound(Int32(input.count)))
            // Uninitialised: LZ4 writes what it returns, and zeroing 4 MiB per chunk costs a pass.
            return [UInt8](unsafeUninitializedCapacity: bound) { target, count in
                let written = LZ4_compress_default(
                    input.baseAddress!.assumingMemoryBound(to: CChar.self), UnsafeMutableRawPointer(target.baseAddress!).assumingMemoryBound(to: CChar.self),
                    Int32(input.count), Int32(bound))
                precondition(written > 0, "LZ4 failed to compress \(input.count) bytes")
                count = Int(written)
            }
        }
    }

    /// Decodes `stored` into `raw` (which must have exactly the header's raw length).
    static func decode(
        _ stored: UnsafeRawBufferPointer, header: ChunkHeader, into raw: UnsafeMutableRawBufferPointer, place: String
    ) throws {
        precondition(raw.count == header.rawLength)
        switch header.codec {
        case .raw:
            guard stored.count == raw.count else {
                throw CatalogError(.damaged, "\(place): raw chunk holds \(stored.count) bytes, header says \(raw.count)")
            }
            raw.copyMemory(from: stored)
        case .lz4, .shuffleLZ4:
            let shuffle = header.codec == .shuffleLZ4 ? header.dtype.elementSize : 1
            let target = shuffle > 1 ? UnsafeMutableRawBufferPointer.allocate(byteCount: raw.count, alignment: 64) : raw
            defer { if shuffle > 1 { target.deallocate() } }
            let produced = stored.isEmpty ? 0 : LZ4_decompress_safe(
                stored.baseAddress!.assumingMemoryBound(to: CChar.self), target.baseAddress!.assumingMemoryBound(to: CChar.self),
                Int32(stored.count), Int32(raw.count))
            guard produced == Int32(raw.count) else {
                throw CatalogError(.damaged, "\(place): LZ4 payload does not decode to the \(raw.count) bytes the header promises", remedy: "run `quadcat verify` to list the damage")
            }
            if shuffle > 1 {
                qc_byte_unshuffle(
                    target.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    raw.count / shuffle, shuffle)
            }
        }
    }
}
