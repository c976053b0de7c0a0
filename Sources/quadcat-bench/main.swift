import Foundation
import Selectors
import TestSupport

// `make bench`: the figures in BENCHMARKS.md. Run it on an otherwise idle machine.
//   quadcat-bench [--work DIR] [--rows N] [--synthetic-rows N] [--numpy-limit SECONDS] [--ingest-bytes N]
//                 [--report-rows N] [--only catalog|ingest|selectors|report]
// `make bench-scale`: every selector at the LESS paper's size (ScaleBench.swift has the options).
// `make bench-shards`: the same pool as a shard set (quadcat-bench shards-build; with --stride N --emb-dim D,
//   quad-scale's pool: embeddings for every row, gradients for every Nth), run on Ray by
//   bench/shards_bench.py.
//   quadcat-bench kmeans [--rows 1000000] [--clusters K] [--sample 100000] [--iterations 20] [--seedings 0,1,2]: k-means
//     beside faiss (bench/kmeans_faiss.py reads the JSON path it prints; `make bench-kmeans`).
//   quadcat-bench quad-scale [--rows 10000000] [--dim 1024] [--stride 20]: Quad's clustering at 10^7 rows.
//   quadcat-bench scale [--pools reference,hard,diffuse] [--rows N] [--dim D] [--checkpoints C] [--budgets 5%,0.5%]
//                       [--selectors ...] [--runs gtp@5%,spice-pool@5%,...] [--time-limit SECONDS] [--cold] [--drop]
// The near-duplicate guard at the reference budget against a pairwise loop (GuardBench.swift):
//   quadcat-bench guard [--members 13500] [--dim 384] [--rows N] [--threshold 0.95] [--baseline-members N]
BLAS.useOptimizedKernels()
let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
let work = URL(fileURLWithPath: option("--work") ?? FileManager.default.temporaryDirectory.appendingPathComponent("quadcat-bench").path)
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let only = option("--only")

if arguments.first == "shards-build" {
    var configuration = ScalePool.Configuration()
    if let rows = option("--rows").flatMap(Int.init) { configuration.rows = rows }
    if let dim = option("--dim").flatMap(Int.init) { configuration.dimension = dim }
    if let checkpoints = option("--checkpoints").flatMap(Int.init) { configuration.checkpoints = checkpoints }
    if let embeddingDimension = option("--emb-dim").flatMap(Int.init) { configuration.embeddingDimension = embeddingDimension }
    let stride = option("--stride").flatMap(Int.init)
    if stride != nil { configuration.checkpoints = 1 }
    let set = try ShardedScaleSet(
        configuration: configuration, shards: option("--shards").flatMap(Int.init) ?? 8, stride: stride, work: work
    ).openOrBuild()
    print(set.root.path)
    exit(0)
}

if arguments.first == "guard" {
    var bench = GuardBench()
    if let members = option("--members").flatMap(Int.init) { bench.members = members }
    if let dim = option("--dim").flatMap(Int.init) { bench.dimension = dim }
    bench.rows = option("--rows").flatMap(Int.init)
    if let threshold = option("--threshold").flatMap(Double.init) { bench.threshold = threshold }
    bench.baselineMembers = option("--baseline-members").flatMap(Int.init)
    try bench.run()
    exit(0)
}

if arguments.first == "kmeans" {
    let rows = option("--rows").flatMap(Int.init) ?? 1_000_000
    let seedings: [(String, KMeans.Seeding)] = [
        ("k-means|| (5 rounds, l = 0.5k)", .parallel(rounds: 5, oversampling: 0.5)),
        ("k-means|| (5 rounds, l = 2k)", .parallel(rounds: 5, oversampling: 2)),
        ("greedy k-means++", .greedyPlusPlus),
    ]
    let only = option("--seedings").map { Set($0.split(separator: ",").compactMap { Int($0) }) }
    let out = try KMeansBench(
        work: work, rows: rows, dimension: option("--emb-dim").flatMap(Int.init) ?? 384,
        clusters: option("--clusters").flatMap(Int.init) ?? Int(Double(rows).squareRoot().rounded()),
        sample: option("--sample").flatMap(Int.init) ?? 100_000, iterations: option("--iterations").flatMap(Int.init) ?? 20,
        seedings: seedings.enumerated().filter { only?.contains($0.offset) ?? true }.map(\.element)).run()
    print(out.path)
    exit(0)
}

