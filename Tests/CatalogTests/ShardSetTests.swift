import Catalog
import Foundation
import Selectors
import TestSupport
import Testing

/// Shard sets (docs/ARCHITECTURE.md, "Shard sets"): a corpus split into shards selects the single catalog's members, exactly for
/// LESS, RDS, random, GTP and Quad and within 2% of its objective for the GreeDi selectors; bad shards
/// are refused; jobs never read a partial result.
@Suite("Shard sets")
struct ShardSetTests {
    /// One structured pool built as a single catalog and as shard catalogs cut at the given rows.
    final class Split: @unchecked Sendable {
        let directory = TemporaryDirectory("shards")
        let pool: ScalePool
        let single: Catalog
        /// Tests run at once: shard catalogs are built once, under this lock.
        private let lock = NSLock()

        init(rows: Int = 2400, seed: UInt64 = 5) throws {
            var configuration = ScalePool.Configuration()
            configuration.rows = rows
            configuration.dimension = 64
            configuration.checkpoints = 3
            configuration.embeddingDimension = 16
            configuration.validationRows = 40
            configuration.topics = 10
            configuration.seed = seed
            pool = ScalePool(configuration)
            let files = try pool.write(to: directory.file("single"))
            single = try pool.buildCatalog(at: directory.file("single.quadcat"), from: files)
        }

        /// Shard catalogs of rows [cuts[i], cuts[i+1]) (built once per cut list and reused).
        func shards(_ cuts: [Int]) throws -> [URL] {
            lock.lock()
            defer { lock.unlock() }
            return try zip(cuts, cuts.dropFirst()).map { a, b in
                let url = directory.file("shard-\(a)-\(b).quadcat")
                if !FileManager.default.fileExists(atPath: url.path) {
                    let files = try pool.write(to: directory.file("files-\(a)-\(b)"), rows: a..<b)
                    _ = try pool.buildCatalog(at: url, from: files)
                }
                return url
            }
        }

        func set(_ cuts: [Int]) throws -> ShardSet {
            let set = try ShardSet.create(at: directory.file("set-\(cuts.count - 1)-\(UUID().uuidString.prefix(8))"), corpus: "pool")
            try set.add(try shards(cuts))
            return set
        }
    }

    static let split: Split = try! Split()

    static func request(_ selector: SelectorKind, budget: Int = 120, name: String? = nil) -> SelectRequest {
        SelectRequest(corpus: "pool", target: "target", selector: selector, budget: Budget(rows: budget), name: name ?? selector.rawValue)
    }

    static func sharded(_ set: ShardSet, _ request: SelectRequest) throws -> SubsetInfo {
        try LocalEngine(binary: nil).run(try ShardJob.create(set: set, request: request, engine: "test"))
    }

    static let cuts: [[Int]] = [[0, 2400], [0, 500, 1700, 2400], [0, 90, 400, 410, 900, 1500, 2000, 2100, 2400]]

    @Test(arguments: cuts)
    func exactSelectorsGiveTheSingleCatalogsMembersInOrder(cuts: [Int]) throws {
        let set = try Self.split.set(cuts)
        for selector in [SelectorKind.less, .rds, .random, .gtp, .quad] {
            let single = try Self.split.single.select(Self.request(selector, name: "single-\(selector.rawValue)-\(cuts.count)"))
            let expected = try Self.split.single.members(single.reference)
            let sharded = try Self.sharded(set, Self.request(selector))
            let members = try set.head.members(sharded.reference)
            #expect(members.map(\.row) == expected.map(\.row), "\(selector) over \(cuts.count - 1) shards")
            #expect(members.map(\.weight) == expected.map(\.weight), "\(selector) weights")
            #expect(sharded.diagnostics.counters["shards"] == Double(cuts.count - 1))
            if selector == .quad {
                // The sample round, one round per pass of the fit (k-means|| rounds, Lloyd iterations), the assignment.
                let iterations = sharded.diagnostics.counters["kmeansIterations"] ?? 0
                #expect(iterations >= 1 && sharded.diagnostics.counters["rounds"]! >= 3 + iterations)
                // The driver fetched the slices the bandit read (and about as many ahead), not the pool.
                let fetched = sharded.diagnostics.counters["rowsFetched"]!
                print("quad over \(cuts.count - 1) shards: \(Int(fetched)) rows fetched of 2400, \(Int(sharded.diagnostics.counters["rounds"]!)) rounds")
                #expect(fetched >= 120 && fetched < 2400)
                // The shards' caches are gone once the subset is stored.
                let jobs = try FileManager.default.contentsOfDirectory(at: set.root.appendingPathComponent("jobs"), includingPropertiesForKeys: nil)
                #expect(jobs.allSatisfy { !FileManager.default.fileExists(atPath: $0.appendingPathComponent("quad-rows").path) })
                for counter in ["pulls", "acceptedPulls", "tau", "alpha", "radius", "clustersCovered", "unscoredRows"] {
                    #expect(sharded.diagnostics.counters[counter] == single.diagnostics.counters[counter], "\(counter)")
                }
            }
        }
    }

