import Catalog
import Foundation
import Selectors
import TestSupport
import Testing

/// realbench split into 3 and 8 shards of unequal sizes selects what the single catalog selects
/// (docs/ARCHITECTURE.md, "Shard sets"): the same members in the same order for the exact selectors, at least 98% of SPICE's F,
/// and GreeDi's tree of merges at least 98% of the flat merge's F.
@Suite("Shard sets on realbench", .enabled(if: Fixtures.realbench != nil, "realbench is absent"))
struct RealbenchShardTests {
    @Test(arguments: [[0, 3100, 7000, 12000], [0, 500, 2100, 2300, 5000, 7700, 9100, 11000, 12000]])
    func shardedSelectionsMatchTheSingleCatalog(cuts: [Int]) throws {
        let root = Fixtures.realbench!
        let directory = TemporaryDirectory("realbench-shards")
        let single = try Realbench.build(root, at: directory.file("single.quadcat"))
        let shards = try zip(cuts, cuts.dropFirst()).map { a, b in
            try Realbench.buildShard(root, rows: a..<b, directory: directory.file("files-\(a)"), at: directory.file("shard-\(a).quadcat")).root
        }
        let set = try ShardSet.create(at: directory.file("set"), corpus: "pool")
        try set.add(shards)
        func request(_ selector: SelectorKind) -> SelectRequest {
            SelectRequest(corpus: "pool", target: "python", selector: selector, budget: Budget(rows: 600), name: selector.rawValue)
        }
        for selector in [SelectorKind.less, .random, .gtp, .quad, .rds] {
            let expected = try single.members(try single.select(request(selector)).reference).map(\.row)
            let sharded = try LocalEngine(binary: nil).run(try ShardJob.create(set: set, request: request(selector), engine: "test"))
            #expect(try set.head.members(sharded.reference).map(\.row) == expected, "\(selector) over \(cuts.count - 1) shards")
        }
        let gradients = try single.vectors(corpus: "pool", column: "grad", checkpoint: 4)
        let fSingle = try SPICE.logDet(of: try single.members(try single.select(request(.spice)).reference).map(\.row), gradients: gradients, alpha: 1)
        let sharded = try LocalEngine(binary: nil).run(try ShardJob.create(set: set, request: request(.spice), engine: "test"))
        let f = try SPICE.logDet(of: try set.head.members(sharded.reference).map(\.row), gradients: gradients, alpha: 1)
        print("realbench SPICE over \(cuts.count - 1) shards: F \(f), single \(fSingle), ratio \(f / fSingle)")
        #expect(f >= 0.98 * fSingle)
        guard cuts.count > 4 else { return }
        // A tree of merges of fan-in 2 (8 -> 4 -> 2 -> the driver) keeps 98% of the flat merge's F.
        let tree = try LocalEngine(binary: nil).run(try ShardJob.create(set: set, request: request(.spice), engine: "test", mergeFanIn: 2))
        let fTree = try SPICE.logDet(of: try set.head.members(tree.reference).map(\.row), gradients: gradients, alpha: 1)
        print("realbench SPICE over \(cuts.count - 1) shards, a tree of fan-in 2: F \(fTree), flat merge \(f), ratio \(fTree / f)")
        #expect(tree.diagnostics.counters["mergeLevels"] == 3)
        #expect(fTree >= 0.98 * f)
    }
}
