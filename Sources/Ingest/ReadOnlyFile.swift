#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file opened for positional reads (`pread`), closed when the object goes away.
final class ReadOnlyFile: @unchecked Sendable {
    /// The path as given, for error messages.
    let path: String
    let descriptor: Int32
    /// Size in bytes when opened.
    let size: Int

    init(path: String) throws(IngestError) {
        self.path = path
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw IngestError.system(path, "open the file", errno: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw IngestError.system(path, "inspect the file", errno: code)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
            throw IngestError(
                file: path, problem: isDirectory ? "this is a directory, not a file" : "this is not a regular file",
                remedy: "Give the path of a regular file.")
        }
        descriptor = fd
        size = Int(info.st_size)
    }

    deinit { close(descriptor) }

    /// Tells the kernel the file will be read front to back (more read-ahead).
    func adviseSequential() {
        #if os(Linux)
        _ = posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        #endif
    }

    /// Reads up to `count` bytes at `offset` into `destination`, retrying interrupted and short reads;
    /// returns fewer than `count` only at the end of the file.
    func read(into destination: UnsafeMutableRawPointer, count: Int, at offset: Int) throws(IngestError) -> Int {
        var done = 0
        while done < count {
            let n = pread(descriptor, destination + done, count - done, off_t(offset + done))
            if n > 0 {
                done += n
            } else if n == 0 {
                break
            } else if errno != EINTR {
                throw IngestError.system(path, "read the file", errno: errno, location: "byte \(offset + done)")
            }
        }
        return done
    }

    /// Reads exactly `count` bytes at `offset` into a new array, or fewer at the end of the file.
    func readBytes(count: Int, at offset: Int) throws(IngestError) -> [UInt8] {
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        let result = bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(IngestError) -> Int in try read(into: buffer.baseAddress!, count: count, at: offset) }
        }
        let got = try result.get()
        bytes.removeLast(count - got)
        return bytes
    }
}
