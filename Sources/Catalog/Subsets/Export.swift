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

/// `export`: write a subset for a training job.
public struct ExportRequest: Sendable {
    public var subset: String
    public var format: ExportFormat
    /// nil: standard output (jsonl, ids, npy). mds needs a directory.
    public var output: URL?
    /// Add the member's score as a field (jsonl, mds) or write FILE.scores.npy (npy).
    public var scoreField: String?
    /// Add the member's weight (GTP's row weight; 1 for other selectors) likewise.
    public var weightField: String?
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
    /// Rows of records read per batch when exporting: bounded memory whatever the subset size.
    static let exportBatchRows = 65_536

    /// Writes a subset in rank order (DESIGN §1 `export`), streaming in batches.
    public func export(_ request: ExportRequest) throws -> ExportReport {
        let (subsetInfo, corpus, records) = try database.read { db -> (SubsetInfo, CorpusRow, StoredArray) in
            let row = try subsetRow(request.subset, db)
            let corpus = try CorpusRow.fetchOne(db, key: row.corpusId)!
            return (try info(of: row, db), corpus, try ArrayIndex.load(corpus.recordsArrayId, db))
        }
        let members = try self.members(subsetInfo.reference)
        let decoder = ChunkDecoder(cache: segments, array: records)
        var bytes = 0
        let destination = request.output?.path ?? "-"
        switch request.format {
        case .jsonl, .ids:
            let sink = try OutputSink(request.output)
            let ids = request.format == .ids
            for batch in stride(from: 0, to: members.count, by: Self.exportBatchRows) {
                let slice = Array(members[batch..<min(members.count, batch + Self.exportBatchRows)])
                var out: [UInt8] = []
                if ids {
                    for id in try externalIDs(corpus: corpus.name, rows: slice.map(\.row)) { out += Array(id.utf8) + [0x0A] }
                } else {
                    for (member, record) in zip(slice, try decoder.records(rows: slice.map(\.row))) {
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
            try NpyWriter.write(url: output, int64s: members.map { Int64($0.row) })
            bytes = FileIO.fileSize(output) ?? 0
            for (field, values) in [(request.scoreField, members.map(\.score)), (request.weightField, members.map(\.weight))] {
                guard let field else { continue }
                let url = output.deletingPathExtension().appendingPathExtension("\(field).npy")
                try NpyWriter.write(url: url, floats: values.map { Float($0) })
                bytes += FileIO.fileSize(url) ?? 0
            }
        case .mds:
            guard let output = request.output else {
                throw CatalogError(.invalidRequest, "mds export needs --out DIRECTORY")
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
                for (i, record) in try decoder.records(rows: slice.map(\.row)).enumerated() {
                    var values: [String: MDSWriter.Value] = [
                        "id": .str(Array(ids[i].utf8)), "text": .str(try Self.text(of: record, field: corpus.textField)),
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

    static func extraFields(_ member: Member, _ request: ExportRequest) -> [(name: String, value: Double)] {
        var fields: [(name: String, value: Double)] = []
        if let field = request.scoreField { fields.append((field, member.score)) }
        if let field = request.weightField { fields.append((field, member.weight)) }
        return fields
    }

    /// The text field of a stored record, as UTF-8.
    static func text(of record: [UInt8], field: String) throws -> [UInt8] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(record)) as? [String: Any], let text = object[field] as? String else {
            throw CatalogError(.damaged, "a stored record has no text field '\(field)'", remedy: "run `quadcat verify`")
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

    /// Writes to `url` through a temporary file renamed into place on close, or to standard output.
    init(_ url: URL?) throws {
        if let url {
            let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
                throw CatalogError(.io, "cannot create \(temporary.path)")
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

    func write(_ bytes: [UInt8]) throws {
        try handle.write(contentsOf: bytes)
    }

    func close() throws {
        guard ownsHandle, let temporary, let final else { return }
        try handle.synchronize()
        try handle.close()
        try FileIO.rename(temporary, to: final)
    }
}
