import Foundation

// `make bench`: the figures in BENCHMARKS.md. Run on an otherwise idle machine.
//   quadcat-bench [--work DIR] [--rows N] [--only catalog|selectors]
let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
let work = URL(fileURLWithPath: option("--work") ?? FileManager.default.temporaryDirectory.appendingPathComponent("quadcat-bench").path)
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
let only = option("--only")
if only == nil || only == "catalog" {
    _ = try CatalogBench(work: work, rows: Int(option("--rows") ?? "") ?? 500_000).run()
}
