import Foundation
import GRDB
import Selectors

/// Options for `compare`.
public struct CompareOptions: Sendable {
    /// The target to score against; nil: the target of the first subset that has one.
    public var target: String?
    /// A record field whose value distribution is reported per subset (e.g. "domain"); nil: none.
    public var labelField: String?
    /// SPICE's alpha for log det F(S).
    public var alpha = 1.0
    /// GTP's target groups for the residual.
    public var groups = 32
    /// Cosine at or above which two members' embeddings count as near duplicates.
    public var nearDuplicateCosine = 0.95
    /// Near duplicates are searched only in subsets up to this size (the search is quadratic).
    public var nearDuplicateLimit = 20_000
    /// GTP's residual is computed only for subsets up to this size: its non-negative fit works on a
    /// rows x rows Gram matrix of trajectories (a 13,500-row subset of 4 x 512-dim trajectories takes
    /// about a minute, the other criteria together a few seconds).
    public var gtpResidualLimit = 5_000
    public var seed: UInt64 = 0
    public var gradientColumn = "grad"
    public var embeddingColumn = "emb"
    /// Order the subsets by this recorded metric (`quadcat metric`), ascending unless `descending`;
    /// subsets without it come last. nil: in the order given.
    public var sortBy: String?
    public var descending = false

    public init() {}
}

/// `compare`: subsets of one corpus side by side.
public struct CompareReport: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public var subset: String
        public var selector: String
        public var parameters: String
        public var seconds: Double
        public var rows: Int
        /// Mean LESS score of the members (cosine, learning-rate weighted, max over subtasks).
        public var meanLESSScore: Double?
        /// log det(I + alpha sum g g^T) over the members, on the last gradient checkpoint.
        public var logDet: Double?
        /// ||Y - A W|| / ||Y|| of the best non-negative fit of the target's trajectory on the members.
        public var gtpResidual: Double?
        /// Mean Quad influence <g/|g|, mean unit target gradient> of the members (last checkpoint).
        public var meanInfluence: Double?
        /// Embedding clusters (Quad's arms) with at least one member, and the entropy (bits) of the
        /// members' distribution over clusters.
        public var clustersCovered: Int?
        public var clusterEntropyBits: Double?
        /// Pairs of members with byte-identical text.
        public var exactDuplicatePairs: Int
        /// Pairs of members whose embeddings have cosine >= the threshold (exact duplicates included);
        /// nil when the subset is larger than the search limit or there is no embedding column.
        public var nearDuplicatePairs: Int?
        /// Counts of each value of the label field among the members.
        public var labels: [String: Int]?
        /// Downstream measurements recorded against the subset (the latest value per key).
        public var metrics: [String: Double] = [:]
    }

    public struct Overlap: Codable, Sendable {
        public var a: String
        public var b: String
        public var shared: Int
        public var jaccard: Double
    }

    public var corpus: String
    public var target: String?
    public var labelField: String?
    /// The label distribution over the whole corpus, for base rates.
    public var corpusLabels: [String: Int]?
    public var totalClusters: Int?
    public var entries: [Entry]
    public var overlaps: [Overlap]
    /// Which criteria could not be computed, and why.
    public var notes: [String]
    /// The metric the entries are ordered by, if any.
    public var sortedBy: String?
}

/// What `compare` read and computed on its way to a ``CompareReport``.
struct CompareWorkings {
    /// A per-row criterion computed over the whole corpus (NaN where a row cannot be scored).
    struct RowCriterion {
        var name: String
        /// The ``CompareReport/Entry`` field holding the members' mean of this criterion.
        var meanField: String
        var about: String
        var values: [Float]
    }

    var report: CompareReport
    /// The compared subsets and their members, in the order of `report.entries`.
    var subsets: [SubsetInfo]
    var members: [[Member]]
    var rowCriteria: [RowCriterion]
}

/// `diff`: rows only in A and only in B.
public struct DiffReport: Codable, Sendable {
    public struct Row: Codable, Sendable {
        public var row: Int
        public var id: String
        /// Rank (1-based) and score in the subset that has the row.
        public var rank: Int
        public var score: Double
    }

