import CKernels
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where a written chunk lives, as recorded in the `chunk` table.
struct ChunkRecord: Sendable, Equatable {
    var seq: Int
    var firstRow: Int
    var rowCount: Int
    var file: String
    var offset: Int
    var length: Int
    var codec: ChunkCodec
    var rawLength: Int
    var checksum: UInt64
}

/// Appends chunks to one segment file in staging/.
final class SegmentWriter {
    let name: String
    let url: URL
    private var fd: Int32
    private(set) var size = 0
    private var writtenBackTo = 0
    /// Start kernel write-back every this many bytes, so the final fsync has little left.
    private static let writebackStride = 32 << 20

    init(paths: CatalogPaths) throws {
        name = CatalogPaths.newSegmentName()
        url = paths.stagingFile(name)
        fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIO.failure("create", url.path) }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Writes header + payload + padding; returns the chunk's offset and padded length.
    func append(header: ChunkHeader, payload: UnsafeRawBufferPointer) throws -> (offset: Int, length: Int) {
        let offset = size
        let headerBytes = header.encoded()
        try headerBytes.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: url.path) }
        try FileIO.writeAll(fd, payload, path: url.path)
        let padding = header.paddedLength - ChunkHeader.size - payload.count
        if padding > 0 {
            let zeros = [UInt8](repeating: 0, count: padding)
            try zeros.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: url.path) }
        }
        size += header.paddedLength
        if size - writtenBackTo >= Self.writebackStride {
            _ = qc_start_writeback(fd, Int64(writtenBackTo), Int64(size - writtenBackTo))
            writtenBackTo = size
        }
        return (offset, header.paddedLength)
    }

    /// Makes the file durable and closes it.
    func seal() throws {
        try FileIO.fsync(fd, path: url.path)
        close(fd)
        fd = -1
    }
}

/// The files one write operation creates, and the commit protocol around them (docs/FORMAT.md, "The commit protocol"):
/// write to staging/, fsync, rename into chunks/, fsync the directory; the caller then commits the
/// SQLite transaction that references the files.
final class StagingArea {
    let paths: CatalogPaths
    private var current: SegmentWriter?
    private var closed: [String] = []
    private var published: [String] = []
    /// A segment file is closed and a new one started past this size.
    static let segmentLimit = 1 << 30

    init(paths: CatalogPaths) { self.paths = paths }

    /// Appends one encoded chunk; returns its file and placement.
    func append(header: ChunkHeader, payload: UnsafeRawBufferPointer) throws -> (file: String, offset: Int, length: Int) {
        if let segment = current, segment.size + ChunkHeader.size + payload.count > Self.segmentLimit, segment.size > 0 {
            try segment.seal()
            closed.append(segment.name)
            current = nil
        }
        if current == nil { current = try SegmentWriter(paths: paths) }
        let (offset, length) = try current!.append(header: header, payload: payload)
        return (current!.name, offset, length)
    }

    /// Closes (fsyncs) every segment and moves them into chunks/; returns their names.
    @discardableResult
    func publish() throws -> [String] {
        if let segment = current {
            try segment.seal()
            closed.append(segment.name)
            current = nil
        }
        CrashPoint.afterStaging.reach()
        for name in closed {
            try FileIO.rename(paths.stagingFile(name), to: paths.chunkFile(name))
            published.append(name)
        }
        closed.removeAll()
        if !published.isEmpty {
            try FileIO.syncDirectory(paths.chunks)
            try FileIO.syncDirectory(paths.staging)
        }
        CrashPoint.afterPublish.reach()
        return published
    }

    /// Best-effort removal of everything this operation wrote, for a failed operation (files that
    /// nothing references are garbage either way; removing them now saves a `gc`).
    func abandon() {
        if let segment = current { unlink(segment.url.path) }
        current = nil
        for name in closed { unlink(paths.stagingFile(name).path) }
        for name in published { unlink(paths.chunkFile(name).path) }
    }

    /// Removes the staging file of a segment that was never closed (after `current` was dropped).
    deinit {
        if let segment = current { unlink(segment.url.path) }
    }
}
