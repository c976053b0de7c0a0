import Catalog
import Foundation
import GRDB
import Selectors
import Testing
import TestSupport

/// `--where`: predicates over indexed fields against a brute-force filter of the fixture's records.
@Suite("Queries: predicates")
struct PredicateTests {
    typealias Value = QueryFixture.Value
    /// Three-valued truth: nil is unknown.
    typealias Truth = Bool?

    // MARK: The brute-force oracle (SQL's three-valued logic, written out per test)

    static func and(_ a: Truth, _ b: Truth) -> Truth { a == false || b == false ? false : (a == nil || b == nil ? nil : true) }
    static func or(_ a: Truth, _ b: Truth) -> Truth { a == true || b == true ? true : (a == nil || b == nil ? nil : false) }
    static func not(_ a: Truth) -> Truth { a.map { !$0 } }

    /// A value's number (booleans are 1 and 0), or nil.
    static func number(_ v: Value?) -> Double? {
        switch v {
        case .integer(let n)?: Double(n)
        case .real(let x)?: x
        case .boolean(let b)?: b ? 1 : 0
        default: nil
        }
    }

    static func text(_ v: Value?) -> [Unicode.Scalar]? {
        if case .text(let s)? = v { return Array(s.unicodeScalars) }
        return nil
    }

    static func isNull(_ v: Value?) -> Bool {
        switch v {
        case nil, .missing?, .null?, .array?: true
        default: false
        }
    }

    /// A number test: unknown for NULL and for text.
    static func numeric(_ v: Value?, _ test: (Double) -> Bool) -> Truth { number(v).map(test) }

    /// A text test: unknown for NULL and for numbers.
    static func textual(_ v: Value?, _ test: ([Unicode.Scalar]) -> Bool) -> Truth { text(v).map(test) }

    static func equalText(_ v: Value?, _ s: String) -> Truth { textual(v) { $0 == Array(s.unicodeScalars) } }

    static func less(_ a: [Unicode.Scalar], _ b: String) -> Bool {
        a.lexicographicallyPrecedes(Array(b.unicodeScalars)) { $0.value < $1.value }
    }

    /// LIKE by recursion on scalars (the definition, not the implementation's algorithm).
    static func like(_ t: ArraySlice<Unicode.Scalar>, _ p: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let first = p.first else { return t.isEmpty }
        if first == "%" { return (t.startIndex...t.endIndex).contains { like(t[$0...], p.dropFirst()) } }
        guard let c = t.first else { return false }
        return (first == "_" || first == c) && like(t.dropFirst(), p.dropFirst())
    }

    static func likeText(_ v: Value?, _ pattern: String) -> Truth { textual(v) { like($0[...], Array(pattern.unicodeScalars)[...]) } }

