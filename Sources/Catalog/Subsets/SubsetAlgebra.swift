import Foundation
import GRDB
import Selectors

/// `quadcat combine CAT --as NAME A + B`: set operations on subsets of one corpus, left to right.
///
/// - `A + B`: union: A's members in A's rank order, then B's members that A lacks, in B's order.
/// - `A & B`: intersection: A's members that B has, in A's order.
/// - `A - B`: difference: A's members that B lacks, in A's order.
///
/// Every member keeps the score and weight it has in the subset it comes from.
public struct CombineExpression: Sendable, Equatable {
    public enum Operator: String, Sendable, Equatable {
        case union = "+", intersection = "&", difference = "-"
    }

    public struct Step: Sendable, Equatable {
        public var op: Operator
        public var subset: String
    }

    public var first: String
    public var steps: [Step]

    /// Parses `A + B`, `A & B - C`: subset references (`NAME`, `NAME@N` or a tag) separated by operators
    /// that stand apart (spaces around them: subset names may contain '-'). Words may come as separate
    /// arguments or as one string.
    public init(parsing words: [String]) throws {
        let tokens = words.flatMap { $0.split(whereSeparator: \.isWhitespace).map(String.init) }
        let remedy = "write subsets and operators apart: A + B (union), A & B (intersection), A - B (difference); quote & in a shell"
        guard let first = tokens.first else { throw CatalogError(.invalidRequest, "combine needs an expression such as A + B", remedy: remedy) }
        guard Operator(rawValue: first) == nil else { throw CatalogError(.invalidRequest, "the expression starts with the operator '\(first)'", remedy: remedy) }
        var steps: [Step] = []
        var i = 1
        while i < tokens.count {
            guard let op = Operator(rawValue: tokens[i]) else {
                throw CatalogError(.invalidRequest, "expected an operator (+, &, -) after '\(tokens[i - 1])', found '\(tokens[i])'", remedy: remedy)
            }
            guard i + 1 < tokens.count, Operator(rawValue: tokens[i + 1]) == nil else {
                throw CatalogError(.invalidRequest, "expected a subset after '\(tokens[i])'", remedy: remedy)
            }
            steps.append(Step(op: op, subset: tokens[i + 1]))
            i += 2
        }
        guard !steps.isEmpty else {
            throw CatalogError(.invalidRequest, "'\(first)' alone is not a combination", remedy: remedy)
        }
        self.first = first
        self.steps = steps
    }

    /// The members of `first op steps...`, evaluated left to right.
    static func evaluate(_ first: [Member], _ steps: [(Operator, [Member])]) -> [Member] {
        var result = first
        for (op, members) in steps {
            switch op {
            case .union:
                let have = Set(result.map(\.row))
                result += members.filter { !have.contains($0.row) }
            case .intersection:
                let other = Set(members.map(\.row))
                result = result.filter { other.contains($0.row) }
            case .difference:
                let other = Set(members.map(\.row))
                result = result.filter { !other.contains($0.row) }
            }
        }
        return result
    }
}

/// One part of `quadcat mix`: a subset and its share of the budget.
public struct MixPart: Sendable, Equatable {
    public var subset: String
    /// In (0, 1].
    public var share: Double

    public init(subset: String, share: Double) {
        self.subset = subset
        self.share = share
    }

    /// Parses `NAME[@N]=60%`.
    public init(parsing text: String) throws {
        let remedy = "for example: quadcat mix CATALOG --as NAME --budget 600 py-less=60% random=40%"
        guard let equals = text.lastIndex(of: "="), equals != text.startIndex else {
            throw CatalogError(.invalidRequest, "mix part '\(text)' is not SUBSET=SHARE%", remedy: remedy)
        }
        let share = text[text.index(after: equals)...]
        guard share.hasSuffix("%"), let percent = Double(share.dropLast()), percent > 0, percent <= 100 else {
            throw CatalogError(.invalidRequest, "mix part '\(text)': the share '\(share)' is not a percentage in (0, 100]", remedy: remedy)
        }
        self.init(subset: String(text[..<equals]), share: percent / 100)
    }
}

