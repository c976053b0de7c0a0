import CKernels
import Foundation
import Ingest
import Selectors

/// A small, realistic synthetic corpus for the demo and the tests: several text domains of which one
/// (split in two subtasks) is the target, planted duplicates, gradients at several checkpoints and
/// embeddings, written as the JSONL, .npy and text files a user would hand to quadcat.
///
/// The generative model: every domain d has a unit direction mu_d in gradient space (the near-target
/// domain's direction leans toward the target's) that drifts a little from checkpoint to checkpoint.
/// A row's gradient at checkpoint c is s * (a * mu_{d,c} + persistent noise + per-checkpoint noise)
/// with a per-row scale s and a per-row signal strength a, so some target rows are far more useful
/// than others. Validation gradients are the target subtasks' directions plus noise. Embeddings are
/// domain centroids plus topic offsets and noise, unit-normalised. Exact duplicates copy a row's text,
/// gradients and embedding; near duplicates edit one word and perturb the vectors slightly.
public enum SyntheticCorpus {
    public struct Configuration: Sendable {
        public var rows = 12_000
        public var gradientDim = 512
        public var embeddingDim = 128
        /// One learning rate per checkpoint (decaying, as in a warmup run).
        public var learningRates: [Double] = [2.0e-5, 1.5e-5, 8.0e-6, 3.0e-6]
        public var validationRows = 200
        public var seed: UInt64 = 20_261_123

        public init() {}
    }

    /// A text domain and its share of the pool.
    struct Domain {
        let name: String
        let share: Double
        let words: [String]
    }

