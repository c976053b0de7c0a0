import CKernels
import Foundation
import Catalog
import Ingest
import Selectors

/// A synthetic pool with the statistics of real projected gradients, at any size: the data of
/// `make bench-scale` (the LESS paper's 270,000 x 8,192 x 4 checkpoints, and larger-than-memory pools)
/// and of the tests that need structure at small sizes.
///
/// The model follows realbench's measured statistics (norms near 2,000 with a log-normal spread, a
/// common direction every row shares with cosine about 0.25, the rest spread over many directions):
/// ```
/// g(r, c) = s_r * sqrt(eta_c / eta_1) * (0.25 kappa_c + a_r mu(topic_r, c) + 0.9 pi_r + 0.5 eps_{r,c}) * N0
/// ```
/// kappa_c a common unit direction, mu a unit topic direction drifting a little per checkpoint (the
/// target topic splits into subtasks whose directions lean on the topic's; a near-target topic leans
/// toward the target), pi_r a persistent and eps_{r,c} a per-checkpoint noise vector of unit expected
/// norm, s_r log-normal, a_r the row's signal strength. Planted duplicates copy an earlier row exactly
/// (same bits at every checkpoint, same text) or nearly (small perturbations, one word changed).
///
/// Every value is a function of (seed, row) through counter-based noise (``qc_fill_noise``), so rows
/// are generated block by block on all cores and the files come out identical on any machine.
public struct ScalePool: Sendable {
    public struct Configuration: Sendable, Codable, Equatable {
        public var rows = 270_000
        public var dimension = 8192
        public var checkpoints = 4
        public var embeddingDimension = 384
        public var validationRows = 256
        public var subtasks = 4
        public var topics = 64
        /// Share of rows in the target topic.
        public var targetShare = 0.04
        /// Share of rows that copy an earlier row (60% exactly, 40% nearly).
        public var duplicateShare = 0.02
        /// Typical gradient norm (realbench: about 2,000).
        public var norm: Float = 2000
        public var seed: UInt64 = 20_261_128
        /// Scale of the noise parts (persistent and per checkpoint) against the reference model's.
        public var noise: Float = 1
        /// Weight of the direction every row shares (the reference: 0.25, cosine about 0.25 between rows).
        public var common: Float = 0.25
        /// Signal strength a_r, uniform in [low, high] for every topic; nil: the reference's draws (the
        /// target topic 0.05-0.6, the others 0.15-0.5).
        public var signalRange: [Float]? = nil
        /// Share of the planted duplicates that copy their original exactly (the rest nearly).
        public var exactDuplicateFraction = 0.6
        /// Noise of a validation gradient around its subtask's direction (unit direction; 0.8 in the reference).
        public var validationNoise: Float = 0.8
        /// Weight of the target topic in each subtask's direction (against 0.6 of the subtask's own); lower
        /// spreads the target's subtasks apart.
        public var subtaskLean: Float = 0.8

        public init() {}

        /// The pools `make bench-scale` measures every selector on (BENCHMARKS.md): the reference
        /// generator's pool and two that load the selectors differently.
        /// - `reference`: the default model (realbench's statistics; a strong shared direction, signal
        ///   weakest in the target topic).
        /// - `hard`: no shared direction; each row its topic's direction times a uniform weight in
        ///   [0.2, 1] plus isotropic noise of about the same norm; 64 topics, the target about 2% of rows;
        ///   1% exact duplicates. Gains do not flatten early and no sparse fit explains the target.
        /// - `diffuse`: 256 topics, the target 1% of rows, noise 1.5x the reference's, validation rows
        ///   spread wide around subtasks that lean little on the target topic.
        public static func setting(_ name: String) -> Configuration? {
            var c = Configuration()
            switch name {
            case "reference":
                break
            case "hard":
                c.common = 0
                c.signalRange = [0.2, 1]
                c.noise = 0.6
                c.targetShare = 0.02
                c.duplicateShare = 0.01
                c.exactDuplicateFraction = 1
            case "diffuse":
                c.topics = 256
                c.targetShare = 0.01
                c.noise = 1.5
                c.validationNoise = 2
                c.subtaskLean = 0.4
            default:
                return nil
            }
            return c
        }

        /// Names ``setting(_:)`` knows.
        public static let settings = ["reference", "hard", "diffuse"]

        /// Learning rates per checkpoint, decaying as in a warmup run's epochs.
        public var learningRates: [Double] {
            (0..<checkpoints).map { 2.0e-5 * pow(0.62, Double($0)) }
        }
    }