    static let cases: [(String, @Sendable ([String: Value]) -> Truth)] = [
        ("domain = 'web'", { equalText($0["domain"], "web") }),
        ("domain != 'web'", { not(equalText($0["domain"], "web")) }),
        ("domain <> 'web'", { not(equalText($0["domain"], "web")) }),
        ("domain = 'WEB'", { equalText($0["domain"], "WEB") }),
        ("domain = 'it''s'", { equalText($0["domain"], "it's") }),
        ("domain = 'caf\u{E9}'", { equalText($0["domain"], "caf\u{E9}") }),
        ("domain = 'ünï ✓'", { equalText($0["domain"], "ünï ✓") }),
        ("domain < 'c'", { textual($0["domain"]) { less($0, "c") } }),
        ("domain >= 'code'", { textual($0["domain"]) { !less($0, "code") } }),
        ("n_tokens < 100", { numeric($0["n_tokens"]) { $0 < 100 } }),
        ("n_tokens <= 100", { numeric($0["n_tokens"]) { $0 <= 100 } }),
        ("n_tokens > 250", { numeric($0["n_tokens"]) { $0 > 250 } }),
        ("n_tokens >= 250", { numeric($0["n_tokens"]) { $0 >= 250 } }),
        ("n_tokens = 1e2", { numeric($0["n_tokens"]) { $0 == 100 } }),
        ("n_tokens > -1 AND NOT n_tokens IN (1, 2, 3, 150)", { and(numeric($0["n_tokens"]) { $0 > -1 }, not(numeric($0["n_tokens"]) { [1, 2, 3, 150].contains($0) })) }),
        ("n_tokens >= 64 AND domain != 'bible'", { and(numeric($0["n_tokens"]) { $0 >= 64 }, not(equalText($0["domain"], "bible"))) }),
        ("domain = 'bible' OR n_tokens < 10", { or(equalText($0["domain"], "bible"), numeric($0["n_tokens"]) { $0 < 10 }) }),
        ("NOT (domain = 'web')", { not(equalText($0["domain"], "web")) }),
        ("not domain = 'web' or n_tokens is null", { or(not(equalText($0["domain"], "web")), isNull($0["n_tokens"])) }),
        ("domain IN ('web', 'code', 'it''s')", { textual($0["domain"]) { ["web", "code", "it's"].map { Array($0.unicodeScalars) }.contains($0) } }),
        ("domain NOT IN ('web', 'code')", { not(textual($0["domain"]) { ["web", "code"].map { Array($0.unicodeScalars) }.contains($0) }) }),
        ("domain IS NULL", { isNull($0["domain"]) }),
        ("domain IS NOT NULL", { !isNull($0["domain"]) }),
        ("tags IS NULL", { isNull($0["tags"]) }),
        ("domain LIKE 'w%'", { likeText($0["domain"], "w%") }),
        ("domain LIKE '_eb'", { likeText($0["domain"], "_eb") }),
        ("domain LIKE 'caf_'", { likeText($0["domain"], "caf_") }),
        ("domain LIKE '%'", { likeText($0["domain"], "%") }),
        ("domain NOT LIKE '%e%'", { not(likeText($0["domain"], "%e%")) }),
        ("score > 1.5", { numeric($0["score"]) { $0 > 1.5 } }),
        ("score = 2", { numeric($0["score"]) { $0 == 2 } }),
        ("score = 'n/a'", { equalText($0["score"], "n/a") }),
        ("score != 'n/a' AND score <= 1", { and(not(equalText($0["score"], "n/a")), numeric($0["score"]) { $0 <= 1 }) }),
        ("flag = TRUE", { numeric($0["flag"]) { $0 == 1 } }),
        ("flag = false", { numeric($0["flag"]) { $0 == 0 } }),
        ("flag = 1 OR flag IS NULL", { or(numeric($0["flag"]) { $0 == 1 }, isNull($0["flag"])) }),
        ("\"odd name\" = 'x'", { equalText($0["odd name"], "x") }),
        ("(domain = 'web' OR domain = 'code') AND (n_tokens IS NULL OR n_tokens > 150)",
         { and(or(equalText($0["domain"], "web"), equalText($0["domain"], "code")), or(isNull($0["n_tokens"]), numeric($0["n_tokens"]) { $0 > 150 })) }),
        ("domain = 'x''; DROP TABLE subset; --'", { equalText($0["domain"], "x'; DROP TABLE subset; --") }),
    ]

    @Test func everyOperatorMatchesTheBruteForceFilter() throws {
        let dir = TemporaryDirectory("predicates")
        let fixture = QueryFixture()
        let catalog = try fixture.build(in: dir.url)
        for (predicate, oracle) in Self.cases {
            let expected = fixture.records.indices.filter { oracle(fixture.records[$0]) == true }
            let got = try catalog.candidateRows(corpus: "pool", query: SelectionQuery(predicate: predicate))
            #expect(got == expected, "\(predicate): \(got.count) rows, expected \(expected.count)")
        }
        // The data exercises what it should: NULLs, both kinds in one field, unicode, the quote.
        let domains = fixture.records.map { $0["domain"]! }
        #expect(domains.contains(.missing) && domains.contains(.null) && domains.contains(.text("it's")) && domains.contains(.text("cafe\u{301}")))
        #expect(try catalog.candidateRows(corpus: "pool", query: SelectionQuery(predicate: "domain LIKE 'caf_'")).allSatisfy { domains[$0] == .text("caf\u{E9}") })
    }

