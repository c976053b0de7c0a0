import Foundation
import GRDB
import Ingest
import Selectors

/// File formats `export` writes.
public enum ExportFormat: String, CaseIterable, Codable, Sendable {
    /// The original records, verbatim, one per line, in rank order.
    case jsonl
    /// External ids, one per line, in rank order.
    case ids
    /// A 1-D int64 NumPy array of row numbers, in rank order.
    case npy
    /// A MosaicML streaming (MDS) directory: index.json and shards, columns id, text, record, rank.
    case mds
}

/// How exported weights are scaled.
public enum WeightScale: String, CaseIterable, Codable, Sendable {
    /// As the selector gave them (GTP: the norms of the fitted non-negative coefficients; relative).
    case relative
    /// Divided by their mean over the subset, so they average 1: what a trainer's per-example loss
    /// weights want (the loss keeps its scale; the order of the rows' weights is unchanged).
    case normalized
}

/// `export`: write a subset for a training job.
public struct ExportRequest: Sendable {
    public var subset: String
    public var format: ExportFormat
    /// nil: standard output (jsonl, ids). npy needs a file, mds a directory.
    public var output: URL?
    /// Add the member's score as a field of this name (jsonl, mds), or write FILE.NAME.npy (npy).
    public var scoreField: String?
    /// Add the member's weight (GTP's row weight; 1 for other selectors) likewise.
    public var weightField: String?
    /// How the weights are scaled (relative by default).
    public var weightScale = WeightScale.relative
    /// The names of the fields the export adds to each record (score, then weight).
    var addedFieldNames: [String] { [scoreField, weightField].compactMap { $0 } }
    /// Largest MDS shard in bytes (streaming's `size_limit`; default 64 MiB).
    public var mdsShardBytes = 1 << 26

    public init(subset: String, format: ExportFormat, output: URL?) {
        self.subset = subset
        self.format = format
        self.output = output
    }
}

public struct ExportReport: Codable, Sendable {
    public var subset: String
    public var format: ExportFormat
    public var rows: Int
    public var bytes: Int
    public var output: String
}

extension Catalog {
    /// The members with their weights divided by the mean weight (mean 1; unchanged when the mean is 0).
    static func normalizingWeights(_ members: [Member]) -> [Member] {
        guard !members.isEmpty else { return members }
        let mean = members.reduce(0) { $0 + $1.weight } / Double(members.count)
        guard mean > 0, mean.isFinite else { return members }
        return members.map { member in
            var scaled = member
            scaled.weight = member.weight / mean
            return scaled
        }
    }

    /// Rows of records read per batch when exporting: bounded memory whatever the subset size (8,192
    /// records of 10 KB are 80 MB, held once as records and once as output).
    static let exportBatchRows = 8192

