import Catalog
import Foundation
import Selectors
import TestSupport
import Testing

/// GreeDi over more shards than a merge's fan-in merges as a tree (docs/ARCHITECTURE.md, "Shard sets"):
/// each inner merge is a step, the driver's merge reads at most fan-in results, and the objective stays
/// within 2% of the flat merge's.
@Suite("GreeDi's tree of merges")
struct GreeDiTreeTests {
    /// Eight shards of unequal sizes (one smaller than the budget).
    static let cuts = ShardSetTests.cuts[2]

    static func run(_ set: ShardSet, _ selector: SelectorKind, name: String, fanIn: Int?) throws -> SubsetInfo {
        try LocalEngine(binary: nil).run(try ShardJob.create(set: set, request: ShardSetTests.request(selector, name: name), engine: "test", mergeFanIn: fanIn))
    }

    @Test func aTreeOfMergesKeepsTheFlatMergesObjective() throws {
        let split = ShardSetTests.split
        let set = try split.set(Self.cuts)
        let gradients = try split.single.vectors(corpus: "pool", column: "grad", checkpoint: 3)
        func f(_ subset: SubsetInfo) throws -> Double {
            try SPICE.logDet(of: try set.head.members(subset.reference).map(\.row), gradients: gradients, alpha: 1)
        }
        let flat = try Self.run(set, .spice, name: "flat", fanIn: nil)
        // Fan-in 2 over 8 shards: 8 greedy steps, then 4 and 2 merge steps, then the driver merges 2.
        let job = try ShardJob.create(set: set, request: ShardSetTests.request(.spice, name: "tree"), engine: "test", mergeFanIn: 2)
        #expect((1...3).map { job.stepCount(round: $0) } == [8, 4, 2])
        let tree = try LocalEngine(binary: nil).run(job)
        #expect(tree.diagnostics.counters["rounds"] == 3 && tree.diagnostics.counters["mergeLevels"] == 3)
        let members = try set.head.members(tree.reference).map(\.row)
        #expect(tree.rowCount == 120 && Set(members).count == 120)
        let ratio = try f(tree) / f(flat)
        print("SPICE over 8 shards: tree of fan-in 2 F / flat merge F = \(ratio)")
        #expect(ratio >= 0.98)
        #expect(tree.recipeHash != flat.recipeHash)
        // The default fan-in (8) merges 8 shards flat: the same subset and recipe as before trees.
        let eight = try Self.run(set, .spice, name: "flat", fanIn: 8)
        #expect(eight.recipeHash == flat.recipeHash && eight.contentHash == flat.contentHash)
        // The DPP's tree: the moments round, the shards' greedy, one merge level of 3 groups, the driver.
        let dpp = try Self.run(set, .dpp, name: "dpp-tree", fanIn: 3)
        #expect(dpp.rowCount == 120 && dpp.diagnostics.counters["rounds"] == 3)
        #expect(dpp.diagnostics.notes.contains { $0.contains("a tree of 2 merge levels of fan-in 3") })
    }

    @Test func aMergeRoundNamesAMissingGroupAndRefusesStepsBeyondIt() throws {
        let set = try ShardSetTests.split.set(Self.cuts)
        let job = try ShardJob.create(set: set, request: ShardSetTests.request(.spice, name: "groups"), engine: "test", mergeFanIn: 3)
        for shard in 0..<8 { try job.runStep(shard: shard) }
        guard case .nextRound(2) = try job.merge() else { Issue.record("8 shards at fan-in 3 need a merge round"); return }
        #expect(job.stepArguments().map { $0.last } == ["0", "1", "2"])
        #expect(throws: CatalogError.self) { try job.runStep(shard: 3) }
        try job.runStep(shard: 0)
        try job.runStep(shard: 2)
        #expect {
            try job.merge()
        } throws: { error in
            ((error as? CatalogError)?.description ?? "").contains("no result from merge group 1")
        }
        #expect(throws: CatalogError.self) { try ShardJob.create(set: set, request: ShardSetTests.request(.spice, name: "one"), engine: "test", mergeFanIn: 1) }
    }
}