    @Test func infoListsTheIndexedFieldsWithTypesAndNulls() throws {
        let dir = TemporaryDirectory("fields")
        let fixture = QueryFixture()
        let catalog = try fixture.build(in: dir.url)
        let fields = Dictionary(uniqueKeysWithValues: try catalog.info().corpora[0].fields.map { ($0.name, $0) })
        func count(_ name: String, _ kind: (Value) -> Bool) -> Int { fixture.records.count { kind($0[name]!) } }
        #expect(fields["domain"]!.type == "text" && fields["n_tokens"]!.type == "integer" && fields["flag"]!.type == "boolean")
        #expect(fields["score"]!.type == "mixed" && fields["tags"]!.type == "text" && fields["odd name"]!.type == "text")
        #expect(fields["domain"]!.nullValues == count("domain") { $0 == .missing || $0 == .null })
        #expect(fields["n_tokens"]!.integerValues == count("n_tokens") { if case .integer = $0 { true } else { false } })
        #expect(fields["score"]!.textValues == count("score") { $0 == .text("n/a") })
        #expect(fields["score"]!.realValues == count("score") { if case .real = $0 { true } else { false } })
        #expect(fields["tags"]!.otherValues == count("tags") { $0 == .array } && fields["tags"]!.nullValues == fields["tags"]!.otherValues)
    }

    @Test func fieldsIndexedLaterAndAppendedRowsAreIndexedToo() throws {
        let dir = TemporaryDirectory("index-later")
        let fixture = QueryFixture(rows: 120)
        try fixture.write(to: dir.url)
        let lines = fixture.jsonl.split(separator: "\n", omittingEmptySubsequences: true)
        try Data((lines[0..<70].joined(separator: "\n") + "\n").utf8).write(to: dir.file("a.jsonl"))
        try Data((lines[70...].joined(separator: "\n") + "\n").utf8).write(to: dir.file("b.jsonl"))
        let catalog = try Catalog.create(at: dir.file("c.quadcat"))
        var options = IngestOptions()
        options.indexFields = ["domain"]
        _ = try catalog.ingest(corpus: "pool", files: [dir.file("a.jsonl")], options: options)
        options.append = true
        options.indexFields = ["n_tokens"]
        let appended = try catalog.ingest(corpus: "pool", files: [dir.file("b.jsonl")], options: options)
        #expect(appended.indexedFields.map(\.name) == ["domain", "n_tokens"])
        let report = try catalog.index(corpus: "pool", fields: ["score", "domain"])
        #expect(report.added == ["score"] && report.alreadyIndexed == ["domain"] && report.fields.count == 3)
        for (predicate, oracle) in Self.cases where !predicate.contains("flag") && !predicate.contains("tags") && !predicate.contains("odd") {
            let expected = fixture.records.indices.filter { oracle(fixture.records[$0]) == true }
            #expect(try catalog.candidateRows(corpus: "pool", query: SelectionQuery(predicate: predicate)) == expected, "\(predicate)")
        }
        #expect(throws: CatalogError.self) { try catalog.index(corpus: "pool", fields: ["text"]) }
        #expect(throws: CatalogError.self) { try catalog.index(corpus: "nope", fields: ["domain"]) }
    }

