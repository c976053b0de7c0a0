import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The disk's own read speed, and cold starts: files are dropped from the page cache with
/// posix_fadvise(DONTNEED), which needs no privileges for files the process can open.
enum DiskSpeed {
    /// Drops every regular file under `directory` from the page cache.
    static func evict(directory: URL) {
        for url in files(directory) {
            let fd = open(url.path, O_RDONLY)
            guard fd >= 0 else { continue }
            _ = fdatasync(fd)
            _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
            close(fd)
        }
    }

    /// Sequential read speed in MB/s of the largest file under `directory` (up to `limit` bytes),
    /// evicted from the page cache first.
    static func sequentialRead(directory: URL, limit: Int = 4 << 30) throws -> Double {
        guard let largest = files(directory).max(by: { size($0) < size($1) }) else { return 0 }
        evict(directory: directory)
        let fd = open(largest.path, O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        let chunk = 8 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var total = 0
        let start = DispatchTime.now().uptimeNanoseconds
        while total < limit {
            let n = read(fd, buffer, chunk)
            if n <= 0 { break }
            total += n
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        return Double(total) / seconds / 1e6
    }

    private static func files(_ directory: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.map { directory.appendingPathComponent($0) }
    }

    private static func size(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue ?? 0
    }
}