    @Test(arguments: cuts.dropFirst())
    func greediKeepsTheObjective(cuts: [Int]) throws {
        let set = try Self.split.set(cuts)
        let gradients = try Self.split.single.vectors(corpus: "pool", column: "grad", checkpoint: 3)
        let single = try Self.split.single.select(Self.request(.spice, name: "single-spice-\(cuts.count)"))
        let sharded = try Self.sharded(set, Self.request(.spice))
        let f = try SPICE.logDet(of: try set.head.members(sharded.reference).map(\.row), gradients: gradients, alpha: 1)
        let fSingle = try SPICE.logDet(of: try Self.split.single.members(single.reference).map(\.row), gradients: gradients, alpha: 1)
        print("SPICE over \(cuts.count - 1) shards: F = \(f), single catalog F = \(fSingle), ratio \(f / fSingle)")
        #expect(f >= 0.98 * fSingle)
        let dpp = try Self.sharded(set, Self.request(.dpp))
        #expect(dpp.rowCount == 120)
        #expect(dpp.diagnostics.notes.contains { $0.contains("GreeDi") })
    }

    @Test func theRecipeDoesNotDependOnTheSplitAndTheHeadExportsTheShardsRecords() throws {
        let three = try Self.split.set(Self.cuts[1]), eight = try Self.split.set(Self.cuts[2])
        let a = try Self.sharded(three, Self.request(.gtp, name: "gtp-r")), b = try Self.sharded(eight, Self.request(.gtp, name: "gtp-r"))
        #expect(a.recipeHash == b.recipeHash && a.contentHash == b.contentHash)
        // A GreeDi selection depends on the split, and its recipe says so.
        let c = try Self.sharded(three, Self.request(.spice, name: "spice-r")), d = try Self.sharded(eight, Self.request(.spice, name: "spice-r"))
        #expect(c.recipeHash != d.recipeHash)
        // The head exports the shards' records verbatim, in rank order, and compares like a catalog.
        let out = Self.split.directory.file("head.jsonl")
        _ = try three.head.export(ExportRequest(subset: "gtp-r", format: .jsonl, output: out))
        let single = try Self.split.single.select(Self.request(.gtp, name: "gtp-single"))
        let reference = Self.split.directory.file("single.jsonl")
        _ = try Self.split.single.export(ExportRequest(subset: single.reference, format: .jsonl, output: reference))
        #expect(try Data(contentsOf: out) == Data(contentsOf: reference))
        let report = try three.head.compare(["gtp-r", "spice-r"], options: { var o = CompareOptions(); o.labelField = "domain"; return o }())
        #expect(report.entries.count == 2 && report.entries[0].meanLESSScore != nil && report.corpusLabels?.values.reduce(0, +) == 2400)
    }