extension Catalog {
    /// Stores the result of a set operation on subsets as a new version of `name` (docs/ARCHITECTURE.md, "Queries"). Its
    /// lineage lists the operands with their content hashes; its recipe covers those hashes and the
    /// operators, so the same combination of the same members has the same recipe.
    public func combine(_ expression: CombineExpression, as name: String) throws -> SubsetInfo {
        let started = Date()
        let references = [expression.first] + expression.steps.map(\.subset)
        let operands = try loadParents(references, command: "combine")
        let members = CombineExpression.evaluate(operands[0].members, zip(expression.steps, operands.dropFirst()).map { ($0.op, $1.members) })
        let spelled = ([operands[0].reference] + zip(expression.steps, operands.dropFirst()).map { "\($0.op.rawValue) \($1.reference)" }).joined(separator: " ")
        var diagnostics = Diagnostics()
        diagnostics.notes.append("\(spelled): \(members.count) rows (" + operands.map { "\($0.reference) has \($0.members.count)" }.joined(separator: ", ") + ")")
        if members.isEmpty { diagnostics.notes.append("the result is empty") }
        var recipe = Hashing.SHA256()
        recipe.update("quadcat-recipe-v1\ncombine 1\n\(operands[0].row.contentHash)")
        for (step, operand) in zip(expression.steps, operands.dropFirst()) { recipe.update(" \(step.op.rawValue) \(operand.row.contentHash)") }
        struct Parameters: Encodable { var expression: String }
        return try store(SubsetDraft(
            name: name, corpusID: operands[0].row.corpusId, targetID: Self.commonTarget(operands), selector: "combine", selectorVersion: "1",
            parametersJSON: try CanonicalJSON.string(Parameters(expression: spelled)), seed: 0, budgetSpec: "\(members.count)",
            budget: members.count, selection: Selection(members: members, diagnostics: diagnostics), recipeHash: recipe.finalizeHex(),
            inputs: [], query: nil, parents: operands.map { ParentLink(role: "operand", subset: $0.row, share: nil) }, started: started))
    }