    public var a: String
    public var b: String
    public var shared: Int
    public var onlyA: [Row]
    public var onlyB: [Row]
}

extension Catalog {
    /// Scores every subset under every selector's own criterion, with overlaps, duplicates and labels
    /// (`quadcat compare`).
    public func compare(_ references: [String], options: CompareOptions = CompareOptions()) throws -> CompareReport {
        try compareWorkings(references, options: options).report
    }

    /// `compare` plus what it read and scored on the way (the subsets, their members, and the per-row
    /// criteria over the whole corpus), so a report charts them without a second scoring pass.
    func compareWorkings(_ references: [String], options: CompareOptions) throws -> CompareWorkings {
        guard !references.isEmpty else { throw CatalogError(.invalidRequest, "name at least one subset to compare") }
        let infos = try references.map { try subset($0) }
        let corpus = infos[0].corpus
        if let other = infos.first(where: { $0.corpus != corpus }) {
            throw CatalogError(.invalidRequest, "\(other.reference) is a subset of corpus '\(other.corpus)', \(infos[0].reference) of '\(corpus)'", remedy: "compare subsets of one corpus")
        }
        let memberLists = try infos.map { try members($0.reference) }
        var notes: [String] = []

        // The inputs the criteria need, resolved through the same path `select` uses.
        let targetName = options.target ?? infos.compactMap(\.target).first
        var request = SelectRequest(corpus: corpus, target: targetName, selector: .less, budget: Budget(rows: 1), name: "compare")
        request.gradientColumn = options.gradientColumn
        request.embeddingColumn = options.embeddingColumn
        let trajectory: SelectorInputs? = try targetName == nil ? nil : database.read { db in
            do {
                if let set = sharding.set(for: corpus) { return try set.selectorInputs(request) }
                return try SelectorInputs.resolve(request, catalog: self, db)
            } catch let error as CatalogError {
                notes.append("trajectory criteria skipped: \(error.message)")
                return nil
            }
        }
        if targetName == nil { notes.append("no target: LESS score, GTP residual and Quad influence need --target") }
        let lastGradient: (any VectorSource)? = try? {
            let checkpoints = try columns(corpus: corpus).filter { $0.name == options.gradientColumn && $0.kind == .gradient }
            guard let last = checkpoints.last else { return nil }
            return try vectorSource(corpus: corpus, column: last.name, checkpoint: last.checkpoint)
        }()
        let embeddings: (any VectorSource)? = try? vectorSource(corpus: corpus, column: options.embeddingColumn)
        if embeddings == nil { notes.append("no embedding column '\(options.embeddingColumn)': clusters and near duplicates skipped") }

        let lessScores = try trajectory.map { try LESS.scores(checkpoints: $0.checkpoints, targetSubtasks: $0.targetSubtasks).values }
        let influences = try trajectory.map { inputs in try Quad.influences(gradients: inputs.checkpoints.last!.pool, target: inputs.checkpoints.last!.target) }
        let clusters = try embeddings.map { try Quad.clusterAssignments(embeddings: $0, clusters: nil, seed: options.seed, sample: 100_000) }
        let totalClusters = clusters.map { Set($0.filter { $0 >= 0 }).count }
        let gtpParameters = GTP.Parameters(groups: options.groups, iterations: 20, tolerance: 1e-4, seed: options.seed)
        let (hashes, labelValues) = try documentFacts(corpus: corpus, labelField: options.labelField)

        var entries: [CompareReport.Entry] = []
        var residualSkipped: [String] = []
        for (info, members) in zip(infos, memberLists) {
            let rows = members.map(\.row)
            func mean(_ values: [Float]?) -> Double? {
                guard let values else { return nil }
                let finite = rows.map { Double(values[$0]) }.filter(\.isFinite)
                return finite.isEmpty ? nil : finite.reduce(0, +) / Double(finite.count)
            }
            var entry = CompareReport.Entry(
                subset: info.reference, selector: info.selector, parameters: info.parameters, seconds: info.elapsedSeconds,
                rows: rows.count, meanLESSScore: mean(lessScores), logDet: nil, gtpResidual: nil, meanInfluence: mean(influences),
                clustersCovered: nil, clusterEntropyBits: nil, exactDuplicatePairs: Self.pairsSharing(rows.map { hashes[$0] }),
                nearDuplicatePairs: nil, labels: labelValues.map { values in rows.reduce(into: [:]) { $0[values[$1], default: 0] += 1 } },
                metrics: Dictionary(uniqueKeysWithValues: info.metrics.map { ($0.key, $0.value) }))
            if let lastGradient { entry.logDet = try SPICE.logDet(of: rows, gradients: lastGradient, alpha: options.alpha) }
            if let trajectory, !rows.isEmpty {
                if rows.count <= options.gtpResidualLimit {
                    entry.gtpResidual = try GTP.relativeResidual(of: rows, checkpoints: trajectory.checkpoints, parameters: gtpParameters)
                } else {
                    residualSkipped.append(info.reference)
                }
            }
            if let clusters {
                let assigned = rows.map { clusters[$0] }.filter { $0 >= 0 }
                let counts = assigned.reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
                entry.clustersCovered = counts.count
                // Summed in cluster order: a dictionary's order differs between runs, and so would the last bits.
                entry.clusterEntropyBits = -counts.keys.sorted().reduce(0.0) { sum, cluster in
                    let p = Double(counts[cluster]!) / Double(assigned.count)
                    return sum + p * log2(p)
                }
            }
            if let embeddings, rows.count <= options.nearDuplicateLimit {
                entry.nearDuplicatePairs = try Self.nearDuplicatePairs(rows, embeddings: embeddings, threshold: options.nearDuplicateCosine)
            }
            entries.append(entry)
        }
        if !residualSkipped.isEmpty {
            notes.append("GTP residual not computed for \(residualSkipped.joined(separator: ", ")): more than \(options.gtpResidualLimit) rows (the fit grows with the square of the rows); raise the limit with --gtp-residual-limit")
        }
        var overlaps: [CompareReport.Overlap] = []
        for i in 0..<infos.count {
            for j in (i + 1)..<max(i + 1, infos.count) {
                let a = Set(memberLists[i].map(\.row)), b = Set(memberLists[j].map(\.row))
                let shared = a.intersection(b).count
                let union = a.union(b).count
                overlaps.append(.init(a: infos[i].reference, b: infos[j].reference, shared: shared, jaccard: union == 0 ? 0 : Double(shared) / Double(union)))
            }
        }
        var subsetsInOrder = infos, membersInOrder = memberLists
        if let key = options.sortBy {
            guard entries.contains(where: { $0.metrics[key] != nil }) else {
                let keys = Set(entries.flatMap(\.metrics.keys)).sorted()
                throw CatalogError(
                    .invalidRequest, "no compared subset has a metric '\(key)'",
                    remedy: keys.isEmpty ? "record one with `quadcat metric CATALOG NAME@N \(key)=VALUE`" : "metrics recorded: \(keys.joined(separator: ", "))")
            }
            let order = Self.sortedOrder(entries, by: key, descending: options.descending)
            entries = order.map { entries[$0] }
            subsetsInOrder = order.map { infos[$0] }
            membersInOrder = order.map { memberLists[$0] }
        }
        let report = CompareReport(
            corpus: corpus, target: targetName, labelField: options.labelField,
            corpusLabels: labelValues.map { $0.reduce(into: [:]) { $0[$1, default: 0] += 1 } }, totalClusters: totalClusters,
            entries: entries, overlaps: overlaps, notes: notes, sortedBy: options.sortBy)
        var criteria: [CompareWorkings.RowCriterion] = []
        if let lessScores {
            criteria.append(.init(name: "LESS score", meanField: "meanLESSScore", about: "learning-rate weighted cosine of each row's gradient trajectory with the target's, max over subtasks", values: lessScores))
        }
        if let influences {
            criteria.append(.init(name: "Quad influence", meanField: "meanInfluence", about: "cosine of each row's last-checkpoint gradient with the mean unit target gradient", values: influences))
        }
        return CompareWorkings(report: report, subsets: subsetsInOrder, members: membersInOrder, rowCriteria: criteria)
    }

