import CKernels
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// POSIX file helpers with errors that say which file and what failed.
enum FileIO {
    static func errorMessage(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    static func failure(_ action: String, _ path: String, code: Int32 = errno) -> CatalogError {
        CatalogError(.io, "cannot \(action) \(path): \(errorMessage(code))")
    }

    /// Writes all of `bytes` at the current position, retrying short writes.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("write to", path)
            }
            done += n
        }
    }

    /// Reads exactly `buffer.count` bytes at `offset`; a short file is an error.
    static func readExactly(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("read", path)
            }
            if n == 0 {
                throw CatalogError(.damaged, "\(path) ends at byte \(offset + done), expected at least \(offset + buffer.count) bytes")
            }
            done += n
        }
    }

    static func fsync(_ fd: Int32, path: String) throws {
        while Glibc.fsync(fd) != 0 {
            if errno != EINTR { throw failure("fsync", path) }
        }
    }

    /// fsyncs a directory so that renames and creations in it are durable.
    static func syncDirectory(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw failure("open directory", url.path) }
        defer { close(fd) }
        try fsync(fd, path: url.path)
    }

    static func rename(_ from: URL, to: URL) throws {
        guard Glibc.rename(from.path, to.path) == 0 else {
            throw failure("rename \(from.path) to", to.path)
        }
    }

    static func fileSize(_ url: URL) -> Int? {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }
}
