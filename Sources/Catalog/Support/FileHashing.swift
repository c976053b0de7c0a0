import CKernels
import Foundation

#if canImport(Glibc)
import Glibc
#endif

enum FileHashing {
    /// xxh64 of a whole file, streamed through a 4 MiB buffer; returned as "xxh64:<16 hex digits>".
    static func xxh64(of url: URL) throws -> String {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIO.failure("open", url.path) }
        defer { close(fd) }
        var state = qc_xxh64_state()
        qc_xxh64_init(&state, 0)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress!, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileIO.failure("read", url.path)
            }
            if n == 0 { break }
            qc_xxh64_update(&state, buffer.baseAddress!, n)
        }
        return "xxh64:" + Hashing.hex(qc_xxh64_digest(&state))
    }
}
