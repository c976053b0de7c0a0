import ArgumentParser
import Catalog
import Foundation
import Selectors

/// The selection a sharded run makes: the same options as `select`.
struct SelectionOptions: ParsableArguments {
    @Option(help: "The target (validation set); needed by all but spice and random.") var target: String?
    @Option(help: "less, gtp, spice, quad, dpp, rds or random.") var selector: SelectorKind
    @Option(help: "Rows to select: a count (600) or a share of the whole set (5%).") var budget: String
    @Option(name: .customLong("as"), help: "Subset name (in the head catalog); an existing name gets a new version.") var name: String
    @Option(name: .customLong("param"), help: "Selector parameter key=value (repeatable).") var parameters: [String] = []
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Gradient column name (pool and target).") var gradientColumn = "grad"
    @Option(help: "Embedding column name (quad; rds, also the target's).") var embeddingColumn = "emb"
    @Option(help: "Checkpoints to use, comma-separated (default: all for less/gtp/dpp, the last for spice/quad).") var checkpoints: String?

    func request(corpus: String) throws -> SelectRequest {
        var request = SelectRequest(corpus: corpus, target: target, selector: selector, budget: try Budget(parsing: budget), name: name)
        request.parameters = try ParameterBag.pairs(parameters)
        request.seed = seed
        request.gradientColumn = gradientColumn
        request.embeddingColumn = embeddingColumn
        if let checkpoints {
            request.checkpoints = try checkpoints.split(separator: ",").map {
                guard let n = Int($0.trimmingCharacters(in: .whitespaces)) else {
                    throw CatalogError(.invalidRequest, "--checkpoints '\(checkpoints)' is not a comma-separated list of numbers")
                }
                return n
            }
        }
        return request
    }
}

struct SetPath: ParsableArguments {
    @Argument(help: "The shard set directory.") var set: String
    var url: URL { URL(fileURLWithPath: set) }
}

struct SetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Shard sets: one corpus split over several catalogs, selected step by step on an engine.",
        discussion: """
            A shard set is a directory with set.json and head.quadcat. Shards are ordinary catalogs holding \
            consecutive slices of one corpus (built in parallel with ingest/attach/target add), with the same \
            columns and targets. `set select` runs a selection on local processes; `set plan` prints the steps \
            for a job array or another engine (the Python package's quadcat.ray runs them on Ray). log, show, \
            compare and export work on SET/head.quadcat.
            """,
        subcommands: [SetInitCommand.self, SetAddCommand.self, SetInfoCommand.self, SetVerifyCommand.self, SetPlanCommand.self, SetSelectCommand.self])
}

struct SetInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create an empty shard set.")
    @OptionGroup var path: SetPath
    @Option(help: "The corpus the shards hold slices of.") var corpus = "pool"

    func run() throws {
        try reportingErrors {
            let set = try ShardSet.create(at: path.url, corpus: corpus)
            print("created shard set \(set.root.path) for corpus '\(corpus)'")
        }
    }
}

struct SetAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Append shards, in order: each holds the next consecutive rows of the corpus.")
    @OptionGroup var path: SetPath
    @Argument(help: "Shard catalogs, in row order.") var shards: [String]
    @Flag(help: "Print the set's info as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let set = try ShardSet.open(at: path.url)
            let added = try set.add(shards.map { URL(fileURLWithPath: $0) })
            if json { return try Terminal.printJSON(try set.info()) }
            for shard in added { print("added \(shard.path): rows \(shard.offset)..<\(shard.offset + shard.rows)") }
            print("\(set.manifest.shards.count) shards, \(set.manifest.rowCount) rows")
        }
    }
}

struct SetInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Show a shard set's shards, columns and targets.")
    @OptionGroup var path: SetPath
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let info = try ShardSet.open(at: path.url).info()
            if json { return try Terminal.printJSON(info) }
            print("shard set \(info.root): corpus '\(info.corpus)', \(info.rows) rows in \(info.shards.count) shards, \(info.subsets) subsets in the head")
            var table = TextTable(["shard", "path", "first row", "rows"], rightAligned: [0, 2, 3])
            for shard in info.shards { table.add(["\(shard.index)", shard.path, "\(shard.offset)", "\(shard.rows)"]) }
            print(table.render())
            print("columns: " + info.columns.map { "\($0.label) (\($0.storedDType) x \($0.dim))" }.joined(separator: ", "))
            print("targets: " + (info.targets.isEmpty ? "none" : info.targets.joined(separator: ", ")))
        }
    }
}

struct SetVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check every shard and the set's own files; exit 1 on damage.")
    @OptionGroup var path: SetPath
    @Flag(help: "Skip the shards' chunk checksums (check only that they are present and unchanged).") var quick = false
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let report = try ShardSet.open(at: path.url).verify(deep: !quick, progress: Terminal.progressLine())
            Terminal.endProgress()
            if json { try Terminal.printJSON(report) } else if report.isHealthy {
                print("ok: \(report.shardsChecked) shards")
            } else {
                for problem in report.damage { print("damage: \(problem)") }
            }
            if !report.isHealthy { throw ExitCode(1) }
        }
    }
}

