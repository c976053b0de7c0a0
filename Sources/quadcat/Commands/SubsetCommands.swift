import ArgumentParser
import Catalog
import Foundation
import Selectors

extension SelectorKind: ExpressibleByArgument {}
extension ExportFormat: ExpressibleByArgument {}
extension WeightScale: ExpressibleByArgument {}

struct SelectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "select", abstract: "Run a selector over stored columns and keep the result as a versioned subset.",
        discussion: """
            Selectors (docs/SELECTORS.md has the exact math):
              less    LESS (Xia et al. 2024): learning-rate-weighted cosine of each
                      row's gradient trajectory with the target's, mean within a
                      subtask, max over subtasks; top k.
                      param: similarity=cosine|inner-product
              gtp     Gradient Trajectory Pursuit (Deng, Li, Li 2024). There is no
                      public code: this is a reconstruction from the paper and
                      CoSaMP (Needell & Tropp 2009) with non-negative least
                      squares. Joint sparse non-negative matching of the target's
                      trajectory; may return fewer rows than the budget (it says
                      so); rows get weights.
                      params: groups=32 iterations=20 tolerance=1e-4
              spice   SPICE (Chang et al. 2026): greedy log det(I + alpha sum g g^T)
                      minus rho times the gradient conflict, lazy greedy.
                      params: alpha=1 rho=0.1 halflife= lazy=true
                      mode=global|stochastic|pool epsilon=0.01 pool=128
                      per_pool=
              quad    Quad (Zhang et al. 2025): k-means clusters of embeddings as
                      bandit arms, UCB over sampled influence with threshold tau.
                      params: clusters= alpha= arms= bEst=0.05 gamma=0.25 tau=
                      tauQuantile=0.8 radius= kmeansSample= tauSample= maxRounds=
                      strict=false
              dpp     quality-weighted DPP: greedy log det of the unit gradient
                      trajectories, each row weighted by exp(beta * its
                      standardised LESS score); target-aware diversity.
                      params: beta=1 lazy=true fill=true
              rds     RDS (the LESS paper's baseline): cosine of each row's
                      embedding with the mean of the target's embeddings (a
                      target embedding column of the --embedding-column name).
              random  seeded uniform sample (the rows with the smallest keys
                      h(seed, row)).
            LESS, GTP and DPP read every gradient checkpoint; SPICE and Quad
            read the last (--checkpoints N). Running the same request again gives a new
            version with the same recipe and content hashes.

            Queries: the selector sees only the rows that remain after
              --where EXPR       a predicate over indexed fields (ingest --index-field,
                                 quadcat index): comparisons = != < <= > >=,
                                 IN (...), IS [NOT] NULL, [NOT] LIKE '%pattern_',
                                 AND, OR, NOT, parentheses; 'text' in single quotes,
                                 "odd field names" in double quotes. A comparison
                                 with a missing value is never true.
                                 e.g. --where "domain != 'bible' AND n_tokens >= 64"
              --within NAME[@N]  the rows of a subset
              --exclude NAME[@N] minus a subset's rows (repeatable)
              --exclude-ids FILE minus the documents listed, one id per line
            --budget 5% stays a share of the corpus; 5%-of-candidates is a share of
            the rows that remain.
            --dedup COLUMN[@CKPT]:COSINE (e.g. emb:0.95) refuses any row whose
            cosine with a member already chosen reaches COSINE: ranked selectors
            take the next row of their ranking, greedy ones choose again, Quad
            skips it in its slice, GTP drops it (heaviest first) and refits.
            """)

    @OptionGroup var path: CatalogPath
    @Option(help: "The corpus to select from.") var corpus: String
    @Option(help: "The target (validation set); needed by all but spice and random.") var target: String?
    @Option(help: "less, gtp, spice, quad, dpp, rds or random.") var selector: SelectorKind
    @Option(help: "Rows to select: a count (600), a share of the corpus (5%), or of the rows a query leaves (5%-of-candidates).") var budget: String
    @Option(name: .customLong("as"), help: "Subset name; an existing name gets a new version.") var name: String
    @Option(name: .customLong("param"), help: "Selector parameter key=value (repeatable).") var parameters: [String] = []
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Gradient column name (pool and target).") var gradientColumn = "grad"
    @Option(help: "Embedding column name (quad; rds, also the target's).") var embeddingColumn = "emb"
    @Option(help: "Checkpoints to use, comma-separated (default: all for less/gtp, the last for spice/quad).") var checkpoints: String?
    @Option(name: .customLong("where"), help: "Select among the rows where this predicate over indexed fields holds.") var predicate: String?
    @Option(help: ArgumentHelp("Select among this subset's rows only.", valueName: "NAME[@N]")) var within: String?
    @Option(help: ArgumentHelp("Never select this subset's rows (repeatable).", valueName: "NAME[@N]")) var exclude: [String] = []
    @Option(help: ArgumentHelp("Never select the documents whose ids this file lists, one per line.", valueName: "FILE")) var excludeIds: String?
    @Option(help: ArgumentHelp("Refuse rows whose cosine with a chosen member reaches COSINE in this column.", valueName: "COLUMN[@CKPT]:COSINE")) var dedup: String?
    @Flag(help: "Print the new subset as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let catalog = try path.open()
            var request = SelectRequest(corpus: corpus, target: target, selector: selector, budget: try Budget(parsing: budget), name: name)
            request.parameters = try ParameterBag.pairs(parameters)
            request.seed = seed
            request.gradientColumn = gradientColumn
            request.embeddingColumn = embeddingColumn
            request.query = SelectionQuery(
                predicate: predicate, within: within, exclude: exclude, excludeIDs: excludeIds.map { URL(fileURLWithPath: $0) })
            request.dedup = try dedup.map(DedupRequest.init(parsing:))
            if let checkpoints {
                request.checkpoints = try checkpoints.split(separator: ",").map {
                    guard let n = Int($0.trimmingCharacters(in: .whitespaces)) else {
                        throw CatalogError(.invalidRequest, "--checkpoints '\(checkpoints)' is not a comma-separated list of numbers")
                    }
                    return n
                }
            }
            let subset = try catalog.select(request, progress: Terminal.progressLine())
            Terminal.endProgress()
            if json { return try Terminal.printJSON(subset) }
            print("\(subset.reference): \(subset.rowCount) of \(subset.budget) rows selected by \(subset.selector) in \(Format.seconds(subset.elapsedSeconds))")
            print("  recipe \(subset.recipeHash.prefix(12))  content \(subset.contentHash.prefix(12))  params \(subset.parameters)")
            for note in subset.diagnostics.notes { print("  note: \(note)") }
        }
    }
}

struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "List the versions of a subset (or the latest version of every subset).")

    @OptionGroup var path: CatalogPath
    @Argument(help: "Subset name (omit to list every subset).") var name: String?
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let catalog = try path.open()
            let versions = try name.map { try catalog.log($0) } ?? catalog.subsets()
            if json { return try Terminal.printJSON(versions) }
            if versions.isEmpty { return print("no subsets yet: make one with `quadcat select`") }
            var table = TextTable(["subset", "selector", "rows", "budget", "seed", "recipe", "content", "time", "created", "tags", "metrics"], rightAligned: [2, 4, 7])
            for v in versions {
                table.add([
                    v.reference, "\(v.selector) v\(v.selectorVersion)", "\(v.rowCount)", v.budgetSpec, "\(v.seed)",
                    String(v.recipeHash.prefix(10)), String(v.contentHash.prefix(10)), Format.seconds(v.elapsedSeconds),
                    String(v.createdAt.prefix(19)), v.tags.joined(separator: ","), LineageView.metrics(v.metrics),
                ])
            }
            print(table.render())
            if let name, let last = versions.last {
                print("\n\(name): corpus '\(last.corpus)'\(last.target.map { ", target '\($0)'" } ?? ""); latest params \(last.parameters)")
                for input in last.inputs { print("  input \(input.role) \(input.column)\(input.checkpoint > 0 ? "@\(input.checkpoint)" : "") \(input.contentHash.prefix(12))") }
                for line in LineageView.lines(last) { print("  " + line) }
            }
        }
    }
}

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a subset version: its lineage and its top rows with scores and text.")

    @OptionGroup var path: CatalogPath
    @Argument(help: "NAME, NAME@VERSION or a tag.") var subset: String
    @Option(help: "Rows to show.") var limit = 10
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let catalog = try path.open()
            let info = try catalog.subset(subset)
            let top = try catalog.topMembers(info.reference, limit: limit)
            if json {
                struct Shown: Encodable { var subset: SubsetInfo; var top: [MemberView] }
                return try Terminal.printJSON(Shown(subset: info, top: top))
            }
            print("\(info.reference): \(info.rowCount) rows of corpus '\(info.corpus)' by \(info.selector) v\(info.selectorVersion), budget \(info.budgetSpec) (\(info.budget)), seed \(info.seed)")
            print("  params  \(info.parameters)")
            print("  recipe  \(info.recipeHash)\n  content \(info.contentHash)")
            print("  created \(info.createdAt) in \(Format.seconds(info.elapsedSeconds)) by quadcat \(info.toolVersion)")
            for line in LineageView.lines(info) { print("  " + line) }
            let diagnostics = info.diagnostics
            if let first = diagnostics.objectiveTrace.first, let last = diagnostics.objectiveTrace.last {
                print("  trace   \(diagnostics.objectiveTrace.count) steps, objective \(String(format: "%.6g", first)) -> \(String(format: "%.6g", last))")
            }
            if !diagnostics.counters.isEmpty {
                print("  run     " + diagnostics.counters.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4g", $0.value))" }.joined(separator: ", "))
            }
            for note in diagnostics.notes { print("  note: \(note)") }
            var table = TextTable(["rank", "row", "id", "score", "weight", "text"], rightAligned: [0, 1, 3, 4])
            for m in top {
                let preview = m.text.replacingOccurrences(of: "\n", with: " ").prefix(60)
                table.add(["\(m.rank)", "\(m.row)", m.id, String(format: "%.4g", m.score), String(format: "%.3g", m.weight), String(preview)])
            }
            print("")
            print(table.render())
        }
    }
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write a subset for a training job: jsonl, ids, npy or mds.",
        discussion: """
            jsonl: the original records, byte for byte, in rank order. ids: external ids, one per line. \
            npy: int64 row numbers. mds: a MosaicML streaming dataset directory (index.json and shards with \
            columns id, text, record, rank) that StreamingDataset(local=DIR) reads directly.
            """)

    @OptionGroup var path: CatalogPath
    @Argument(help: "NAME, NAME@VERSION or a tag.") var subset: String
    @Option(help: "jsonl, ids, npy or mds.") var format: ExportFormat = .jsonl
    @Option(help: "Output file (or directory for mds); - for standard output.") var out: String
    @Option(help: "Add each row's score as a field of this name.") var scoreField: String?
    @Option(help: "Add each row's weight as a field of this name.") var weightField: String?
    @Option(
        help: ArgumentHelp(
            "Add each row's weight (GTP's weights; 1 for other selectors) as the field 'weight': relative (as GTP gives them, the default when the value is left out) or normalized (mean 1 over the subset, for per-example loss weights).",
            valueName: "relative|normalized")) var weights: WeightScale?
    @Flag(help: "Print the report as JSON (needs --out FILE: with --out - the export itself goes to standard output).") var json = false

    func run() throws {
        try reportingErrors {
            if json, out == "-" {
                throw CatalogError(.invalidRequest, "--json and --out - both write to standard output", remedy: "give --out a file, or drop --json")
            }
            var request = ExportRequest(subset: subset, format: format, output: out == "-" ? nil : URL(fileURLWithPath: out))
            request.scoreField = scoreField
            request.weightField = weightField ?? (weights != nil ? "weight" : nil)
            request.weightScale = weights ?? .relative
            let report = try path.open().export(request)
            if json { return try Terminal.printJSON(report) }
            if out != "-" {
                Terminal.note("exported \(report.subset): \(report.rows) rows as \(report.format.rawValue) to \(report.output) (\(Format.bytes(report.bytes)))")
            }
        }
    }
}

struct TagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Name a subset version with a tag (moves an existing tag).")

    @OptionGroup var path: CatalogPath
    @Argument(help: "NAME@VERSION (or NAME for the latest).") var subset: String
    @Argument(help: "The tag.") var tag: String
    @Flag(help: "Print the tagged subset as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let info = try path.open().tag(subset, as: tag)
            if json { return try Terminal.printJSON(info) }
            print("tagged \(info.reference) as \(tag)")
        }
    }
}