    /// The files a pool was written to, and what is known about its rows.
    public struct Files: Sendable {
        public var directory: URL
        public init(directory: URL) { self.directory = directory }
        public var corpus: URL { directory.appendingPathComponent("corpus.jsonl") }
        public func gradients(checkpoint c: Int) -> URL { directory.appendingPathComponent("grads_ckpt\(c).npy") }
        public var embeddings: URL { directory.appendingPathComponent("emb.npy") }
        public func validationGradients(checkpoint c: Int) -> URL { directory.appendingPathComponent("val_grads_ckpt\(c).npy") }
        public var validationEmbeddings: URL { directory.appendingPathComponent("val_emb.npy") }
        public var validationSubtasks: URL { directory.appendingPathComponent("val_subtasks.txt") }
    }

    public let configuration: Configuration
    let plan: RowPlan
    let directions: Directions

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        plan = RowPlan(configuration)
        directions = Directions(configuration)
    }

    /// The target topic's label in the corpus's `domain` field.
    public static let targetDomain = "target"

    /// The `domain` label of every row.
    public var domains: [String] { plan.topic.map { Self.domainName($0) } }

    /// Rows that copy an earlier row, with the row they copy and whether the copy is exact.
    public var duplicatePairs: [(copy: Int, original: Int, exact: Bool)] {
        (0..<configuration.rows).compactMap { r in plan.copyOf[r].map { (r, $0, plan.exactCopy[r]) } }
    }

    static func domainName(_ topic: Int) -> String {
        switch topic {
        case 0: targetDomain
        case 1: "near-target"
        default: String(format: "topic-%02d", topic)
        }
    }

    // MARK: Writing

    /// Writes every file into `directory` (created when missing) for `rows` (default all: a shard's
    /// slice otherwise); `progress` gets a line per file.
    public func write(to directory: URL, rows: Range<Int>? = nil, progress: (String) -> Void = { _ in }) throws -> Files {
        let files = Files(directory: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        progress("corpus.jsonl")
        try writeCorpus(to: files, rows: rows)
        for c in 1...configuration.checkpoints {
            progress("grads_ckpt\(c).npy")
            try writeGradients(checkpoint: c, to: files, rows: rows)
        }
        progress("emb.npy")
        try writeEmbeddings(to: files, rows: rows)
        return files
    }

    /// Builds a catalog from the files of `write(to:rows:)`: the corpus, every gradient checkpoint (with
    /// learning rates and the pool's projection), the embeddings and the target (gradients, subtasks,
    /// embeddings), the way a user would.
    public func buildCatalog(at url: URL, from files: Files, precision: StoragePrecision = .asGiven) throws -> Catalog {
        let catalog = try Catalog.create(at: url)
        _ = try catalog.ingest(corpus: "pool", files: [files.corpus])
        let projection = ProjectionIdentity(kind: "rademacher", seed: Int64(configuration.seed % (1 << 62)), dim: configuration.dimension)
        for c in 1...configuration.checkpoints {
            var request = AttachRequest(corpus: "pool", column: "grad", file: files.gradients(checkpoint: c))
            request.checkpoint = c
            request.learningRate = configuration.learningRates[c - 1]
            request.projection = projection
            request.precision = precision
            _ = try catalog.attach(request)
            var target = TargetColumnRequest(target: "target", file: files.validationGradients(checkpoint: c))
            target.checkpoint = c
            target.projection = projection
            if c == 1 { target.subtasksFile = files.validationSubtasks }
            _ = try catalog.addTargetColumn(target)
        }
        _ = try catalog.attach(AttachRequest(corpus: "pool", column: "emb", file: files.embeddings))
        var embeddings = TargetColumnRequest(target: "target", file: files.validationEmbeddings)
        embeddings.column = "emb"
        _ = try catalog.addTargetColumn(embeddings)
        return catalog
    }

    /// Gradients for every `stride`-th row of `rows` (default all), attached to `catalog` as the partial
    /// column "grad" (checkpoint 1, placed by ids), and the target's gradients and subtasks: the pool of
    /// `quadcat-bench quad-scale`, where Quad runs on a sample's gradients.
    public func attachSampledGradients(to catalog: Catalog, files: Files, rows: Range<Int>? = nil, stride: Int) throws {
        let ids = try writeSampledGradients(checkpoint: 1, stride: stride, rows: rows, to: files)
        var request = AttachRequest(corpus: "pool", column: "grad", file: files.gradients(checkpoint: 1))
        request.checkpoint = 1
        request.learningRate = configuration.learningRates[0]
        request.idsFile = ids
        _ = try catalog.attach(request)
        var target = TargetColumnRequest(target: "target", file: files.validationGradients(checkpoint: 1))
        target.checkpoint = 1
        target.subtasksFile = files.validationSubtasks
        _ = try catalog.addTargetColumn(target)
    }

    /// The corpus (JSONL) of `rows` (default all) and the validation subtask labels.
    public func writeCorpus(to files: Files, rows: Range<Int>? = nil) throws {
        try writeCorpus(to: files.corpus, rows: rows ?? 0..<configuration.rows)
        let labels = (0..<configuration.validationRows).map { "subtask-\($0 % configuration.subtasks)\n" }.joined()
        try Data(labels.utf8).write(to: files.validationSubtasks)
    }

    /// The pool's (rows `rows`, default all) and the validation set's gradients at checkpoint `c` (1-based).
    public func writeGradients(checkpoint c: Int, to files: Files, rows: Range<Int>? = nil) throws {
        let range = rows ?? 0..<configuration.rows
        try writeRows(to: files.gradients(checkpoint: c), rows: range.count, dimension: configuration.dimension) { r, out in
            poolGradient(row: range.lowerBound + r, checkpoint: c - 1, into: out)
        }
        try writeRows(to: files.validationGradients(checkpoint: c), rows: configuration.validationRows, dimension: configuration.dimension) { v, out in
            validationGradient(row: v, checkpoint: c - 1, into: out)
        }
    }

    /// The gradients at checkpoint `c` of every `stride`-th row only (a partial column, the way users
    /// attach gradients for a sample of a large pool), the ids file naming each of those rows' document,
    /// and the validation set's gradients.
    /// With `rows`, only the sampled rows in that range (a shard's share of the same sample).
    /// - Returns: the ids file (`grads_ckpt<c>.ids`).
    public func writeSampledGradients(checkpoint c: Int, stride: Int, rows: Range<Int>? = nil, to files: Files) throws -> URL {
        let range = rows ?? 0..<configuration.rows
        let sampledRows = Array(Swift.stride(from: (range.lowerBound + stride - 1) / stride * stride, to: range.upperBound, by: stride))
        let sampled = sampledRows.count
        try writeRows(to: files.gradients(checkpoint: c), rows: sampled, dimension: configuration.dimension) { i, out in
            poolGradient(row: sampledRows[i], checkpoint: c - 1, into: out)
        }
        try writeRows(to: files.validationGradients(checkpoint: c), rows: configuration.validationRows, dimension: configuration.dimension) { v, out in
            validationGradient(row: v, checkpoint: c - 1, into: out)
        }
        let ids = files.directory.appendingPathComponent("grads_ckpt\(c).ids")
        var text = ""
        text.reserveCapacity(sampled * 10)
        for row in sampledRows { text += Self.id(row) + "\n" }
        try Data(text.utf8).write(to: ids)
        return ids
    }

    /// The pool's (rows `rows`, default all) and the validation set's embeddings.
    public func writeEmbeddings(to files: Files, rows: Range<Int>? = nil) throws {
        let range = rows ?? 0..<configuration.rows
        try writeRows(to: files.embeddings, rows: range.count, dimension: configuration.embeddingDimension) { r, out in
            poolEmbedding(row: range.lowerBound + r, into: out)
        }
        try writeValidationEmbeddings(to: files)
    }

    /// The validation set's embeddings alone (the target's `emb` column).
    public func writeValidationEmbeddings(to files: Files) throws {
        try writeRows(to: files.validationEmbeddings, rows: configuration.validationRows, dimension: configuration.embeddingDimension) { v, out in
            validationEmbedding(row: v, into: out)
        }
    }

    /// Streams `rows` x `dimension` float16 rows into a .npy, generating blocks of rows on all cores.
    private func writeRows(to url: URL, rows: Int, dimension: Int, _ generate: @escaping @Sendable (Int, UnsafeMutablePointer<Float>) -> Void) throws {
        var writer = try NpyWriter(url: url, dtype: .float16, shape: [rows, dimension])
        let blockRows = max(1, min(4096, (32 << 20) / max(1, dimension * 2)))
        let halves = UnsafeMutablePointer<UInt16>.allocate(capacity: blockRows * dimension)
        defer { halves.deallocate() }
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        var first = 0
        while first < rows {
            let count = min(blockRows, rows - first)
            let start = first
            let target = SendablePointer(halves)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: dimension)
                defer { scratch.deallocate() }
                var i = w
                while i < count {
                    generate(start + i, scratch)
                    qc_f32_to_f16(scratch, target.pointer + i * dimension, dimension)
                    i += workers
                }
            }
            try writer.append(UnsafeRawBufferPointer(start: halves, count: count * dimension * 2))
            first += count
        }
        try writer.finish()
    }

    private func writeCorpus(to url: URL, rows: Range<Int>) throws {
        guard let handle = FileHandle(forWritingAtPath: url.path) ?? {
            FileManager.default.createFile(atPath: url.path, contents: nil)
            return FileHandle(forWritingAtPath: url.path)
        }() else { throw CocoaError(.fileWriteUnknown) }
        defer { try? handle.close() }
        try handle.truncate(atOffset: 0)
        var buffer = ""
        for r in rows {
            buffer += record(row: r)
            if buffer.utf8.count > 1 << 20 {
                try handle.write(contentsOf: Data(buffer.utf8))
                buffer = ""
            }
        }
        try handle.write(contentsOf: Data(buffer.utf8))
    }

    /// The external id of a row.
    public static func id(_ row: Int) -> String { String(format: "p%07d", row) }

    func record(row r: Int) -> String {
        let source = plan.root(r)
        let words = Self.words(topic: plan.topic[r], seed: configuration.seed, key: UInt64(source), count: 18 + Int(qc_mix64(configuration.seed, UInt64(source)) % 30))
        var text = words.joined(separator: " ")
        if plan.copyOf[r] != nil && !plan.exactCopy[r] { text += " edited" }
        let duplicate = plan.copyOf[r].map { "\"\(Self.id($0))\"" } ?? "null"
        return "{\"id\": \"\(Self.id(r))\", \"domain\": \"\(Self.domainName(plan.topic[r]))\", \"text\": \"\(text).\", \"n_tokens\": \(words.count), \"dup_of\": \(duplicate)}\n"
    }

    static func words(topic: Int, seed: UInt64, key: UInt64, count: Int) -> [String] {
        (0..<count).map { i in
            let h = qc_mix64(seed &+ 77, key &* 131 &+ UInt64(i))
            return "t\(topic)w\(h % 40)"
        }
    }

    // MARK: Vectors

    /// Noise stream keys: row streams are keyed by (row, purpose, checkpoint).
    private func key(_ row: Int, _ purpose: UInt64, _ checkpoint: Int = 0) -> UInt64 {
        UInt64(row) &* 64 &+ purpose &* 8 &+ UInt64(checkpoint)
    }

    func poolGradient(row r: Int, checkpoint c: Int, into out: UnsafeMutablePointer<Float>) {
        let d = configuration.dimension
        let source = plan.root(r)
        // Persistent part: 0.9 pi, then the checkpoint part 0.5 eps added on top.
        let noiseScale = configuration.noise / Float(d).squareRoot()
        qc_fill_noise(configuration.seed, key(source, 1), 0.9 * noiseScale, out, d)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: d)
        defer { scratch.deallocate() }
        qc_fill_noise(configuration.seed, key(source, 2, c), 0.5 * noiseScale, scratch, d)
        for j in 0..<d { out[j] += scratch[j] }
        if plan.copyOf[r] != nil && !plan.exactCopy[r] {
            qc_fill_noise(configuration.seed, key(r, 3, c), 0.04 * noiseScale, scratch, d)
            for j in 0..<d { out[j] += scratch[j] }
        }
        let common = directions.common(c)
        let topic = directions.pool(topic: plan.topic[source], subtask: plan.subtask[source], checkpoint: c)
        let signal = plan.signal[source]
        let lrScale = Float((configuration.learningRates[c] / configuration.learningRates[0]).squareRoot())
        let scale = plan.scale[source] * lrScale * configuration.norm
        let commonWeight = configuration.common
        for j in 0..<d { out[j] = scale * (out[j] + commonWeight * common[j] + signal * topic[j]) }
    }

    func validationGradient(row v: Int, checkpoint c: Int, into out: UnsafeMutablePointer<Float>) {
        let d = configuration.dimension
        let direction = directions.subtask(v % configuration.subtasks, checkpoint: c)
        qc_fill_noise(configuration.seed &+ 1, UInt64(v) &* 16 &+ UInt64(c), configuration.validationNoise / Float(d).squareRoot(), out, d)
        for j in 0..<d { out[j] += direction[j] }
        normalize(out, d, to: 5)
    }

    func poolEmbedding(row r: Int, into out: UnsafeMutablePointer<Float>) {
        let e = configuration.embeddingDimension
        let source = plan.root(r)
        qc_fill_noise(configuration.seed &+ 2, UInt64(source), 0.25 / Float(e).squareRoot(), out, e)
        if plan.copyOf[r] != nil && !plan.exactCopy[r] {
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: e)
            defer { scratch.deallocate() }
            qc_fill_noise(configuration.seed &+ 3, UInt64(r), 0.01 / Float(e).squareRoot(), scratch, e)
            for j in 0..<e { out[j] += scratch[j] }
        }
        let centroid = directions.centroid(plan.topic[source])
        let subtopic = directions.subtopic(plan.topic[source], plan.subtopic[source])
        for j in 0..<e { out[j] += centroid[j] + 0.45 * subtopic[j] }
        normalize(out, e, to: 1)
    }

    func validationEmbedding(row v: Int, into out: UnsafeMutablePointer<Float>) {
        let e = configuration.embeddingDimension
        qc_fill_noise(configuration.seed &+ 4, UInt64(v), 0.25 / Float(e).squareRoot(), out, e)
        let centroid = directions.centroid(0)
        let subtopic = directions.subtopic(0, v % 6)
        for j in 0..<e { out[j] += centroid[j] + 0.45 * subtopic[j] }
        normalize(out, e, to: 1)
    }

    private func normalize(_ v: UnsafeMutablePointer<Float>, _ n: Int, to length: Float) {
        var sum: Float = 0
        for j in 0..<n { sum += v[j] * v[j] }
        let factor = sum > 0 ? length / sum.squareRoot() : 0
        for j in 0..<n { v[j] *= factor }
    }
}