/// What `set plan` and `merge` print for a driver: the job, the next round's step commands and the
/// merge, or the finished subset.
struct JobStatus: Encodable {
    var job: String
    var round: Int
    var done: Bool
    var steps: [[String]]
    var merge: [String]
    var subset: SubsetInfo?

    init(_ job: ShardJob, subset: SubsetInfo? = nil) {
        self.job = job.directory.path
        round = job.state.round
        done = subset != nil
        steps = subset == nil ? job.stepArguments() : []
        merge = subset == nil ? job.mergeArguments : []
        self.subset = subset
    }
}

struct SetPlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "Plan a sharded selection and print its steps, for a job array or another engine.",
        discussion: """
            Prints one `quadcat step` command per shard (run them anywhere that sees the shards, in any \
            order, retried freely) and, last, the `quadcat merge` command. Selectors with more rounds \
            (quad, gtp, dpp) continue from that merge on local processes; with --json a driver gets the \
            structure and runs every round itself (as quadcat.ray does).
            """)
    @OptionGroup var path: SetPath
    @OptionGroup var selection: SelectionOptions
    @Option(help: "The engine to record in the lineage.") var engine = "job array"
    @Option(help: "The most step results one merge of spice or dpp reads (default 8); more shards merge as a tree of merges, each a step.") var mergeFanIn: Int?
    @Flag(help: "Print the job as JSON (job directory, round, step and merge arguments).") var json = false

    func run() throws {
        try reportingErrors {
            let set = try ShardSet.open(at: path.url)
            let job = try ShardJob.create(set: set, request: try selection.request(corpus: set.manifest.corpus), engine: engine, mergeFanIn: mergeFanIn)
            if json { return try Terminal.printJSON(JobStatus(job)) }
            for step in job.stepArguments() { print((["quadcat"] + step).map(Shell.quote).joined(separator: " ")) }
            print((["quadcat"] + job.mergeArguments + ["--finish"]).map(Shell.quote).joined(separator: " "))
        }
    }
}

struct SetSelectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "select", abstract: "Run a sharded selection on this machine (steps as local processes) and keep it in the head.")
    @OptionGroup var path: SetPath
    @OptionGroup var selection: SelectionOptions
    @Option(help: "Steps running at once (default: the cores).") var parallel: Int?
    @Option(help: "The most step results one merge of spice or dpp reads (default 8); more shards merge as a tree of merges, each a step.") var mergeFanIn: Int?
    @Flag(help: "Print the new subset as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let set = try ShardSet.open(at: path.url)
            let job = try ShardJob.create(set: set, request: try selection.request(corpus: set.manifest.corpus), engine: "local processes", mergeFanIn: mergeFanIn)
            let engine = LocalEngine(binary: Shell.currentExecutable, parallel: parallel ?? ProcessInfo.processInfo.activeProcessorCount)
            let subset = try engine.run(job, progress: Terminal.progressLine())
            Terminal.endProgress()
            if json { return try Terminal.printJSON(subset) }
            print("\(set.root.path)/head.quadcat \(subset.reference): \(subset.rowCount) of \(subset.budget) rows selected by \(subset.selector) over \(set.manifest.shards.count) shards in \(Format.seconds(subset.elapsedSeconds))")
            print("  recipe \(subset.recipeHash.prefix(12))  content \(subset.contentHash.prefix(12))")
            for note in subset.diagnostics.notes { print("  note: \(note)") }
        }
    }
}

struct StepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step", abstract: "Run one shard's step of a sharded selection (writes its result file atomically).")
    @Argument(help: "The job directory (SET/jobs/ID).") var job: String
    @Option(help: "The shard (0-based).") var shard: Int

    func run() throws {
        try reportingErrors { try ShardJob.open(URL(fileURLWithPath: job)).runStep(shard: shard) }
    }
}

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge", abstract: "Merge a round of a sharded selection: the next round's steps, or the stored subset.")
    @Argument(help: "The job directory (SET/jobs/ID).") var job: String
    @Flag(help: "Run any further rounds here, on local processes, until the subset is stored.") var finish = false
    @Flag(help: "Print the job's status as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let job = try ShardJob.open(URL(fileURLWithPath: job))
            var subset: SubsetInfo?
            switch try job.merge() {
            case .done(let info): subset = info
            case .nextRound:
                if finish { subset = try LocalEngine(binary: Shell.currentExecutable).run(job, progress: Terminal.progressLine()) }
            }
            Terminal.endProgress()
            if json { return try Terminal.printJSON(JobStatus(job, subset: subset)) }
            if let subset {
                print("head.quadcat \(subset.reference): \(subset.rowCount) of \(subset.budget) rows selected by \(subset.selector)")
            } else {
                print("round \(job.state.round) is next:")
                for step in job.stepArguments() { print((["quadcat"] + step).map(Shell.quote).joined(separator: " ")) }
                print((["quadcat"] + job.mergeArguments).map(Shell.quote).joined(separator: " "))
            }
        }
    }
}

enum Shell {
    /// The running executable (steps of the local engine run the same binary).
    static var currentExecutable: URL { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath() }

    /// A word quoted for a POSIX shell when it needs it.
    static func quote(_ word: String) -> String {
        let plain = word.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_./=:@%+,".unicodeScalars.contains($0) }
        return plain && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
