import CKernels
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A read-only memory map of a whole segment file. Segment files are immutable, so a mapping stays
/// valid for as long as it is held, even if `gc` unlinks the file meanwhile.
final class MappedSegment: @unchecked Sendable {
    let name: String
    let bytes: UnsafeRawBufferPointer

    init(url: URL, name: String) throws {
        self.name = name
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT {
                throw CatalogError(.damaged, "chunk file \(url.path) is missing", remedy: "run `quadcat verify` to list what is affected")
            }
            throw FileIO.failure("open", url.path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileIO.failure("stat", url.path) }
        let length = Int(info.st_size)
        if length == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = qc_map_readonly(fd, length, 1) else { throw FileIO.failure("mmap", url.path) }
        bytes = UnsafeRawBufferPointer(start: base, count: length)
    }

    deinit {
        if let base = bytes.baseAddress { _ = qc_unmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

/// Mappings of the segment files one catalog handle has read, shared by all its readers.
///
/// Mapping a segment reads it whole (MAP_POPULATE), so a scan can ask for the segments it will need
/// next (``prefetch(_:)``): a background queue maps them while the scan decodes the current one, and
/// the disk stays busy instead of taking turns with the decoding. A reader that asks for a segment
/// being mapped waits for that mapping rather than starting its own.
final class SegmentCache: @unchecked Sendable {
    private let paths: CatalogPaths
    private let condition = NSCondition()
    private var segments: [String: MappedSegment] = [:]
    private var mapping: Set<String> = []
    private let prefetchQueue = DispatchQueue(label: "quadcat.segment-prefetch", qos: .userInitiated)

    init(paths: CatalogPaths) { self.paths = paths }

    func segment(_ name: String) throws -> MappedSegment {
        condition.lock()
        while true {
            if let found = segments[name] {
                condition.unlock()
                return found
            }
            if !mapping.contains(name) { break }
            condition.wait()
        }
        mapping.insert(name)
        condition.unlock()
        let mapped = Result { try MappedSegment(url: paths.chunkFile(name), name: name) }
        condition.lock()
        if case .success(let segment) = mapped { segments[name] = segment }
        mapping.remove(name)
        condition.broadcast()
        condition.unlock()
        return try mapped.get()
    }

    /// Maps the named segments in the background, in order, unless they are mapped or being mapped.
    /// Errors are left for the reader that asks for the segment to meet.
    func prefetch(_ names: [String]) {
        condition.lock()
        let wanted = names.filter { segments[$0] == nil && !mapping.contains($0) }
        condition.unlock()
        guard !wanted.isEmpty else { return }
        prefetchQueue.async {
            for name in wanted { _ = try? self.segment(name) }
        }
    }

    /// The header and stored payload of a chunk, checked against what the index says about it.
    func chunk(_ record: ChunkRecord, dtype: StoredDType, dim: Int) throws -> (header: ChunkHeader, stored: UnsafeRawBufferPointer, segment: MappedSegment) {
        let segment = try segment(record.file)
        // Built only when something is wrong: this runs for every random row access.
        var place: String { "\(paths.chunkFile(record.file).path) at byte \(record.offset)" }
        guard record.offset >= 0, record.offset + ChunkHeader.size <= segment.bytes.count else {
            throw CatalogError(.damaged, "\(place): the file is \(segment.bytes.count) bytes, too short for this chunk", remedy: "run `quadcat verify` to list the damage")
        }
        let header = try ChunkHeader.decode(UnsafeRawBufferPointer(rebasing: segment.bytes[record.offset..<record.offset + ChunkHeader.size]), place: place)
        guard header.dtype == dtype, header.dim == dim, header.rows == record.rowCount, header.codec == record.codec,
              header.rawLength == record.rawLength, header.checksum == record.checksum
        else {
            throw CatalogError(.damaged, "\(place): chunk header disagrees with the index (\(header.dtype.rawValue), \(header.rows) rows, \(header.codec.rawValue))", remedy: "run `quadcat verify` to list the damage")
        }
        let start = record.offset + ChunkHeader.size
        guard start + header.storedLength <= segment.bytes.count else {
            throw CatalogError(.damaged, "\(place): chunk payload runs past the end of the file", remedy: "run `quadcat verify` to list the damage")
        }
        return (header, UnsafeRawBufferPointer(rebasing: segment.bytes[start..<start + header.storedLength]), segment)
    }
}