    /// (predicate, position, words of the message)
    static let malformed: [(String, Int, String)] = [
        ("", 1, "empty"),
        ("   ", 1, "empty"),
        ("domain =", 9, "expected a value or a field after '='"),
        ("domain = 'web", 10, "unterminated text"),
        ("domain == 'web'", 9, "expected a value or a field after '='"),
        ("(domain = 'web'", 16, "expected ')' to close the '(' at position 1"),
        ("domain = 'web')", 15, "unexpected ')' after a complete predicate"),
        ("domain 'web'", 8, "expected a comparison"),
        ("n_tokens IN 1, 2", 13, "expected '(' and a list of values after IN"),
        ("n_tokens IN ()", 14, "expected a value in the IN list"),
        ("n_tokens IN (1 2)", 16, "expected ',' or ')' in the IN list"),
        ("n_tokens IN (1, NULL)", 17, "NULL cannot be in an IN list"),
        ("domain = NULL", 10, "use IS NULL"),
        ("domain IS 'x'", 11, "expected NULL after IS"),
        ("domain NOT 'x'", 12, "expected IN or LIKE after NOT"),
        ("domain LIKE 5", 13, "expected a text pattern"),
        ("n_tokens > 12abc", 12, "is not a number"),
        ("n_tokens > 1.", 14, "expected a digit after the decimal point"),
        ("n_tokens > 1e999", 12, "out of range"),
        ("n_tokens > - 'x'", 14, "expected a number after '-'"),
        ("domain = 'x' AND", 17, "expected a field, a value, NOT or '('"),
        ("1 = 1", 1, "compares values only"),
        ("domain = 'x' OR '1' = '1'", 17, "compares values only"),
        ("domain @ 'x'", 8, "unexpected character '@'"),
        ("domain ! 'x'", 8, "unexpected '!'"),
        ("\"\" = 1", 1, "an empty field name"),
        ("\"domain = 1", 1, "unterminated field name"),
        ("domain = 'x'; DROP TABLE subset", 13, "unexpected ';'"),
        ("domain = 'x' -- comment", 14, "unexpected '-' after a complete predicate"),
        ("domain = 'x' UNION SELECT 1", 14, "unexpected 'UNION' after a complete predicate"),
        ("domian = 'x'", 1, "'domian' is not an indexed field; indexed: domain (text), flag (boolean), n_tokens (integer), odd name (text), score (mixed), tags (text)"),
        ("domain = web", 10, "'web' is not an indexed field"),
        ("n_tokens = 'x'", 12, "'n_tokens' holds integer values and 'x' is text"),
        ("flag IN (TRUE, 'yes')", 1, "a number never equals a text"),
        ("n_tokens LIKE '1%'", 1, "'n_tokens' holds no text"),
        ("n_tokens = domain", 12, "a number never equals a text"),
    ]

    @Test func malformedAndHostilePredicatesAreRefusedWithTheirPositionAndChangeNothing() throws {
        let dir = TemporaryDirectory("malformed")
        let fixture = QueryFixture(rows: 60)
        let catalog = try fixture.build(in: dir.url)
        let schema = try DatabaseQueue(path: dir.file("q.quadcat/catalog.sqlite").path).read { db in
            try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        }
        for (predicate, position, words) in Self.malformed {
            var request = SelectRequest(corpus: "pool", target: "val", selector: .less, budget: Budget(rows: 5), name: "never")
            request.query.predicate = predicate
            do {
                _ = try catalog.select(request)
                Issue.record("\(predicate) was accepted")
            } catch let error as CatalogError {
                #expect(error.kind == .invalidRequest)
                #expect(error.message.hasPrefix("--where position \(position): "), "\(predicate): \(error.message)")
                #expect(error.message.contains(words), "\(predicate): \(error.message)")
            }
        }
        #expect(try catalog.subsets().isEmpty)
        let after = try DatabaseQueue(path: dir.file("q.quadcat/catalog.sqlite").path).read { db in
            try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        }
        #expect(after == schema)
        #expect(try catalog.verify().isHealthy)
    }