extension ScalePool {
    /// Per-row facts, drawn once from (seed, row) and kept in O(n) memory.
    struct RowPlan: Sendable {
        var topic: [Int]
        var subtask: [Int]
        var subtopic: [Int]
        var scale: [Float]
        var signal: [Float]
        /// The earlier row this row copies, if any (never itself a copy).
        var copyOf: [Int?]
        var exactCopy: [Bool]

        init(_ configuration: Configuration) {
            let n = configuration.rows
            var random = SeededRandom(seed: configuration.seed)
            // Topic shares: the target, the near-target topic at twice the target's share, the rest
            // split unevenly among the other topics.
            let others = max(1, configuration.topics - 2)
            var weights = (0..<others).map { _ in 0.5 + random.nextUnitDouble() }
            let rest = max(0, 1 - 3 * configuration.targetShare)
            let total = weights.reduce(0, +)
            weights = weights.map { $0 / total * rest }
            var cumulative: [Double] = []
            var running = 0.0
            for share in [configuration.targetShare, 2 * configuration.targetShare] + weights {
                running += share
                cumulative.append(running)
            }
            topic = [Int](repeating: 0, count: n)
            subtask = [Int](repeating: 0, count: n)
            subtopic = [Int](repeating: 0, count: n)
            scale = [Float](repeating: 1, count: n)
            signal = [Float](repeating: 0, count: n)
            copyOf = [Int?](repeating: nil, count: n)
            exactCopy = [Bool](repeating: false, count: n)
            for r in 0..<n {
                var rowRandom = SeededRandom(seed: qc_mix64(configuration.seed, UInt64(r)))
                let u = rowRandom.nextUnitDouble() * running
                topic[r] = min(cumulative.count - 1, cumulative.firstIndex { u < $0 } ?? cumulative.count - 1)
                subtask[r] = rowRandom.nextInt(below: max(1, configuration.subtasks))
                subtopic[r] = rowRandom.nextInt(below: 6)
                scale[r] = Float(exp(0.2 * rowRandom.nextGaussian()))
                let strength = rowRandom.nextUnitDouble()
                if let range = configuration.signalRange {
                    signal[r] = range[0] + (range[1] - range[0]) * Float(strength)
                } else {
                    signal[r] = topic[r] == 0 ? Float(0.05 + 0.55 * strength) : Float(0.15 + 0.35 * strength)
                }
                if r > 0, rowRandom.nextUnitDouble() < configuration.duplicateShare {
                    // Documentation-like rows are mirrored more often: prefer an original of the same topic.
                    var original = rowRandom.nextInt(below: r)
                    for _ in 0..<8 where copyOf[original] != nil { original = rowRandom.nextInt(below: r) }
                    if copyOf[original] == nil {
                        copyOf[r] = original
                        exactCopy[r] = rowRandom.nextUnitDouble() < configuration.exactDuplicateFraction
                        topic[r] = topic[original]
                    }
                }
            }
        }

