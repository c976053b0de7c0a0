import Catalog
import Foundation
import TestSupport

/// `make bench-scale`: every selector on a pool of the LESS paper's size (BENCHMARKS.md), each run as the
/// user runs it (`quadcat select` in its own process), with wall time, peak anonymous memory, rows
/// returned and the selector's own objective.
///
///     quadcat-bench scale [--pools reference,hard,diffuse] [--rows 270000] [--dim 8192] [--checkpoints 4]
///                         [--budgets 5%,0.5%] [--selectors less,quad,spice,gtp,random] [--cold] [--work DIR]
///
/// Each pool of the family (``ScalePool/Configuration/setting(_:)``) is generated once into the work
/// directory and reused by later runs; pools other than the last are deleted after their runs with
/// `--drop` when the disk holds only one (each is 17.7 GB at the reference size).
struct ScaleBench {
    let work: URL
    let setting: String
    let configuration: ScalePool.Configuration
    let budgets: [String]
    let selectors: [String]
    /// Evict the catalog's files from the page cache before each run (a cold start from disk).
    let cold: Bool
    /// A measured run: its label in the results, the selector, and its `--param` arguments.
    typealias Run = (label: String, selector: String, parameters: [String])
    /// Extra `--param` arguments per selector (e.g. SPICE's stochastic mode as its own row).
    let variants: [Run]
    /// Explicit (label, budget) runs instead of every selector at every budget (`--runs gtp@5%,...`);
    /// a label is a selector or a variant's label.
    var runs: [(label: String, budget: String)]? = nil
    /// Runs longer than this are stopped and reported as not finished (`--time-limit SECONDS`).
    var timeLimit: Double? = nil

    struct Row: Codable {
        var pool: String
        var selector: String
        var label: String
        var budget: String
        var seconds: Double
        var peakAnonymousMB: Double
        var peakFileMB: Double
        var rows: Int
        var budgetRows: Int
        var objective: Double?
        var notes: [String]
        var timings: [String: Double]
        var counters: [String: Double]
    }

    func run() throws -> [Row] {
        let scale = ScaleCatalog(configuration: configuration, work: work, setting: setting)
        report("pool \(setting): \(scale.directory.path)")
        _ = try scale.openOrBuild()
        let quadcat = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("quadcat")
        report(String(format: "memory read bandwidth %.1f GB/s (1 thread), %.1f GB/s (2 threads)", Measure.memoryReadBandwidth(threads: 1), Measure.memoryReadBandwidth(threads: 2)))
        if let read = try? DiskSpeed.sequentialRead(directory: scale.catalogURL.appendingPathComponent("chunks")) {
            report(String(format: "disk sequential read (page cache evicted): %.0f MB/s", read))
        }
        var rows: [Row] = []
        report("selector       budget      rows       time   peak anon   peak file  objective")
        let known: [Run] = ["less", "quad", "spice", "gtp", "random", "dpp", "rds"].map { ($0, $0, []) } + variants
        var plan: [(budget: String, run: Run)] = []
        if let runs {
            for (label, budget) in runs {
                guard let run = known.first(where: { $0.label == label }) else { throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "unknown run '\(label)'"]) }
                plan.append((budget, run))
            }
        } else {
            for budget in budgets {
                let all: [Run] = selectors.map { ($0, $0, []) } + variants.filter { v in selectors.contains(v.selector) }
                plan += all.map { (budget, $0) }
            }
        }
        for (budget, run) in plan {
            if cold { DiskSpeed.evict(directory: scale.catalogURL.appendingPathComponent("chunks")) }
            let name = "scale-\(run.label)-\(budget.replacingOccurrences(of: "%", with: "pct"))"
            var arguments = [
                "select", scale.catalogURL.path, "--corpus", "pool", "--selector", run.selector, "--budget", budget, "--as", name, "--json",
            ]
            if run.selector != "spice" && run.selector != "random" { arguments += ["--target", "target"] }
            for parameter in run.parameters { arguments += ["--param", parameter] }
            let measured = try MeasuredRun.run(quadcat, arguments, timeLimit: timeLimit)
            guard measured.timedOut || measured.status == 0 else {
                report("\(run.label) \(budget): failed (exit \(measured.status)): \(String(decoding: measured.standardError, as: UTF8.self).suffix(400))")
                continue
            }
            // A run stopped at the time limit has no subset: it is reported with its time and memory.
            let subset = measured.timedOut ? nil : try JSONDecoder().decode(SubsetInfo.self, from: measured.standardOutput)
            let row = Row(
                pool: setting, selector: run.selector, label: run.label, budget: budget, seconds: measured.seconds,
                peakAnonymousMB: Double(measured.peakAnonymousBytes) / 1e6, peakFileMB: Double(measured.peakFileBytes) / 1e6,
                rows: subset?.rowCount ?? 0, budgetRows: subset?.budget ?? 0, objective: subset?.diagnostics.objectiveTrace.last,
                notes: subset?.diagnostics.notes ?? ["did not finish within the time limit"],
                timings: subset?.diagnostics.timings ?? [:], counters: subset?.diagnostics.counters ?? [:])
            rows.append(row)
            let label = run.label.padding(toLength: 14, withPad: " ", startingAt: 0)
            if subset == nil {
                report(label + String(format: " %6@   did not finish in %.0f s (stopped); peak anon %.0f MB", budget, row.seconds, row.peakAnonymousMB))
                continue
            }
            report(
                label
                    + String(
                        format: " %6@ %6d/%-6d %8.1f s %8.0f MB %8.0f MB  %@", budget, row.rows, row.budgetRows, row.seconds,
                        row.peakAnonymousMB, row.peakFileMB, row.objective.map { String(format: "%.6g", $0) } ?? "-"))
            for note in row.notes { report("    note: \(note)") }
        }
        return rows
    }
}
