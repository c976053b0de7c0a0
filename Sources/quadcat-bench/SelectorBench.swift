import Catalog
import Foundation
import Selectors
import TestSupport

/// Issue 3's figures: each selector, catalog to stored subset, against a straightforward NumPy
/// implementation of the same algorithm that starts from arrays already in memory.
struct SelectorBench {
    let work: URL
    let repository: URL
    /// Seconds after which a NumPy run is abandoned (its time is then reported as "> limit").
    let numpyLimit: Double

    struct Row: Codable {
        var dataset: String
        var selector: String
        var rows: Int
        var quadcatSeconds: Double
        var numpySeconds: Double?
        var numpyAborted: Bool
        /// quadcat time / NumPy time.
        var ratio: Double?
        /// Members shared with the NumPy picks, as a share of the budget.
        var agreement: Double?
    }

    /// A catalog and the files its columns came from (the NumPy reference reads the same files).
    struct Dataset {
        var name: String
        var catalog: Catalog
        var poolGradients: [URL]
        var learningRates: [Double]
        var targetGradients: [URL]
        var subtasks: URL?
        var embeddings: URL
        var budget: Int
    }

    func run(datasets: [Dataset]) throws -> [Row] {
        var rows: [Row] = []
        for dataset in datasets {
            report("== selectors on \(dataset.name): budget \(dataset.budget)")
            report("selector   quadcat s    NumPy s   ratio  agreement")
            for selector in SelectorKind.allCases {
                var request = SelectRequest(corpus: "pool", target: "python", selector: selector, budget: Budget(rows: dataset.budget), name: "bench-\(selector.rawValue)")
                request.seed = 1
                // A fresh handle each time: nothing cached from an earlier run.
                var picked: [Int] = []
                let quadcat = try Measure.best(selector == .gtp ? 1 : 3) {
                    let catalog = try Catalog.open(at: dataset.catalog.root)
                    let subset = try catalog.select(request)
                    picked = try catalog.members(subset.reference).map(\.row)
                }
                let numpy = try numpyRun(selector, dataset)
                let agreement = numpy.map { Double(Set($0.rows).intersection(picked).count) / Double(max(1, dataset.budget)) }
                let row = Row(
                    dataset: dataset.name, selector: selector.rawValue, rows: picked.count, quadcatSeconds: quadcat,
                    numpySeconds: numpy?.seconds, numpyAborted: numpy?.aborted ?? false,
                    ratio: numpy.map { quadcat / $0.seconds }, agreement: agreement)
                rows.append(row)
                let numpyText = numpy.map { $0.aborted ? String(format: "> %.0f", $0.seconds) : String(format: "%.3f", $0.seconds) } ?? "n/a"
                let ratioText = row.ratio.map { String(format: "%@%.3f", row.numpyAborted ? "< " : "", $0) } ?? "n/a"
                report(selector.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
                    + String(format: " %10.3f %10@ %7@ %9@", quadcat, numpyText, ratioText, agreement.map { String(format: "%.1f%%", 100 * $0) } ?? "n/a"))
            }
        }
        return rows
    }

    struct NumpyResult: Decodable {
        var seconds: Double
        var rows: [Int]
        var aborted: Bool?
    }

    /// Runs bench/numpy_reference.py on the dataset's files; nil when python3 or numpy is missing.
    private func numpyRun(_ selector: SelectorKind, _ dataset: Dataset) throws -> (seconds: Double, rows: [Int], aborted: Bool)? {
        let out = work.appendingPathComponent("numpy-\(dataset.name)-\(selector.rawValue).json")
        var arguments = [repository.appendingPathComponent("bench/numpy_reference.py").path, selector.rawValue]
        arguments += ["--pool-grads"] + dataset.poolGradients.map(\.path)
        arguments += ["--lrs", dataset.learningRates.map { "\($0)" }.joined(separator: ",")]
        arguments += ["--target-grads"] + dataset.targetGradients.map(\.path)
        if let subtasks = dataset.subtasks { arguments += ["--subtasks", subtasks.path] }
        arguments += ["--embeddings", dataset.embeddings.path, "--budget", "\(dataset.budget)", "--seed", "1"]
        arguments += ["--max-seconds", "\(Int(numpyLimit))", "--out", out.path]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        guard (try? process.run()) != nil else { return nil }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let data = try? Data(contentsOf: out) else {
            report("  (NumPy \(selector.rawValue) failed: \(String(decoding: message, as: UTF8.self).suffix(300)))")
            return nil
        }
        let result = try JSONDecoder().decode(NumpyResult.self, from: data)
        return (result.seconds, result.rows, result.aborted ?? false)
    }

    /// realbench as its README describes it.
    static func realbench(_ root: URL, work: URL) throws -> Dataset {
        let url = work.appendingPathComponent("realbench.quadcat")
        try? FileManager.default.removeItem(at: url)
        let catalog = try Realbench.build(root, at: url)
        return Dataset(
            name: "realbench", catalog: catalog, poolGradients: (1...4).map { root.appendingPathComponent("grads_ckpt\($0).npy") },
            learningRates: try Realbench.learningRates(root), targetGradients: (1...4).map { root.appendingPathComponent("val_grads_ckpt\($0).npy") },
            subtasks: nil, embeddings: root.appendingPathComponent("embeddings.npy"), budget: 600)
    }

    /// A synthetic 100,000 x 1024 single-checkpoint pool with 384-dimensional embeddings.
    static func synthetic(rows: Int, work: URL) throws -> Dataset {
        var configuration = SyntheticCorpus.Configuration()
        configuration.rows = rows
        configuration.gradientDim = 1024
        configuration.embeddingDim = 384
        configuration.learningRates = [1e-5]
        configuration.validationRows = 400
        let directory = work.appendingPathComponent("synthetic-\(rows)")
        try? FileManager.default.removeItem(at: directory)
        let (catalog, files) = try DemoCatalog.build(in: directory, configuration: configuration)
        return Dataset(
            name: "synthetic-\(rows)x1024", catalog: catalog, poolGradients: files.gradients, learningRates: files.learningRates,
            targetGradients: files.validationGradients, subtasks: files.validationSubtasks, embeddings: files.embeddings,
            budget: rows / 20)
    }
}
