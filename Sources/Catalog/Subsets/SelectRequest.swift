import Foundation
import Selectors

/// The selectors quadcat runs as queries.
public enum SelectorKind: String, CaseIterable, Codable, Sendable {
    case less, gtp, spice, quad, dpp, rds, random

    /// Whether the selector needs a target.
    public var needsTarget: Bool { self != .spice && self != .random }

}

/// A budget as the user wrote it: a row count ("600"), a share of the corpus ("5%"), or a share of the
/// rows a query leaves ("5%-of-candidates").
public struct Budget: Sendable, Equatable, CustomStringConvertible {
    public enum Amount: Sendable, Equatable {
        case rows(Int)
        case percent(Double)
        case percentOfCandidates(Double)
    }

    public var amount: Amount

    public static let candidatesSuffix = "-of-candidates"

    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let ofCandidates = trimmed.hasSuffix(Self.candidatesSuffix)
        let share = ofCandidates ? String(trimmed.dropLast(Self.candidatesSuffix.count)) : trimmed
        if share.hasSuffix("%"), let value = Double(share.dropLast()), value > 0, value <= 100 {
            amount = ofCandidates ? .percentOfCandidates(value) : .percent(value)
        } else if !ofCandidates, let value = Int(trimmed), value > 0 {
            amount = .rows(value)
        } else {
            throw CatalogError(
                .invalidRequest, "budget '\(text)' is neither a positive row count nor a percentage in (0, 100]",
                remedy: "for example --budget 600, --budget 5% (of the corpus) or --budget 5%-of-candidates (of the rows a query leaves)")
        }
    }

    /// Whether a percentage is of the candidates rather than of the corpus.
    public var isShareOfCandidates: Bool {
        if case .percentOfCandidates = amount { return true }
        return false
    }

    /// The number of rows for a corpus of `corpusRows` rows of which a query left `candidateRows`:
    /// a row count as given, "5%" of the corpus, "5%-of-candidates" of the candidates.
    public func rows(corpusRows: Int, candidateRows: Int) -> Int {
        isShareOfCandidates ? rows(of: candidateRows) : rows(of: corpusRows)
    }

    public init(rows: Int) { amount = .rows(rows) }

    /// The number of rows for a corpus of `rowCount` rows: a percentage rounds down, as LESS's
    /// `int(percentage * total)` does, but never below one row.
    public func rows(of rowCount: Int) -> Int {
        switch amount {
        case .rows(let n): min(n, rowCount)
        // p * n / 100 in that order is exact for whole-percent budgets of any realistic corpus; the
        // relative nudge keeps 29% of 12,000 at 3,480 when decimal percentages round just below.
        case .percent(let p), .percentOfCandidates(let p): max(1, min(rowCount, Int((p * Double(rowCount) / 100 * (1 + 1e-12)).rounded(.down))))
        }
    }

    public var description: String {
        switch amount {
        case .rows(let n): "\(n)"
        case .percent(let p): p == p.rounded() ? "\(Int(p))%" : "\(p)%"
        case .percentOfCandidates(let p): (p == p.rounded() ? "\(Int(p))%" : "\(p)%") + Self.candidatesSuffix
        }
    }
}

/// `select`: run a selector over stored columns and keep the result as a new subset version.
public struct SelectRequest: Sendable {
    public var corpus: String
    /// The target (validation set); required by LESS, GTP and Quad.
    public var target: String?
    public var selector: SelectorKind
    public var budget: Budget
    /// The subset name; an existing name gets a new version.
    public var name: String
    /// `--param key=value` overrides, checked by the selector.
    public var parameters: [String: String] = [:]
    public var seed: UInt64 = 0
    /// The gradient column (pool and target use the same name).
    public var gradientColumn = "grad"
    /// The embedding column Quad clusters and RDS compares (for RDS the target's column of the same name).
    public var embeddingColumn = "emb"
    /// Checkpoints to use: LESS and GTP default to all the pool has; SPICE and Quad to the last.
    public var checkpoints: [Int]?
    /// The rows to select among (`--where`, `--within`, `--exclude`, `--exclude-ids`); empty: all.
    public var query = SelectionQuery()
    /// The near-duplicate guard (`--dedup`); nil: none.
    public var dedup: DedupRequest?

    public init(corpus: String, target: String?, selector: SelectorKind, budget: Budget, name: String) {
        self.corpus = corpus
        self.target = target
        self.selector = selector
        self.budget = budget
        self.name = name
    }
}