    static let targetDomain = "python_docs"
    static let domains: [Domain] = [
        Domain(name: "python_docs", share: 0.04, words: ["function", "returns", "parameter", "module", "json", "socket", "asyncio", "object", "attribute", "raises", "ValueError", "keyword", "argument", "default", "iterable", "encoding", "buffer", "method", "class", "instance", "optional", "None", "bytes", "string", "timeout", "context", "manager", "thread", "lock", "stream"]),
        Domain(name: "pydoc", share: 0.08, words: ["docstring", "self", "args", "kwargs", "return", "type", "list", "dict", "value", "index", "key", "item", "len", "iter", "next", "call", "init", "repr", "hash", "compare", "sort", "copy", "update", "clear", "pop", "get", "set", "tuple", "int", "str"]),
        Domain(name: "man", share: 0.20, words: ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "-a", "-l", "--help", "file", "directory", "print", "exit", "status", "user", "shell", "command", "display", "output", "input", "mode", "permission", "signal", "process", "device", "mount", "path", "environment", "variable", "default", "manual", "section"]),
        Domain(name: "recipes", share: 0.17, words: ["flour", "sugar", "butter", "oven", "bake", "minutes", "stir", "salt", "pepper", "garlic", "onion", "simmer", "boil", "pan", "bowl", "whisk", "cream", "eggs", "serve", "slice", "fresh", "heat", "oil", "tomato", "cheese", "dough", "knead", "roast", "chop", "taste"]),
        Domain(name: "news", share: 0.20, words: ["government", "minister", "said", "report", "market", "election", "policy", "city", "police", "court", "percent", "economy", "vote", "spokesperson", "announced", "official", "statement", "crisis", "budget", "trade", "talks", "border", "president", "parliament", "rates", "inflation", "protest", "agency", "council", "tuesday"]),
        Domain(name: "fiction", share: 0.16, words: ["she", "he", "whispered", "door", "night", "eyes", "smiled", "window", "dark", "heart", "remembered", "walked", "silence", "forest", "river", "letter", "moon", "voice", "shadow", "cold", "morning", "garden", "stranger", "ship", "storm", "candle", "road", "dream", "mother", "ghost"]),
        Domain(name: "legal", share: 0.15, words: ["agreement", "party", "shall", "hereby", "pursuant", "liability", "clause", "termination", "notice", "license", "warranty", "indemnify", "jurisdiction", "section", "provisions", "obligations", "rights", "breach", "consent", "law", "governing", "confidential", "damages", "term", "effective", "date", "assign", "waiver", "amendment", "herein"]),
    ]

    /// The files written, ready for `ingest`, `attach` and `target add`.
    public struct Files: Sendable {
        public var corpus: URL
        /// One .npy per checkpoint, in checkpoint order.
        public var gradients: [URL]
        public var embeddings: URL
        public var validationGradients: [URL]
        /// The validation rows' embeddings (the target's embedding column, for RDS).
        public var validationEmbeddings: URL
        /// One subtask label per validation row.
        public var validationSubtasks: URL
        public var learningRates: [Double]
        /// The domain of every pool row (the records also carry it as a field).
        public var domains: [String]
        /// Pool rows that duplicate an earlier row (exactly or nearly), paired with the original.
        public var duplicatePairs: [(copy: Int, original: Int, exact: Bool)]
    }

    /// Writes the corpus into `directory` (created if needed).
    public static func write(to directory: URL, configuration: Configuration = Configuration()) throws -> Files {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var random = SeededRandom(seed: configuration.seed)
        let n = configuration.rows, d = configuration.gradientDim, e = configuration.embeddingDim
        let checkpoints = configuration.learningRates.count

        // Domain directions; the near-target domain leans toward the target; the target has two subtasks.
        let target = domains.firstIndex { $0.name == targetDomain }!
        var directions = domains.map { _ in unitGaussian(d, &random) }
        directions[1] = normalized(zip(directions[target], unitGaussian(d, &random)).map { 0.55 * $0 + 0.835 * $1 })
        let subtaskDirections = (0..<2).map { _ in normalized(zip(directions[target], unitGaussian(d, &random)).map { 0.8 * $0 + 0.6 * $1 }) }
        let drift = (0..<domains.count + 2).map { _ in (0..<checkpoints).map { _ in unitGaussian(d, &random) } }
        func direction(_ base: [Float], _ driftIndex: Int, _ c: Int) -> [Float] {
            normalized(zip(base, drift[driftIndex][c]).map { $0 + 0.25 * $1 })
        }
        let centroids = domains.map { _ in unitGaussian(e, &random) }
        let topics = domains.map { _ in (0..<6).map { _ in unitGaussian(e, &random) } }

        // Row plan: domains by share, then a few percent of rows become duplicates of earlier rows.
        var rowDomain = [Int](repeating: 0, count: n)
        var cut = 0
        for (k, domain) in domains.enumerated() {
            let count = k == domains.count - 1 ? n - cut : Int((domain.share * Double(n)).rounded())
            for r in cut..<min(n, cut + count) { rowDomain[r] = k }
            cut += count
        }
        random.shuffle(&rowDomain)
        var duplicateOf = [Int?](repeating: nil, count: n)
        var exactCopy = [Bool](repeating: false, count: n)
        for r in 1..<n {
            // Documentation is mirrored more often than other text.
            let rate = rowDomain[r] == target ? 0.12 : 0.015
            guard random.nextUnitDouble() < rate else { continue }
            let candidates = (0..<8).map { _ in random.nextInt(below: r) }
            guard let original = candidates.first(where: { rowDomain[$0] == rowDomain[r] && duplicateOf[$0] == nil }) else { continue }
            duplicateOf[r] = original
            exactCopy[r] = random.nextUnitDouble() < 0.6
        }

        var texts = [String](repeating: "", count: n)
        var subtaskOfRow = [Int](repeating: 0, count: n)
        var persistent = [[Float]](repeating: [], count: n)
        var scale = [Float](repeating: 1, count: n)
        var signal = [Float](repeating: 0, count: n)
        var embeddings = [Float](repeating: 0, count: n * e)
        for r in 0..<n {
            let k = rowDomain[r]
            if let original = duplicateOf[r] {
                texts[r] = exactCopy[r] ? texts[original] : editOneWord(texts[original], domains[k].words, &random)
                subtaskOfRow[r] = subtaskOfRow[original]
                persistent[r] = exactCopy[r] ? persistent[original] : zip(persistent[original], unitGaussian(d, &random)).map { $0 + 0.05 * $1 }
                scale[r] = scale[original]
                signal[r] = signal[original]
                for j in 0..<e { embeddings[r * e + j] = embeddings[original * e + j] + (exactCopy[r] ? 0 : 0.01 * Float(random.nextGaussian())) }
                continue
            }
            texts[r] = sentence(domains[k].words, &random)
            subtaskOfRow[r] = random.nextInt(below: 2)
            persistent[r] = unitGaussian(d, &random)
            scale[r] = Float(exp(0.4 * random.nextGaussian()))
            // Signal strength: target rows range from barely useful to very useful.
            signal[r] = k == target ? Float(0.05 + 0.55 * random.nextUnitDouble()) : Float(0.15 + 0.35 * random.nextUnitDouble())
            let topic = topics[k][random.nextInt(below: 6)]
            for j in 0..<e { embeddings[r * e + j] = centroids[k][j] + 0.45 * topic[j] + 0.25 * Float(random.nextGaussian()) }
        }
        normalizeRows(&embeddings, dim: e)

        let files = Files(
            corpus: directory.appendingPathComponent("corpus.jsonl"),
            gradients: (1...checkpoints).map { directory.appendingPathComponent("grads_ckpt\($0).npy") },
            embeddings: directory.appendingPathComponent("emb.npy"),
            validationGradients: (1...checkpoints).map { directory.appendingPathComponent("val_grads_ckpt\($0).npy") },
            validationEmbeddings: directory.appendingPathComponent("val_emb.npy"),
            validationSubtasks: directory.appendingPathComponent("val_subtasks.txt"),
            learningRates: configuration.learningRates, domains: rowDomain.map { domains[$0].name },
            duplicatePairs: (0..<n).compactMap { r in duplicateOf[r].map { (r, $0, exactCopy[r]) } })

        var jsonl = ""
        for r in 0..<n {
            let dup = duplicateOf[r].map { "\"doc-\(String(format: "%06d", $0))\"" } ?? "null"
            jsonl += "{\"id\": \"doc-\(String(format: "%06d", r))\", \"domain\": \"\(domains[rowDomain[r]].name)\", \"text\": \"\(texts[r])\", \"dup_of\": \(dup)}\n"
        }
        try Data(jsonl.utf8).write(to: files.corpus)

        for c in 0..<checkpoints {
            var values = [Float](repeating: 0, count: n * d)
            var checkpointNoise = [[Float]](repeating: [], count: n)
            for r in 0..<n {
                let k = rowDomain[r]
                let base = k == target ? direction(subtaskDirections[subtaskOfRow[r]], domains.count + subtaskOfRow[r], c) : direction(directions[k], k, c)
                if let original = duplicateOf[r], exactCopy[r] {
                    checkpointNoise[r] = checkpointNoise[original]
                } else {
                    checkpointNoise[r] = (0..<d).map { _ in Float(random.nextGaussian()) / Float(d).squareRoot() }
                }
                let lrScale = Float(configuration.learningRates[c] / configuration.learningRates[0]).squareRoot()
                for j in 0..<d {
                    values[r * d + j] = scale[r] * lrScale * (signal[r] * base[j] + 0.9 * persistent[r][j] + 0.5 * checkpointNoise[r][j])
                }
            }
            try writeFloat16(values, rows: n, columns: d, to: files.gradients[c])
        }
        try writeFloat16(embeddings, rows: n, columns: e, to: files.embeddings)

        let m = configuration.validationRows
        let validationSubtask = (0..<m).map { $0 % 2 }
        for c in 0..<checkpoints {
            var values = [Float](repeating: 0, count: m * d)
            for r in 0..<m {
                let base = direction(subtaskDirections[validationSubtask[r]], domains.count + validationSubtask[r], c)
                let noise = unitGaussian(d, &random)
                for j in 0..<d { values[r * d + j] = 0.01 * (base[j] + 0.8 * noise[j]) }
            }
            try writeFloat16(values, rows: m, columns: d, to: files.validationGradients[c])
        }
        try Data(validationSubtask.map { $0 == 0 ? "io\n" : "net\n" }.joined().utf8).write(to: files.validationSubtasks)
        // Validation embeddings: the target domain's centroid and topics, as its pool rows have them.
        var validationEmbeddings = [Float](repeating: 0, count: m * e)
        for r in 0..<m {
            let topic = topics[target][random.nextInt(below: 6)]
            for j in 0..<e { validationEmbeddings[r * e + j] = centroids[target][j] + 0.45 * topic[j] + 0.25 * Float(random.nextGaussian()) }
        }
        normalizeRows(&validationEmbeddings, dim: e)
        try writeFloat16(validationEmbeddings, rows: m, columns: e, to: files.validationEmbeddings)
        return files
    }

    static func unitGaussian(_ n: Int, _ random: inout SeededRandom) -> [Float] {
        normalized((0..<n).map { _ in Float(random.nextGaussian()) })
    }

    static func normalized(_ v: [Float]) -> [Float] {
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? v.map { $0 / norm } : v
    }

    static func normalizeRows(_ values: inout [Float], dim: Int) {
        for r in 0..<values.count / dim {
            let norm = (0..<dim).reduce(Float(0)) { $0 + values[r * dim + $1] * values[r * dim + $1] }.squareRoot()
            if norm > 0 { for j in 0..<dim { values[r * dim + j] /= norm } }
        }
    }

    static func sentence(_ words: [String], _ random: inout SeededRandom) -> String {
        let count = 24 + random.nextInt(below: 40)
        var out: [String] = []
        for i in 0..<count {
            var word = words[random.nextInt(below: words.count)]
            if i == 0 { word = word.prefix(1).uppercased() + word.dropFirst() }
            out.append(word)
            if i % 9 == 8 { out[out.count - 1] += "." }
        }
        return out.joined(separator: " ") + "."
    }

    static func editOneWord(_ text: String, _ words: [String], _ random: inout SeededRandom) -> String {
        var parts = text.split(separator: " ").map(String.init)
        parts[random.nextInt(below: parts.count)] = words[random.nextInt(below: words.count)]
        let edited = parts.joined(separator: " ")
        return edited == text ? text + " " + words[0] : edited
    }

    static func writeFloat16(_ values: [Float], rows: Int, columns: Int, to url: URL) throws {
        var bits = [UInt16](repeating: 0, count: values.count)
        qc_f32_to_f16(values, &bits, values.count)
        try NpyWriter.write(url: url, float16Bits: bits, rows: rows, columns: columns)
    }
}