    /// Writes a subset in rank order (`quadcat export`), streaming in batches.
    public func export(_ request: ExportRequest) throws -> ExportReport {
        let (subsetInfo, corpus, records) = try database.read { db -> (SubsetInfo, CorpusRow, StoredArray) in
            let row = try subsetRow(request.subset, db)
            let corpus = try CorpusRow.fetchOne(db, key: row.corpusId)!
            return (try info(of: row, db), corpus, try ArrayIndex.load(corpus.recordsArrayId, db))
        }
        try Self.checkExtraFieldNames(request, corpus: corpus)
        var members = try self.members(subsetInfo.reference)
        if request.weightScale == .normalized { members = Self.normalizingWeights(members) }
        let decoder = ChunkDecoder(cache: segments, array: records)
        // A shard set's head reads its records from the shards.
        let readRecords: ([Int]) throws -> [[UInt8]] = { rows in
            try self.sharding.set(for: corpus.name)?.records(rows: rows) ?? decoder.records(rows: rows)
        }
        var bytes = 0
        let destination = request.output?.path ?? "-"
        switch request.format {
        case .jsonl, .ids:
            let sink = try OutputSink(request.output)
            let ids = request.format == .ids
            let added = request.addedFieldNames
            for batch in stride(from: 0, to: members.count, by: Self.exportBatchRows) {
                let slice = Array(members[batch..<min(members.count, batch + Self.exportBatchRows)])
                var out: [UInt8] = []
                if ids {
                    for id in try externalIDs(corpus: corpus.name, rows: slice.map(\.row)) { out += Array(id.utf8) + [0x0A] }
                } else {
                    for (member, record) in zip(slice, try readRecords(slice.map(\.row))) {
                        if let clash = added.first(where: { RecordFields.mayHaveKey($0, record) }) {
                            throw CatalogError(
                                .invalidRequest, "record of row \(member.row) already has a field named '\(clash)'",
                                remedy: "name the added field something else (--score-field, --weight-field)")
                        }
                        out += RecordFields.appending(Self.extraFields(member, request), to: record) + [0x0A]
                    }
                }
                try sink.write(out)
                bytes += out.count
            }
            try sink.close()
        case .npy:
            guard let output = request.output else {
                throw CatalogError(.invalidRequest, "npy export needs --out FILE.npy")
            }
            // Every file is written beside its destination and renamed into place once all are complete.
            var staged: [(final: URL, temporary: URL)] = []
            defer { for file in staged { try? FileManager.default.removeItem(at: file.temporary) } }
            func stage(_ url: URL, _ write: (URL) throws -> Void) throws {
                try OutputSink.checkDestination(url)
                staged.append((url, OutputSink.temporary(for: url)))
                try write(staged[staged.count - 1].temporary)
            }
            try stage(output) { try NpyWriter.write(url: $0, int64s: members.map { Int64($0.row) }) }
            for (field, values) in [(request.scoreField, members.map(\.score)), (request.weightField, members.map(\.weight))] {
                guard let field else { continue }
                try stage(output.deletingPathExtension().appendingPathExtension("\(field).npy")) { try NpyWriter.write(url: $0, floats: values.map { Float($0) }) }
            }
            for file in staged {
                try FileIO.rename(file.temporary, to: file.final)
                bytes += FileIO.fileSize(file.final) ?? 0
            }
        case .mds:
            guard let output = request.output else {
                throw CatalogError(.invalidRequest, "mds export needs --out DIRECTORY")
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: output.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                throw CatalogError(.invalidRequest, "\(output.path) is a file; an MDS dataset is a directory", remedy: "give a new directory with --out")
            }
            if let existing = try? FileManager.default.contentsOfDirectory(atPath: output.path), !existing.isEmpty {
                throw CatalogError(.invalidRequest, "\(output.path) exists and is not empty", remedy: "give a new directory for the MDS dataset")
            }
            var columns: [String: MDSWriter.Encoding] = ["id": .str, "text": .str, "record": .str, "rank": .int]
            if let field = request.scoreField { columns[field] = .float64 }
            if let field = request.weightField { columns[field] = .float64 }
            var writer = try MDSWriter(directory: output, columns: columns, sizeLimit: request.mdsShardBytes)
            for batch in stride(from: 0, to: members.count, by: Self.exportBatchRows) {
                let slice = Array(members[batch..<min(members.count, batch + Self.exportBatchRows)])
                let ids = try externalIDs(corpus: corpus.name, rows: slice.map(\.row))
                for (i, record) in try readRecords(slice.map(\.row)).enumerated() {
                    var values: [String: MDSWriter.Value] = [
                        "id": .str(Array(ids[i].utf8)), "text": .str(try Self.text(of: record, corpus: corpus)),
                        "record": .str(record), "rank": .int(Int64(batch + i)),
                    ]
                    if let field = request.scoreField { values[field] = .float64(slice[i].score) }
                    if let field = request.weightField { values[field] = .float64(slice[i].weight) }
                    try writer.write(values)
                }
            }
            try writer.finish()
            bytes = writer.totalBytes
        }
        return ExportReport(subset: subsetInfo.reference, format: request.format, rows: members.count, bytes: bytes, output: destination)
    }

