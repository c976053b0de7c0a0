import CKernels
import Catalog
import Foundation
import Selectors
import TestSupport
import Testing

/// Every selector reads stored columns in place (docs/ARCHITECTURE.md, "Reading columns"): float16 rows straight from the mapped
/// segments, bfloat16 and int8 rows decoded a block or a row at a time. Whatever the stored precision,
/// the subset must be the one the selector gives on a Float32 copy of the same decoded values.
@Suite("Selectors read stored columns in place")
struct InPlaceReadingTests {
    struct Fixture: @unchecked Sendable {
        let directory: TemporaryDirectory
        let catalog: Catalog
        let pool: ScalePool
        let files: ScalePool.Files
    }

    /// A structured pool (topics, a target topic in subtasks, planted duplicates), its gradients
    /// attached three times: as given (float16), as bfloat16 and as int8.
    static let fixture: Fixture = {
        var configuration = ScalePool.Configuration()
        configuration.rows = 3000
        configuration.dimension = 96
        configuration.checkpoints = 2
        configuration.embeddingDimension = 24
        configuration.validationRows = 48
        configuration.topics = 12
        let directory = TemporaryDirectory("in-place")
        let pool = ScalePool(configuration)
        let files = try! pool.write(to: directory.file("files"))
        let catalog = try! Catalog.create(at: directory.file("pool.quadcat"))
        _ = try! catalog.ingest(corpus: "pool", files: [files.corpus])
        for c in 1...configuration.checkpoints {
            for (column, precision) in [("grad", StoragePrecision.asGiven), ("gradbf", .bf16), ("grad8", .int8)] {
                var request = AttachRequest(corpus: "pool", column: column, file: files.gradients(checkpoint: c))
                request.checkpoint = c
                request.learningRate = configuration.learningRates[c - 1]
                request.precision = precision
                _ = try! catalog.attach(request)
                var target = TargetColumnRequest(target: "target", file: files.validationGradients(checkpoint: c))
                target.column = column
                target.checkpoint = c
                if c == 1 && column == "grad" { target.subtasksFile = files.validationSubtasks }
                _ = try! catalog.addTargetColumn(target)
            }
        }
        _ = try! catalog.attach(AttachRequest(corpus: "pool", column: "emb", file: files.embeddings))
        return Fixture(directory: directory, catalog: catalog, pool: pool, files: files)
    }()

    /// The selector's inputs as Float32 copies of the stored (decoded) columns.
    struct Copies {
        var checkpoints: [CheckpointGradients]
        var subtasks: [Int]
        var embeddings: Matrix
    }

    static func copies(_ column: String) throws -> Copies {
        let f = fixture
        let checkpoints = try (1...f.pool.configuration.checkpoints).map { c -> CheckpointGradients in
            let stored = try f.catalog.vectors(corpus: "pool", column: column, checkpoint: c)
            let copy = MaskedMatrix(try stored.materialize(), usableRows: stored.usableRows)
            let target = try Fixtures.loadMatrix(f.files.validationGradients(checkpoint: c))
            return CheckpointGradients(checkpoint: c, learningRate: f.pool.configuration.learningRates[c - 1], pool: copy, target: target)
        }
        let labels = try String(contentsOf: f.files.validationSubtasks, encoding: .utf8).split(separator: "\n").map(String.init)
        let names = Set(labels).sorted()
        let embeddings = try f.catalog.vectors(corpus: "pool", column: "emb").materialize()
        return Copies(checkpoints: checkpoints, subtasks: labels.map { names.firstIndex(of: $0)! }, embeddings: embeddings)
    }

    static func stored(_ selector: SelectorKind, column: String, budget: Int) throws -> [Int] {
        var request = SelectRequest(corpus: "pool", target: "target", selector: selector, budget: Budget(rows: budget), name: "t-\(selector.rawValue)-\(column)")
        request.gradientColumn = column
        let subset = try fixture.catalog.select(request)
        return try fixture.catalog.members(subset.reference).map(\.row)
    }

    @Test(arguments: ["grad", "gradbf", "grad8"])
    func everySelectorPicksTheSameRowsInPlaceAsFromAFloat32Copy(column: String) throws {
        let copies = try Self.copies(column)
        let budget = 150
        let last = copies.checkpoints.last!

        let less = try LESS.select(checkpoints: copies.checkpoints, targetSubtasks: copies.subtasks, budget: budget)
        #expect(try Self.stored(.less, column: column, budget: budget) == less.rows)

        let gtp = try GTP.select(checkpoints: copies.checkpoints, budget: budget, parameters: GTP.Parameters())
        #expect(try Self.stored(.gtp, column: column, budget: budget) == gtp.rows)

        let spice = try SPICE.select(gradients: last.pool, budget: budget, parameters: SPICE.Parameters())
        #expect(try Self.stored(.spice, column: column, budget: budget) == spice.rows)

        let quad = try Quad.select(gradients: last.pool, target: last.target, embeddings: copies.embeddings, budget: budget, parameters: Quad.Parameters())
        #expect(try Self.stored(.quad, column: column, budget: budget) == quad.rows)
        #expect(quad.rows.count == budget)
    }

    @Test func rowPointersHandOutStoredFloat16RowsInPlaceAndDecodeTheRest() throws {
        let f = Self.fixture
        let rows = [2999, 0, 1500, 17, 17]
        for column in ["grad", "gradbf", "grad8"] {
            let stored = try f.catalog.vectors(corpus: "pool", column: column, checkpoint: 1)
            let expected = try stored.gather(rows: rows)
            try rows.withUnsafeBufferPointer { list in
                try stored.withRowPointers(list) { pointers, format in
                    #expect(format == (column == "grad" ? .float16 : .float32))
                    for (i, _) in rows.enumerated() {
                        var values = [Float](repeating: 0, count: stored.dimension)
                        switch format {
                        case .float32: values = Array(UnsafeBufferPointer(start: pointers[i].assumingMemoryBound(to: Float.self), count: stored.dimension))
                        case .float16: qc_f16_to_f32(pointers[i].assumingMemoryBound(to: UInt16.self), &values, stored.dimension)
                        }
                        #expect(values == expected.row(i))
                    }
                }
            }
            #expect(throws: CatalogError.self) { try [3000].withUnsafeBufferPointer { try stored.withRowPointers($0) { _, _ in } } }
        }
    }
}