    /// The entries' positions ordered by a metric (stable: ties and entries without it keep their
    /// order, the latter last).
    static func sortedOrder(_ entries: [CompareReport.Entry], by key: String, descending: Bool) -> [Int] {
        entries.enumerated().sorted { a, b in
            switch (a.element.metrics[key], b.element.metrics[key]) {
            case let (x?, y?): return x == y ? a.offset < b.offset : (descending ? x > y : x < y)
            case (_?, nil): return true
            case (nil, _?): return false
            case (nil, nil): return a.offset < b.offset
            }
        }.map(\.offset)
    }

    /// Rows only in `a`, only in `b` (`quadcat diff`).
    public func diff(_ a: String, _ b: String) throws -> DiffReport {
        let infoA = try subset(a), infoB = try subset(b)
        guard infoA.corpus == infoB.corpus else {
            throw CatalogError(.invalidRequest, "\(infoA.reference) and \(infoB.reference) are subsets of different corpora")
        }
        let membersA = try members(infoA.reference), membersB = try members(infoB.reference)
        let rowsA = Set(membersA.map(\.row)), rowsB = Set(membersB.map(\.row))
        func only(_ members: [Member], notIn other: Set<Int>) throws -> [DiffReport.Row] {
            let picked = members.enumerated().filter { !other.contains($0.element.row) }
            let ids = try externalIDs(corpus: infoA.corpus, rows: picked.map(\.element.row))
            return zip(picked, ids).map { DiffReport.Row(row: $0.element.row, id: $1, rank: $0.offset + 1, score: $0.element.score) }
        }
        return DiffReport(
            a: infoA.reference, b: infoB.reference, shared: rowsA.intersection(rowsB).count,
            onlyA: try only(membersA, notIn: rowsB), onlyB: try only(membersB, notIn: rowsA))
    }

