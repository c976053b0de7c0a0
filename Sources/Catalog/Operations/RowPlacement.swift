import CKernels
import Foundation
import GRDB
import Ingest

/// A block of a column file's rows, placed in corpus row order: a ``MatrixBlock`` whose row numbers
/// are corpus rows, plus the rows the file does not cover (stored as zeros).
struct PlacedBlock {
    let rows: MatrixBlock
    /// Corpus rows in this block that the file does not cover.
    let absentRows: [Int]

    var firstRow: Int { rows.firstRow }
    var rowCount: Int { rows.rowCount }
    var bytes: UnsafeRawBufferPointer { rows.bytes }
}

/// Feeds a column file's rows in corpus row order. Either the file covers every document (file row i
/// is document row i), or an ids file names the document of each file row and the rest are absent.
struct RowPlacement {
    let source: MatrixFile
    let corpusRows: Int
    /// For a partial column: the file row of each corpus row, or -1.
    let fileRowOfCorpusRow: [Int32]?
    /// Rows per block: about 4 MiB of file data.
    let blockRows: Int

    init(request: AttachRequest, source: MatrixFile, corpus: CorpusRow, _ db: Database) throws {
        self.source = source
        corpusRows = corpus.rowCount
        blockRows = max(1, (4 << 20) / max(1, source.rowByteCount))
        let path = request.file.path
        guard let idsFile = request.idsFile else {
            guard source.rowCount == corpus.rowCount else {
                throw CatalogError(
                    .invalidRequest, "\(path) has \(source.rowCount) rows, corpus '\(corpus.name)' has \(corpus.rowCount)",
                    remedy: "row i of the file must be document row i; for a column covering only some documents pass --ids FILE naming each row's document id")
            }
            fileRowOfCorpusRow = nil
            return
        }
        let ids: [String]
        do { ids = try readLineList(idsFile) } catch let error as IngestError {
            throw CatalogError(.invalidRequest, error.description)
        }
        guard ids.count == source.rowCount else {
            throw CatalogError(.invalidRequest, "\(idsFile.path) names \(ids.count) ids, \(path) has \(source.rowCount) rows", remedy: "give one id per row of the file")
        }
        var map = [Int32](repeating: -1, count: corpus.rowCount)
        let lookup = try db.cachedStatement(sql: "SELECT row FROM document WHERE corpus_id = ? AND external_id = ?")
        for (fileRow, id) in ids.enumerated() {
            guard let row = try Int.fetchOne(lookup, arguments: [corpus.id!, id]) else {
                throw CatalogError(.notFound, "\(idsFile.path): line \(fileRow + 1): id '\(id)' is not in corpus '\(corpus.name)'", remedy: "every id must name an ingested document")
            }
            guard map[row] < 0 else {
                throw CatalogError(.invalidRequest, "\(idsFile.path): line \(fileRow + 1): id '\(id)' also appears on line \(map[row] + 1)", remedy: "each document may have one vector")
            }
            map[row] = Int32(fileRow)
        }
        fileRowOfCorpusRow = map
    }

    func fileRow(forCorpusRow row: Int) -> Int {
        fileRowOfCorpusRow.map { Int($0[row]) } ?? row
    }

    /// Calls `body` with consecutive blocks covering every corpus row, and feeds the file's data bytes,
    /// in file order, to `hasher`.
    func forEachBlock(hasher: inout qc_xxh64_state, _ body: (PlacedBlock) throws -> Void) throws {
        guard let map = fileRowOfCorpusRow else {
            try source.forEachBlock(rowsPerBlock: blockRows) { block in
                qc_xxh64_update(&hasher, block.bytes.baseAddress, block.bytes.count)
                try body(PlacedBlock(rows: block, absentRows: []))
            }
            return
        }
        try source.forEachBlock(rowsPerBlock: blockRows) { block in
            qc_xxh64_update(&hasher, block.bytes.baseAddress, block.bytes.count)
        }
        let rowBytes = source.rowByteCount
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: blockRows * rowBytes, alignment: 64)
        defer { buffer.deallocate() }
        var first = 0
        while first < corpusRows {
            let count = min(blockRows, corpusRows - first)
            var absent: [Int] = []
            for i in 0..<count {
                let target = UnsafeMutableRawBufferPointer(rebasing: buffer[i * rowBytes..<(i + 1) * rowBytes])
                let fileRow = Int(map[first + i])
                if fileRow < 0 {
                    target.initializeMemory(as: UInt8.self, repeating: 0)
                    absent.append(first + i)
                } else {
                    try source.readRows(fileRow..<fileRow + 1, into: target)
                }
            }
            let block = MatrixBlock(
                firstRow: first, rowCount: count, dimension: source.dimension, elementType: source.elementType,
                bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<count * rowBytes]))
            try body(PlacedBlock(rows: block, absentRows: absent))
            first += count
        }
    }
}