    /// Added field names are plain identifiers, distinct from each other and from the fields every
    /// record or MDS sample already has.
    static func checkExtraFieldNames(_ request: ExportRequest, corpus: CorpusRow) throws {
        let names = request.addedFieldNames
        let reserved = Set([corpus.idField, corpus.textField] + (request.format == .mds ? ["id", "text", "record", "rank"] : []))
        for name in names {
            let plain = !name.isEmpty && name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
            guard plain else {
                throw CatalogError(.invalidRequest, "the field name '\(name)' is not a plain name", remedy: "use letters, digits, '_', '-' or '.'")
            }
            guard !reserved.contains(name) else {
                throw CatalogError(.invalidRequest, "the field name '\(name)' is already taken by the export (\(reserved.sorted().joined(separator: ", ")))", remedy: "choose another name for the added field")
            }
        }
        if names.count == 2, names[0] == names[1] {
            throw CatalogError(.invalidRequest, "the score and weight fields are both named '\(names[0])'", remedy: "give them different names")
        }
    }

    static func extraFields(_ member: Member, _ request: ExportRequest) -> [(name: String, value: Double)] {
        var fields: [(name: String, value: Double)] = []
        if let field = request.scoreField { fields.append((field, member.score)) }
        if let field = request.weightField { fields.append((field, member.weight)) }
        return fields
    }

    /// The text field of a stored record, as UTF-8, read with the parser that ingested it.
    static func text(of record: [UInt8], corpus: CorpusRow) throws -> [UInt8] {
        let options = JSONLOptions(idField: corpus.idField, textField: corpus.textField)
        guard let text = record.withUnsafeBytes({ JSONLReader.text(of: $0, options: options) }) else {
            throw CatalogError(.damaged, "a stored record of corpus '\(corpus.name)' has no text field '\(corpus.textField)'", remedy: "run `quadcat verify`")
        }
        return Array(text.utf8)
    }
}

/// A file or standard output, written in large blocks.
final class OutputSink {
    private let handle: FileHandle
    private let ownsHandle: Bool
    private let temporary: URL?
    private let final: URL?
    private var closed = false

    /// Writes to `url` through a temporary file renamed into place on close, or to standard output.
    /// A sink dropped before `close` (an error part way) removes its temporary file.
    init(_ url: URL?) throws {
        if let url {
            try Self.checkDestination(url)
            let temporary = Self.temporary(for: url)
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
                throw CatalogError(.io, "cannot write \(url.path): creating a file in \(url.deletingLastPathComponent().path) failed (\(String(cString: strerror(errno))))")
            }
            handle = try FileHandle(forWritingTo: temporary)
            ownsHandle = true
            self.temporary = temporary
            final = url
        } else {
            handle = FileHandle.standardOutput
            ownsHandle = false
            temporary = nil
            final = nil
        }
    }

    deinit {
        if ownsHandle, !closed, let temporary {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporary)
        }
    }

    /// The hidden file an output is written to before it is renamed into place.
    static func temporary(for url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
    }

    /// Refuses a destination whose directory is missing or which is itself a directory.
    static func checkDestination(_ url: URL) throws {
        var isDirectory: ObjCBool = false
        let parent = url.deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: parent.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CatalogError(.notFound, "cannot write \(url.path): the directory \(parent.path) does not exist", remedy: "create it first, or give another --out")
        }
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CatalogError(.invalidRequest, "cannot write \(url.path): it is a directory", remedy: "give a file name with --out")
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try handle.write(contentsOf: bytes)
    }

    func close() throws {
        guard ownsHandle, let temporary, let final else { return }
        try handle.synchronize()
        try handle.close()
        try FileIO.rename(temporary, to: final)
        closed = true
    }
}
