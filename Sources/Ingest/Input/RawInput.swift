import CKernels
import Foundation

#if canImport(Glibc)
import Glibc
private let systemRead = Glibc.read
#elseif canImport(Darwin)
import Darwin
private let systemRead = Darwin.read
#endif

/// The bytes of an input as stored (compressed or not), read front to back once.
///
/// It counts and hashes (xxHash64) every byte it hands out, so the catalog can record the input's
/// hash without reading it a second time, and progress can be told in on-disk bytes.
final class RawInput {
    let input: JSONLInput
    /// The size of a regular file (standard input redirected from a file included); nil for a pipe.
    let size: Int?
    /// Bytes read so far.
    private(set) var consumed = 0

    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private var hasher = qc_xxh64_state()

    init(_ input: JSONLInput) throws(IngestError) {
        self.input = input
        switch input {
        case .standardInput:
            descriptor = STDIN_FILENO
            ownsDescriptor = false
        case .file(let url):
            var fd: Int32
            repeat { fd = open(url.path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
            guard fd >= 0 else { throw IngestError.system(url.path, "open the file", errno: errno) }
            descriptor = fd
            ownsDescriptor = true
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let code = errno
            if ownsDescriptor { close(descriptor) }
            throw IngestError.system(input.displayName, "inspect the input", errno: code)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            if ownsDescriptor { close(descriptor) }
            throw IngestError(file: input.displayName, problem: "this is a directory, not a file", remedy: "Give the path of a JSONL file.")
        }
        size = (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : nil
        if size != nil {
            #if os(Linux)
            _ = posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
            #endif
        }
        qc_xxh64_init(&hasher, 0)
    }

    deinit { if ownsDescriptor { close(descriptor) } }

    /// Reads up to `count` bytes (one system call, retried when interrupted); 0 only at the end.
    func read(into destination: UnsafeMutableRawPointer, count: Int) throws(IngestError) -> Int {
        precondition(count > 0)
        while true {
            let n = systemRead(descriptor, destination, count)
            if n >= 0 {
                qc_xxh64_update(&hasher, destination, n)
                consumed += n
                return n
            }
            if errno != EINTR {
                throw IngestError.system(input.displayName, "read the input", errno: errno, location: "byte \(consumed)")
            }
        }
    }

    /// Reads until `count` bytes or the end of the input; returns how many were read.
    func readFully(into destination: UnsafeMutableRawPointer, count: Int) throws(IngestError) -> Int {
        var done = 0
        while done < count {
            let n = try read(into: destination + done, count: count - done)
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// xxHash64 of the bytes read so far (of the whole input, once it has been read to the end).
    var hash: UInt64 {
        var copy = hasher
        return qc_xxh64_digest(&copy)
    }
}