    /// Mixes subsets by quota into a new version of `name` (docs/ARCHITECTURE.md, "Queries"): each part, in order, gives its
    /// top-ranked rows not taken already until it has given its share of the budget (quotas are the
    /// shares of the budget rounded by largest remainder, so they add up to it); when a part runs out,
    /// the shortfall is filled from the parts' next ranks, part by part in the order given. Members
    /// keep their part's score and weight; the quota rows come first, part by part, then the fill.
    public func mix(_ parts: [MixPart], budget: Budget, as name: String) throws -> SubsetInfo {
        let started = Date()
        guard parts.count >= 2 else {
            throw CatalogError(.invalidRequest, "a mix needs at least two parts", remedy: "for example py-less=60% random=40%")
        }
        let total = parts.reduce(0) { $0 + $1.share }
        guard abs(total - 1) < 1e-9 else {
            throw CatalogError(
                .invalidRequest, "the shares add up to \(String(format: "%g", total * 100))%, not 100%",
                remedy: "give shares that add up to 100%, e.g. A=60% B=40%")
        }
        guard !budget.isShareOfCandidates else {
            throw CatalogError(.invalidRequest, "a mix has no candidates: give its budget as rows (600) or a share of the corpus (5%)")
        }
        let loaded = try loadParents(parts.map(\.subset), command: "mix")
        let corpusRows = try database.read { db in try Int.fetchOne(db, sql: "SELECT row_count FROM corpus WHERE id = ?", arguments: [loaded[0].row.corpusId])! }
        let rows = budget.rows(of: corpusRows)
        let quotas = Self.quotas(parts.map(\.share), total: rows)

        var members: [Member] = []
        var taken = Set<Int>()
        var cursor = [Int](repeating: 0, count: parts.count)
        var fromQuota = [Int](repeating: 0, count: parts.count)
        var filled = [Int](repeating: 0, count: parts.count)
        /// Takes up to `wanted` rows from the part's next ranks, skipping rows taken already.
        func take(from part: Int, _ wanted: Int) -> Int {
            var count = 0
            let list = loaded[part].members
            while count < wanted, cursor[part] < list.count {
                let member = list[cursor[part]]
                cursor[part] += 1
                if taken.insert(member.row).inserted {
                    members.append(member)
                    count += 1
                }
            }
            return count
        }
        for part in parts.indices { fromQuota[part] = take(from: part, quotas[part]) }
        for part in parts.indices where members.count < rows { filled[part] = take(from: part, rows - members.count) }

        var diagnostics = Diagnostics()
        for (i, part) in loaded.enumerated() {
            let share = String(format: "%g%%", parts[i].share * 100)
            var note = "\(part.reference) (\(share)): quota \(quotas[i]), took \(fromQuota[i])"
            if fromQuota[i] < quotas[i] { note += " (it has no more rows not taken already)" }
            if filled[i] > 0 { note += ", then \(filled[i]) more to fill shortfalls" }
            diagnostics.notes.append(note)
            diagnostics.counters["quota.\(i + 1)"] = Double(quotas[i])
            diagnostics.counters["taken.\(i + 1)"] = Double(fromQuota[i])
            diagnostics.counters["filled.\(i + 1)"] = Double(filled[i])
        }
        if members.count < rows {
            diagnostics.notes.append("the parts hold only \(members.count) distinct rows: the mix has \(members.count) of the \(rows) rows asked for")
        }
        var recipe = Hashing.SHA256()
        recipe.update("quadcat-recipe-v1\nmix 1\nbudget \(rows)\n")
        for (part, share) in zip(loaded, parts.map(\.share)) { recipe.update("part \(part.row.contentHash) \(share)\n") }
        struct Part: Encodable { var subset: String; var share: Double }
        struct Parameters: Encodable { var parts: [Part] }
        let parameters = Parameters(parts: zip(loaded, parts).map { Part(subset: $0.reference, share: $1.share) })
        return try store(SubsetDraft(
            name: name, corpusID: loaded[0].row.corpusId, targetID: Self.commonTarget(loaded), selector: "mix", selectorVersion: "1",
            parametersJSON: try CanonicalJSON.string(parameters), seed: 0, budgetSpec: budget.description, budget: rows,
            selection: Selection(members: members, diagnostics: diagnostics), recipeHash: recipe.finalizeHex(), inputs: [], query: nil,
            parents: zip(loaded, parts).map { ParentLink(role: "part", subset: $0.row, share: $1.share) }, started: started))
    }

    /// Shares of `total` rows in whole rows that add up to it: the floors, then one more row each to
    /// the largest remainders (ties to the earlier part).
    static func quotas(_ shares: [Double], total: Int) -> [Int] {
        let exact = shares.map { $0 * Double(total) }
        var quotas = exact.map { Int(($0 * (1 + 1e-12)).rounded(.down)) }
        let order = exact.indices.sorted { a, b in
            let ra = exact[a] - Double(quotas[a]), rb = exact[b] - Double(quotas[b])
            return ra > rb || (ra == rb && a < b)
        }
        var left = total - quotas.reduce(0, +)
        for i in order where left > 0 {
            quotas[i] += 1
            left -= 1
        }
        return quotas
    }

    /// A parent subset with its members.
    struct LoadedParent {
        var row: SubsetRow
        var members: [Member]
        var reference: String { "\(row.name)@\(row.version)" }
    }

    /// The subsets named, each with its members; all must belong to one corpus.
    func loadParents(_ references: [String], command: String) throws -> [LoadedParent] {
        try database.read { db in
            let rows = try references.map { try subsetRow($0, db) }
            if let other = rows.first(where: { $0.corpusId != rows[0].corpusId }) {
                throw CatalogError(
                    .invalidRequest, "\(command): \(other.name)@\(other.version) and \(rows[0].name)@\(rows[0].version) are subsets of different corpora",
                    remedy: "\(command) subsets of one corpus")
            }
            return try rows.map { row in
                LoadedParent(row: row, members: try ChunkDecoder(cache: segments, array: ArrayIndex.load(row.membersArrayId, db)).members())
            }
        }
    }

    /// The target all parents were selected for, if they share one.
    static func commonTarget(_ parents: [LoadedParent]) -> Int64? {
        let targets = Set(parents.map(\.row.targetId))
        return targets.count == 1 ? targets.first! : nil
    }
}