    /// Each document's text hash, and (optionally) each record's value of a label field.
    private func documentFacts(corpus: String, labelField: String?) throws -> ([Data], [String]?) {
        let hashes = try sharding.set(for: corpus)?.contentHashes() ?? database.read { db in
            try Data.fetchAll(db, sql: "SELECT content_hash FROM document WHERE corpus_id = ? ORDER BY row", arguments: [CorpusRow.named(corpus, db).id])
        }
        guard let labelField else { return (hashes, nil) }
        var labels: [String] = []
        labels.reserveCapacity(hashes.count)
        try forEachRecord(corpus: corpus) { _, bytes in
            let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
            switch object?[labelField] {
            case let s as String: labels.append(s)
            case let n as NSNumber: labels.append(n.stringValue)
            case nil, is NSNull: labels.append("(none)")
            default: labels.append("(other)")
            }
        }
        return (hashes, labels)
    }

    /// Pairs (i < j) of equal keys.
    static func pairsSharing<K: Hashable>(_ keys: [K]) -> Int {
        keys.reduce(into: [K: Int]()) { $0[$1, default: 0] += 1 }.values.reduce(0) { $0 + $1 * ($1 - 1) / 2 }
    }

    /// Pairs of rows whose vectors have cosine >= `threshold`, from the Gram matrix of the unit rows
    /// computed a block of rows at a time (memory: blockRows x rows, not rows x rows).
    static func nearDuplicatePairs(_ rows: [Int], embeddings: any VectorSource, threshold: Double) throws -> Int {
        let usable = rows.filter { embeddings.isUsable($0) }
        guard usable.count > 1 else { return 0 }
        var unit = try embeddings.gather(rows: usable)
        let d = unit.columns
        for r in 0..<unit.rows {
            let norm = (0..<d).reduce(Float(0)) { $0 + unit[r, $1] * unit[r, $1] }.squareRoot()
            if norm > 0 { for j in 0..<d { unit[r, j] /= norm } }
        }
        let blockRows = 1024
        var pairs = 0
        for start in stride(from: 0, to: usable.count, by: blockRows) {
            let block = unit.rows(Array(start..<min(usable.count, start + blockRows)))
            let gram = block.multiplied(by: unit, transposeOther: true)
            for b in 0..<block.rows {
                let i = start + b
                for j in (i + 1)..<usable.count where Double(gram[b, j]) >= threshold { pairs += 1 }
            }
        }
        return pairs
    }
}
