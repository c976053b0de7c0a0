import CZlib
import CZstd
import Foundation

/// gzip and zstd writers for fixtures and the benchmark, over the same system zlib and libzstd that
/// quadcat reads with (independent of quadcat's own reading code).
public enum Compression {
    /// gzip (RFC 1952) at `level`; with `memberBytes`, one member per that many input bytes, as
    /// `cat a.gz b.gz` or a parallel writer produces (the members are compressed on all cores).
    public static func gzip(_ data: Data, level: Int32 = 6, memberBytes: Int? = nil) -> Data {
        let piece = max(1, memberBytes ?? data.count)
        let pieces = max(1, (data.count + piece - 1) / piece)
        nonisolated(unsafe) var members = [[UInt8]](repeating: [], count: pieces)
        data.withUnsafeBytes { all in
            nonisolated(unsafe) let all = all
            DispatchQueue.concurrentPerform(iterations: pieces) { index in
                let start = index * piece
                let member = gzipMember(UnsafeRawBufferPointer(rebasing: all[start..<min(all.count, start + piece)]), level: level)
                members[index] = member
            }
        }
        var out = Data()
        for member in members { out.append(contentsOf: member) }
        return out
    }

    private static func gzipMember(_ input: UnsafeRawBufferPointer, level: Int32) -> [UInt8] {
        var stream = z_stream()
        precondition(deflateInit2_(&stream, level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))))
        out.withUnsafeMutableBytes { target in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = UInt32(input.count)
            stream.next_out = target.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = UInt32(target.count)
            precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
        }
        out.removeSubrange(Int(stream.total_out)...)
        return out
    }

    /// zstd at `level`, as `frames` frames one after another (each a slice of the input), compressed
    /// with `threads` libzstd worker threads.
    public static func zstd(_ data: Data, level: Int32 = 3, frames: Int = 1, threads: Int32 = 0) -> Data {
        let context = ZSTD_createCCtx()
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        if threads > 0 { ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, threads) }
        let piece = max(1, (data.count + frames - 1) / max(1, frames))
        var out = Data()
        data.withUnsafeBytes { all in
            var start = 0
            repeat {
                let input = UnsafeRawBufferPointer(rebasing: all[start..<min(all.count, start + piece)])
                var frame = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
                let written = frame.withUnsafeMutableBytes { target in
                    ZSTD_compress2(context, target.baseAddress, target.count, input.baseAddress, input.count)
                }
                precondition(ZSTD_isError(written) == 0, "zstd failed")
                out.append(contentsOf: frame[0..<written])
                start += piece
            } while start < all.count
        }
        return out
    }
}