        /// The row whose random streams a row's vectors come from (itself, or the row it copies).
        func root(_ r: Int) -> Int { copyOf[r] ?? r }
    }

    /// The shared directions: common, topic and subtask directions per checkpoint, embedding centroids.
    final class Directions: @unchecked Sendable {
        let dimension: Int
        let embeddingDimension: Int
        let topics: Int
        /// Per checkpoint: common, then topics, then subtasks, each `dimension` values.
        private let gradient: UnsafeMutablePointer<Float>
        private let perCheckpoint: Int
        private let centroids: UnsafeMutablePointer<Float>
        private let subtopics: UnsafeMutablePointer<Float>

        init(_ configuration: Configuration) {
            let d = configuration.dimension, e = configuration.embeddingDimension
            topics = configuration.topics
            dimension = d
            embeddingDimension = e
            let seed = configuration.seed &+ 1000
            func unit(_ key: UInt64, _ n: Int) -> [Float] {
                var v = [Float](repeating: 0, count: n)
                qc_fill_noise(seed, key, 1, &v, n)
                let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                return v.map { $0 / norm }
            }
            func mix(_ a: [Float], _ wa: Float, _ b: [Float], _ wb: Float) -> [Float] {
                let v = zip(a, b).map { wa * $0 + wb * $1 }
                let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                return v.map { $0 / norm }
            }
            var bases = (0..<configuration.topics).map { unit(UInt64($0), d) }
            if bases.count > 1 { bases[1] = mix(bases[0], 0.55, bases[1], 0.835) }
            let subtaskBases = (0..<configuration.subtasks).map { mix(bases[0], configuration.subtaskLean, unit(UInt64(500 + $0), d), 0.6) }
            perCheckpoint = (1 + configuration.topics + configuration.subtasks) * d
            gradient = .allocate(capacity: configuration.checkpoints * perCheckpoint)
            for c in 0..<configuration.checkpoints {
                var all = unit(UInt64(900 + c), d)
                for (t, base) in bases.enumerated() { all += mix(base, 1, unit(UInt64(1000 + 100 * c + t), d), 0.25) }
                for (s, base) in subtaskBases.enumerated() { all += mix(base, 1, unit(UInt64(5000 + 100 * c + s), d), 0.25) }
                (gradient + c * perCheckpoint).update(from: all, count: perCheckpoint)
            }
            let centroidValues = (0..<configuration.topics).flatMap { unit(UInt64(7000 + $0), e) }
            centroids = .allocate(capacity: centroidValues.count)
            centroids.update(from: centroidValues, count: centroidValues.count)
            let subtopicValues = (0..<configuration.topics * 6).flatMap { unit(UInt64(9000 + $0), e) }
            subtopics = .allocate(capacity: subtopicValues.count)
            subtopics.update(from: subtopicValues, count: subtopicValues.count)
        }

        deinit {
            gradient.deallocate()
            centroids.deallocate()
            subtopics.deallocate()
        }

        func common(_ c: Int) -> UnsafePointer<Float> { UnsafePointer(gradient + c * perCheckpoint) }

        /// The direction a pool row of this topic (and subtask, for the target) follows.
        func pool(topic: Int, subtask: Int, checkpoint c: Int) -> UnsafePointer<Float> {
            let index = topic == 0 ? 1 + topics + subtask : 1 + topic
            return UnsafePointer(gradient + c * perCheckpoint + index * dimension)
        }

        func subtask(_ s: Int, checkpoint c: Int) -> UnsafePointer<Float> {
            UnsafePointer(gradient + c * perCheckpoint + (1 + topics + s) * dimension)
        }

        func centroid(_ topic: Int) -> UnsafePointer<Float> { UnsafePointer(centroids + topic * embeddingDimension) }

        func subtopic(_ topic: Int, _ s: Int) -> UnsafePointer<Float> {
            UnsafePointer(subtopics + (topic * 6 + s) * embeddingDimension)
        }
    }
}

/// A raw pointer handed to concurrent workers that write disjoint parts of it.
struct SendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