    @Test func theRecipeCoversThePredicateInCanonicalForm() throws {
        let dir = TemporaryDirectory("recipe")
        let catalog = try QueryFixture(rows: 200).build(in: dir.url)
        func select(_ predicate: String?, name: String = "r") throws -> SubsetInfo {
            var request = SelectRequest(corpus: "pool", target: "val", selector: .less, budget: Budget(rows: 20), name: name)
            request.query.predicate = predicate
            return try catalog.select(request)
        }
        let plain = try select(nil)
        let first = try select("n_tokens >= 64 AND domain != 'bible'")
        let respelled = try select("  ((n_tokens>=64)) and domain <> 'bible' ")
        #expect(first.recipeHash == respelled.recipeHash && first.contentHash == respelled.contentHash)
        #expect(first.query?.predicate == "n_tokens >= 64 AND domain != 'bible'" && respelled.query?.predicate == first.query?.predicate)
        #expect(first.recipeHash != plain.recipeHash && plain.query == nil)
        #expect(try select("n_tokens >= 65 AND domain != 'bible'").recipeHash != first.recipeHash)
        #expect(try select("domain != 'bible' AND n_tokens >= 64").recipeHash != first.recipeHash, "AND's operands in another order are another spelling")
        #expect(try select(nil).recipeHash == plain.recipeHash)
        let log = try catalog.log("r")
        #expect(log.map { $0.query?.predicate } == [nil, first.query?.predicate, first.query?.predicate, "n_tokens >= 65 AND domain != 'bible'", "domain != 'bible' AND n_tokens >= 64", nil])
    }
}

/// `--within`, `--exclude`, `--exclude-ids`, candidate budgets and the near-duplicate guard in the catalog.
@Suite("Queries: membership and the guard")
struct MembershipTests {
    static func less(_ name: String, budget: String, _ configure: (inout SelectRequest) throws -> Void = { _ in }) throws -> SelectRequest {
        var request = SelectRequest(corpus: "pool", target: "val", selector: .less, budget: try Budget(parsing: budget), name: name)
        try configure(&request)
        return request
    }

    @Test func withinExcludeAndExcludeIDsAreSetArithmeticOnTheFullRanking() throws {
        let dir = TemporaryDirectory("membership")
        let fixture = QueryFixture(rows: 400)
        let catalog = try fixture.build(in: dir.url)
        let full = try catalog.select(Self.less("full", budget: "400"))
        let ranking = try catalog.members(full.reference).map(\.row)
        #expect(ranking.count == 400)
        var random = SelectRequest(corpus: "pool", target: nil, selector: .random, budget: Budget(rows: 220), name: "w")
        random.seed = 3
        let within = Set(try catalog.members(catalog.select(random).reference).map(\.row))
        let top = Set(try catalog.members(catalog.select(Self.less("top", budget: "30")).reference).map(\.row))
        random.name = "r"
        random.seed = 8
        random.budget = Budget(rows: 40)
        let other = Set(try catalog.members(catalog.select(random).reference).map(\.row))
        let listed = Array(stride(from: 3, to: 400, by: 16))
        try Data((listed.map { fixture.id($0) } + ["", "not-a-doc", "doc-9999"]).joined(separator: "\r\n").utf8).write(to: dir.file("ids.txt"))
        let remaining = ranking.filter { within.contains($0) && !top.contains($0) && !other.contains($0) && !listed.contains($0) }

        let picked = try catalog.select(Self.less("picked", budget: "50") {
            $0.query = SelectionQuery(within: "w", exclude: ["top", "r@1"], excludeIDs: dir.file("ids.txt"))
        })
        #expect(try catalog.members(picked.reference).map(\.row) == Array(remaining.prefix(50)))
        #expect(picked.query?.candidates == remaining.count && picked.query?.within == "w@1" && picked.query?.exclude == ["top@1", "r@1"])
        #expect(picked.query?.excludeIDs?.ids == listed.count + 2 && picked.query?.excludeIDs?.matched == listed.count)
        #expect(picked.parents.map { "\($0.role) \($0.subset)" } == ["within w@1", "exclude top@1", "exclude r@1"])
        #expect(picked.diagnostics.notes[0].hasPrefix("candidates: \(remaining.count) of 400 rows"))
        #expect(picked.diagnostics.notes.contains { $0.contains("2 of the \(listed.count + 2) ids") && $0.contains("'doc-9999'") })
        #expect(picked.diagnostics.counters["candidateRows"] == Double(remaining.count))
        #expect(!picked.diagnostics.notes.contains { $0.contains("never considered") })

        // The same exclusions in another order are the same recipe; another exclusion is not.
        let swapped = try catalog.select(Self.less("picked", budget: "50") {
            $0.query = SelectionQuery(within: "w@1", exclude: ["r", "top"], excludeIDs: dir.file("ids.txt"))
        })
        #expect(swapped.recipeHash == picked.recipeHash && swapped.contentHash == picked.contentHash)
        let fewer = try catalog.select(Self.less("picked", budget: "50") { $0.query = SelectionQuery(within: "w", exclude: ["top"]) })
        #expect(fewer.recipeHash != picked.recipeHash)

        // Budgets: 5% of the corpus, or of the candidates.
        let ofCorpus = try catalog.select(Self.less("share", budget: "5%") { $0.query = SelectionQuery(within: "w") })
        let ofCandidates = try catalog.select(Self.less("share", budget: "10%-of-candidates") { $0.query = SelectionQuery(within: "w") })
        #expect(ofCorpus.rowCount == 20 && ofCandidates.rowCount == 22 && ofCandidates.budgetSpec == "10%-of-candidates")
        #expect(ofCandidates.query?.budgetBasis == "candidates" && ofCorpus.query?.budgetBasis == "corpus")
        #expect(try catalog.members(ofCandidates.reference).map(\.row) == Array(ranking.filter(within.contains).prefix(22)))
    }