if arguments.first == "quad-scale" {
    var configuration = ScalePool.Configuration()
    configuration.rows = option("--rows").flatMap(Int.init) ?? 10_000_000
    configuration.dimension = option("--dim").flatMap(Int.init) ?? 1024
    configuration.embeddingDimension = option("--emb-dim").flatMap(Int.init) ?? 384
    configuration.checkpoints = 1
    try QuadScaleBench(work: work, configuration: configuration, stride: option("--stride").flatMap(Int.init) ?? 20,
                       budget: option("--budget") ?? "0.5%").run()
    exit(0)
}

if arguments.first == "scale" {
    var rows: [ScaleBench.Row] = []
    let settings = (option("--pools") ?? ScalePool.Configuration.settings.joined(separator: ",")).split(separator: ",").map(String.init)
    for setting in settings {
        guard var configuration = ScalePool.Configuration.setting(setting) else {
            report("unknown pool '\(setting)': the family is \(ScalePool.Configuration.settings.joined(separator: ", "))")
            exit(2)
        }
        if let rows = option("--rows").flatMap(Int.init) { configuration.rows = rows }
        if let dim = option("--dim").flatMap(Int.init) { configuration.dimension = dim }
        if let checkpoints = option("--checkpoints").flatMap(Int.init) { configuration.checkpoints = checkpoints }
        if let seed = option("--seed").flatMap(UInt64.init) { configuration.seed = seed }
        let bench = ScaleBench(
            work: work, setting: setting, configuration: configuration,
            budgets: (option("--budgets") ?? "5%,0.5%").split(separator: ",").map(String.init),
            selectors: (option("--selectors") ?? "less,quad,spice,gtp,random").split(separator: ",").map(String.init),
            cold: arguments.contains("--cold"),
            variants: [("spice-stochastic", "spice", ["mode=stochastic"]), ("spice-pool", "spice", ["mode=pool"])])
        var configured = bench
        configured.runs = option("--runs").map { list in
            list.split(separator: ",").map { item in
                let parts = item.split(separator: "@", maxSplits: 1).map(String.init)
                return (parts[0], parts.count > 1 ? parts[1] : "5%")
            }
        }
        configured.timeLimit = option("--time-limit").flatMap(Double.init)
        rows += try configured.run()
        if arguments.contains("--drop") && setting != settings.last {
            try FileManager.default.removeItem(at: ScaleCatalog(configuration: configuration, work: work, setting: setting).directory)
        }
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let out = work.appendingPathComponent("scale-results.json")
    try encoder.encode(rows).write(to: out)
    report("results: \(out.path)")
    exit(0)
}

struct Results: Codable {
    var catalog: CatalogBench.Results?
    var ingest: IngestBench.Results?
    var selectors: [SelectorBench.Row]?
    var report: [ReportBench.Row]?
}
var results = Results()
if only == nil || only == "catalog" {
    results.catalog = try CatalogBench(work: work, rows: Int(option("--rows") ?? "") ?? 500_000).run()
}
if only == nil || only == "ingest" {
    results.ingest = try IngestBench(work: work, repository: repository, bytes: Int(option("--ingest-bytes") ?? "") ?? 1_000_000_000).run()
}
if only == nil || only == "selectors" {
    var datasets: [SelectorBench.Dataset] = []
    if let root = Fixtures.realbench {
        datasets.append(try SelectorBench.realbench(root, work: work))
    } else {
        report("(realbench is absent: set QUADCAT_REALBENCH to include it)")
    }
    datasets.append(try SelectorBench.synthetic(rows: Int(option("--synthetic-rows") ?? "") ?? 100_000, work: work))
    let bench = SelectorBench(work: work, repository: repository, numpyLimit: Double(option("--numpy-limit") ?? "") ?? 900)
    results.selectors = try bench.run(datasets: datasets)
}
if only == nil || only == "report" {
    results.report = try ReportBench(work: work, rows: Int(option("--report-rows") ?? "") ?? 100_000, dimensions: [256, 1024]).run()
}
let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
let out = work.appendingPathComponent("results.json")
try encoder.encode(results).write(to: out)
report("results: \(out.path)")
