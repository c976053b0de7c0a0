import Catalog
import Foundation
import Selectors
import TestSupport
import Testing

/// Quad over a shard set whose gradient column is partial (gradients for every 20th row, attached with
/// ids in the single catalog and in each shard): the shards select the single catalog's members.
@Suite("Shard sets: Quad with a partial gradient column")
struct ShardedQuadPartialTests {
    /// Attaches gradients for every `stride`-th row of `rows` as column "sampled" (checkpoint 1) and
    /// the target's validation gradients under the same name.
    private static func attachSampled(_ catalog: Catalog, _ split: ShardSetTests.Split, rows: Range<Int>, stride: Int) throws {
        let files = ScalePool.Files(directory: split.directory.file("sampled-\(rows.lowerBound)-\(rows.upperBound)"))
        try FileManager.default.createDirectory(at: files.directory, withIntermediateDirectories: true)
        let ids = try split.pool.writeSampledGradients(checkpoint: 1, stride: stride, rows: rows, to: files)
        var request = AttachRequest(corpus: "pool", column: "sampled", file: files.gradients(checkpoint: 1))
        request.checkpoint = 1
        request.learningRate = split.pool.configuration.learningRates[0]
        request.idsFile = ids
        _ = try catalog.attach(request)
        var target = TargetColumnRequest(target: "target", file: files.validationGradients(checkpoint: 1))
        target.column = "sampled"
        target.checkpoint = 1
        _ = try catalog.addTargetColumn(target)
    }

    @Test func aPartialColumnSelectsTheSingleCatalogsMembersOverShards() throws {
        let split = try ShardSetTests.Split(rows: 1200, seed: 11)
        let cuts = [0, 300, 770, 1200]
        try Self.attachSampled(split.single, split, rows: 0..<1200, stride: 20)
        for (url, (a, b)) in zip(try split.shards(cuts), zip(cuts, cuts.dropFirst())) {
            try Self.attachSampled(try Catalog.open(at: url), split, rows: a..<b, stride: 20)
        }
        let set = try split.set(cuts)
        var request = SelectRequest(corpus: "pool", target: "target", selector: .quad, budget: Budget(rows: 150), name: "quad-sampled")
        request.gradientColumn = "sampled"
        let single = try split.single.select(request)
        let sharded = try ShardSetTests.sharded(set, request)
        let expected = try split.single.members(single.reference)
        #expect(try set.head.members(sharded.reference).map(\.row) == expected.map(\.row))
        #expect(expected.count == 150)
        let a = single.diagnostics.counters, b = sharded.diagnostics.counters
        #expect(a["unscoredRows"] == 1140)
        #expect(a["pullsEstimatedFromCluster"]! > 0)
        for counter in ["pulls", "pullsEstimatedFromCluster", "pullsWithoutScoredRows", "clustersWithoutScoredRows", "tau", "alpha"] {
            #expect(a[counter] == b[counter], "\(counter)")
        }
    }
}