    @Test func mismatchedShardsAreRefusedAndNothingIsStored() throws {
        let s = Self.split
        let good = try s.shards(Self.cuts[1])
        func expectRefused(_ url: URL, _ words: String) throws {
            let set = try ShardSet.create(at: s.directory.file("refuse-\(UUID().uuidString.prefix(6))"), corpus: "pool")
            try set.add([good[0]])
            let before = try Data(contentsOf: set.root.appendingPathComponent("set.json"))
            #expect {
                try set.add([url])
            } throws: { error in
                let message = (error as? CatalogError)?.description ?? "\(error)"
                return message.contains(words) && message.contains(url.path)
            }
            #expect(try Data(contentsOf: set.root.appendingPathComponent("set.json")) == before)
            #expect(try ShardSet.open(at: set.root).manifest.shards.count == 1)
        }
        // Another projection, another dimension, a missing checkpoint, another target.
        var other = s.pool.configuration
        other.seed = 99
        let otherPool = ScalePool(other)
        let files = try otherPool.write(to: s.directory.file("other"), rows: 500..<900)
        try expectRefused(try otherPool.buildCatalog(at: s.directory.file("other.quadcat"), from: files).root, "projected with")
        var wide = s.pool.configuration
        wide.dimension = 32
        let widePool = ScalePool(wide)
        try expectRefused(try widePool.buildCatalog(at: s.directory.file("wide.quadcat"), from: try widePool.write(to: s.directory.file("wide"), rows: 500..<900)).root, "dimension")
        var shallow = s.pool.configuration
        shallow.checkpoints = 2
        let shallowPool = ScalePool(shallow)
        try expectRefused(try shallowPool.buildCatalog(at: s.directory.file("shallow.quadcat"), from: try shallowPool.write(to: s.directory.file("shallow"), rows: 500..<900)).root, "no column grad@3")
        // Two shards claiming the same rows: the same shard twice, or overlapping slices.
        try expectRefused(good[0], "same documents")
        try expectRefused(try s.shards([400, 700])[0], "is in shard 0")
    }

    @Test func verifyNamesAMissingOrDamagedShard() throws {
        let s = Self.split
        let urls = try zip([0, 800, 1600], [800, 1600, 2400]).map { a, b -> URL in
            let url = s.directory.file("verify-\(a).quadcat")
            _ = try s.pool.buildCatalog(at: url, from: try s.pool.write(to: s.directory.file("verify-files-\(a)"), rows: a..<b))
            return url
        }
        let set = try ShardSet.create(at: s.directory.file("verify-set"), corpus: "pool")
        try set.add(urls)
        #expect(try set.verify().isHealthy)
        // Damage one chunk file of shard 1: verify names the shard.
        let chunks = urls[1].appendingPathComponent("chunks")
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: chunks.path).sorted().first)
        let handle = try FileHandle(forUpdating: chunks.appendingPathComponent(file))
        try handle.seek(toOffset: 200)
        try handle.write(contentsOf: Data([0xFF, 0x00, 0xFF]))
        try handle.close()
        let damaged = try ShardSet.open(at: set.root).verify()
        #expect(!damaged.isHealthy && damaged.damage.allSatisfy { $0.hasPrefix("shard 1 ") })
        // A missing shard.
        try FileManager.default.moveItem(at: urls[2], to: s.directory.file("verify-moved.quadcat"))
        let missing = try ShardSet.open(at: set.root).verify(deep: false)
        #expect(missing.damage.contains { $0.hasPrefix("shard 2 ") && $0.contains("missing") })
        #expect(throws: CatalogError.self) { try Self.sharded(try ShardSet.open(at: set.root), Self.request(.less)) }
    }

    @Test func jobsReadOnlyCompleteResultsAndStepsAreIdempotent() throws {
        let set = try Self.split.set(Self.cuts[1])
        let job = try ShardJob.create(set: set, request: Self.request(.less, name: "idempotent"), engine: "test")
        try job.runStep(shard: 0)
        try job.runStep(shard: 1)
        // A result file being written (a step killed mid-write leaves one) is not a result.
        let round = job.directory.appendingPathComponent("round-1")
        try Data("half a result".utf8).write(to: round.appendingPathComponent(".shard-2.result.999.partial"))
        #expect {
            try job.merge()
        } throws: { error in
            ((error as? CatalogError)?.description ?? "").contains("no result from shard 2")
        }
        // Running a step again rewrites the same result (only its timing line differs).
        let first = try Data(contentsOf: round.appendingPathComponent("shard-0.result"))
        try job.runStep(shard: 0)
        let again = try Data(contentsOf: round.appendingPathComponent("shard-0.result"))
        #expect(first.drop { $0 != 0x0A } == again.drop { $0 != 0x0A })
        try job.runStep(shard: 2)
        guard case .done(let subset) = try job.merge() else { Issue.record("a one-round job ends at its first merge"); return }
        let single = try Self.split.single.select(Self.request(.less, name: "idempotent-single"))
        #expect(try set.head.members(subset.reference).map(\.row) == Self.split.single.members(single.reference).map(\.row))
    }
}