    @Test func everySelectorStaysWithinTheCandidates() throws {
        let dir = TemporaryDirectory("candidates")
        let fixture = QueryFixture(rows: 300)
        let catalog = try fixture.build(in: dir.url)
        let query = SelectionQuery(predicate: "n_tokens < 200 AND domain IS NOT NULL")
        let candidates = Set(try catalog.candidateRows(corpus: "pool", query: query))
        #expect(candidates.count > 100 && candidates.count < 250)
        for selector in SelectorKind.allCases where selector != .rds {
            var request = SelectRequest(corpus: "pool", target: selector.needsTarget ? "val" : nil, selector: selector, budget: Budget(rows: 40), name: "c-\(selector.rawValue)")
            request.query = query
            if selector == .quad { request.parameters = ["clusters": "6", "tau": "-1e9"] }
            if selector == .gtp { request.parameters = ["groups": "4"] }
            let subset = try catalog.select(request)
            let rows = try catalog.members(subset.reference).map(\.row)
            #expect(!rows.isEmpty && rows.allSatisfy(candidates.contains), "\(selector)")
            if selector != .gtp { #expect(rows.count == 40, "\(selector)") }
            if selector == .random {
                #expect(rows == RowKeys.smallest(40, of: candidates.sorted(), seed: 0))
            }
        }
    }

    @Test func badMembershipRequestsAreRefused() throws {
        let dir = TemporaryDirectory("bad-membership")
        let fixture = QueryFixture(rows: 80)
        let catalog = try fixture.build(in: dir.url)
        _ = try catalog.ingest(corpus: "other", files: [dir.file("corpus.jsonl")])
        _ = try catalog.select(SelectRequest(corpus: "other", target: nil, selector: .random, budget: Budget(rows: 5), name: "elsewhere"))
        try Data("nope\nnada\n".utf8).write(to: dir.file("unknown.txt"))
        try Data("\n\n".utf8).write(to: dir.file("empty.txt"))
        let cases: [(SelectionQuery, String)] = [
            (SelectionQuery(within: "elsewhere"), "is a subset of another corpus"),
            (SelectionQuery(exclude: ["missing"]), "no subset or tag named 'missing'"),
            (SelectionQuery(excludeIDs: dir.file("unknown.txt")), "none of the 2 ids"),
            (SelectionQuery(excludeIDs: dir.file("empty.txt")), "lists no ids"),
            (SelectionQuery(excludeIDs: dir.file("absent.txt")), "cannot read --exclude-ids file"),
            (SelectionQuery(predicate: "n_tokens > 1000"), "the query leaves no rows to select from"),
        ]
        for (query, words) in cases {
            let error = #expect(throws: CatalogError.self) {
                _ = try catalog.select(try MembershipTests.less("never", budget: "5") { $0.query = query })
            }
            #expect(error?.description.contains(words) == true, "\(words): \(error?.description ?? "")")
        }
        for bad in ["5%-of-candidates%", "0%-of-candidates", "600-of-candidates"] { #expect(throws: CatalogError.self) { try Budget(parsing: bad) } }
        #expect(try Budget(parsing: "2.5%-of-candidates").rows(corpusRows: 1000, candidateRows: 400) == 10)
        #expect(try catalog.log("elsewhere").count == 1)
    }

    @Test func theGuardLeavesNoPairAtTheThresholdAndTakesTheNextRowsOfTheRanking() throws {
        let dir = TemporaryDirectory("dedup")
        let fixture = QueryFixture(rows: 400)
        let catalog = try fixture.build(in: dir.url)
        let ranking = try catalog.members(catalog.select(Self.less("full", budget: "400")).reference).map(\.row)
        let plain = try catalog.members(catalog.select(Self.less("plain", budget: "80")).reference).map(\.row)
        func closest(_ rows: [Int]) -> Double {
            rows.indices.flatMap { i in rows.indices.filter { $0 > i }.map { QueryFixture.cosine(fixture.embeddings, rows[i], rows[$0]) } }.max()!
        }
        #expect(closest(plain) >= 0.95, "the fixture must tempt LESS into near copies")
        let guarded = try catalog.select(Self.less("guarded", budget: "80") { $0.dedup = try DedupRequest(parsing: "emb:0.95") })
        let rows = try catalog.members(guarded.reference).map(\.row)
        var expected: [Int] = []
        for r in ranking where expected.count < 80 {
            if !expected.contains(where: { QueryFixture.cosine(fixture.embeddings, r, $0) >= 0.95 }) { expected.append(r) }
        }
        #expect(rows == expected && closest(rows) < 0.95)
        #expect(guarded.query?.dedup?.column == "emb" && guarded.query?.dedup?.refused == Int(guarded.diagnostics.counters["dedupRefused"]!))
        #expect(guarded.query!.dedup!.refused > 0 && guarded.inputs.contains { $0.role == "dedup" && $0.column == "emb" })
        #expect(guarded.diagnostics.notes.contains { $0.hasPrefix("near-duplicate guard (emb cosine >= 0.95): \(guarded.query!.dedup!.refused) candidate rows refused") })

        // The gradient column works too, at a named or the last checkpoint; the recipe follows the guard.
        let onGradients = try catalog.select(Self.less("g", budget: "80") { $0.dedup = try DedupRequest(parsing: "grad:0.95") })
        #expect(onGradients.query?.dedup?.checkpoint == 2)
        let first = try catalog.select(Self.less("g", budget: "80") { $0.dedup = try DedupRequest(parsing: "grad@1:0.95") })
        #expect(first.query?.dedup?.checkpoint == 1 && first.recipeHash != onGradients.recipeHash)
        let again = try catalog.select(Self.less("g", budget: "80") { $0.dedup = try DedupRequest(parsing: "grad:0.95") })
        #expect(again.recipeHash == onGradients.recipeHash && again.contentHash == onGradients.contentHash)
        let looser = try catalog.select(Self.less("g", budget: "80") { $0.dedup = try DedupRequest(parsing: "grad:0.9") })
        #expect(looser.recipeHash != onGradients.recipeHash)
        #expect(try catalog.select(Self.less("g", budget: "80")).recipeHash != onGradients.recipeHash)

        for bad in ["emb", "emb:0", "emb:1.5", "emb:x", ":0.9", "grad@x:0.9"] { #expect(throws: CatalogError.self) { try DedupRequest(parsing: bad) } }
        for (spec, words) in [("nope:0.9", "has no column 'nope'"), ("grad@7:0.9", "has no checkpoint 7")] {
            let error = #expect(throws: CatalogError.self) { try catalog.select(Self.less("never", budget: "5") { $0.dedup = try DedupRequest(parsing: spec) }) }
            #expect(error?.description.contains(words) == true)
        }
    }
}
