import ArgumentParser
import Catalog
import Foundation
import Ingest

/// The catalog path, the first positional argument of every command but `demo`.
struct CatalogPath: ParsableArguments {
    @Argument(help: "The catalog directory, e.g. cat.quadcat.")
    var catalog: String

    var url: URL { URL(fileURLWithPath: catalog) }

    /// Opens the catalog; a shard set's directory or head opens as the head, reading its corpus's
    /// records and columns from the shards.
    func open() throws -> Catalog {
        if ShardSet.isSet(url) {
            let set = try ShardSet.open(at: url)
            Self.openSets.append(set)
            return set.head
        }
        let path = catalog
        return try Catalog.open(at: url) {
            Terminal.note("another quadcat process is writing to \(path); waiting for it to finish")
        }
    }

    /// Shard sets opened by this process, kept alive while their heads are in use.
    nonisolated(unsafe) static var openSets: [ShardSet] = []
}

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create an empty catalog.")

    @OptionGroup var path: CatalogPath
    @Flag(help: "Print the new catalog's info as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let catalog = try Catalog.create(at: path.url)
            if json { return try Terminal.printJSON(catalog.info()) }
            print("created catalog \(catalog.root.path)")
        }
    }
}

struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest", abstract: "Ingest JSONL documents into a corpus.",
        discussion: """
            Each non-blank line is a JSON object with an id (string or integer) and a text field; the whole \
            record is kept verbatim for export. Inputs may be plain JSONL or gzip or zstd compressed (told \
            apart by their first bytes, whatever their names), and '-' reads standard input; all are \
            streamed, in the order given, into one corpus. Exact duplicate texts are reported, not dropped. \
            Any error (a malformed line, a duplicate id, a truncated file) leaves the catalog as it was.
            """)

    @OptionGroup var path: CatalogPath
    @Argument(help: "JSONL files (.jsonl, .jsonl.gz, .jsonl.zst), ingested in order; '-' for standard input.") var files: [String]
    @Option(help: "The corpus to create (or extend with --append).") var corpus: String
    @Option(help: "The field holding each record's id.") var idField = "id"
    @Option(help: "The field holding each record's text.") var textField = "text"
    @Flag(help: "Add rows to an existing corpus that has no feature columns yet.") var append = false
    @Option(help: "Records codec: auto (LZ4 where it saves 10%), raw (faster ingest, more disk) or lz4.") var codec: CodecPolicy = .auto
    @Option(name: .customLong("index-field"), help: "A record field to keep as typed values for select --where (repeatable).") var indexFields: [String] = []
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let catalog = try path.open()
            var options = IngestOptions()
            options.idField = idField
            options.textField = textField
            options.append = append
            options.codec = codec
            options.indexFields = indexFields
            let report = try catalog.ingest(
                corpus: corpus, inputs: files.map(JSONLInput.init(argument:)), options: options, progress: Terminal.progressLine())
            Terminal.endProgress()
            if json { return try Terminal.printJSON(report) }
            print("ingested \(report.rowsAdded) records into corpus '\(report.corpus)' (\(report.totalRows) rows) "
                + "from \(Format.bytes(report.decodedBytes)) of JSONL\(report.bytesRead != report.decodedBytes ? " (\(Format.bytes(report.bytesRead)) compressed)" : "") "
                + "in \(Format.seconds(report.seconds)) (\(Format.rate(report.decodedBytes, report.seconds))); records stored in \(Format.bytes(report.bytesStored))")
            if !report.indexedFields.isEmpty {
                print("indexed fields: " + report.indexedFields.map { "\($0.name) (\($0.type), \($0.nullValues) null)" }.joined(separator: ", "))
            }
            if report.duplicateTextGroups > 0 {
                print("note: \(report.duplicateTextRows) records repeat the exact text of another (\(report.duplicateTextGroups) groups); kept. "
                    + "Examples (ids): " + report.duplicateExamples.prefix(3).map { $0.joined(separator: " = ") }.joined(separator: "; "))
            }
        }
    }
}

struct AttachCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach", abstract: "Attach a gradient checkpoint or an embedding column to a corpus.",
        discussion: """
            FILE is a NumPy .npy (float32, float16; C order) or a safetensors file (F32, F16, BF16; pick the \
            tensor with --tensor). Row i must be document row i, unless --ids names the document of each row. \
            A gradient column needs --checkpoint and --lr; attach one file per checkpoint to build a \
            trajectory.
            """)

    @OptionGroup var path: CatalogPath
    @Argument(help: "The .npy or .safetensors file.") var file: String
    @Option(help: "The corpus the column belongs to.") var corpus: String
    @Option(help: "Column name, e.g. grad or emb.") var column: String
    @Option(help: "gradient, embedding or score (default: gradient with --checkpoint, else embedding).") var kind: ColumnKind?
    @Option(help: "Checkpoint number of a gradient column.") var checkpoint: Int?
    @Option(help: "The checkpoint's learning rate (LESS weights checkpoints by it).") var lr: Double?
    @Option(help: "Projection identity KIND[:SEED[:DIM]], e.g. rademacher:20261123:1024.") var projection: String?
    @Option(help: "Storage precision: as-given, f32, f16, bf16, int8 or int4 (int8/int4 with a per-row scale).") var precision: StoragePrecision = .asGiven
    @Option(help: "Rows with NaN or infinity: reject, or mark-unusable.") var nonfinite: NonFinitePolicy = .reject
    @Option(help: "Tensor name inside a safetensors file.") var tensor: String?
    @Option(help: "File of document ids, one per line, naming the document of each row (partial columns).") var ids: String?
    @Option(help: "Chunk codec: auto (compress where it saves 10%), raw, lz4 or shuffle-lz4.") var codec: CodecPolicy = .auto
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let catalog = try path.open()
            var request = AttachRequest(corpus: corpus, column: column, file: URL(fileURLWithPath: file))
            request.kind = kind
            request.checkpoint = checkpoint
            request.learningRate = lr
            request.projection = try projection.map(ProjectionIdentity.init(parsing:))
            request.precision = precision
            request.nonFinite = nonfinite
            request.tensor = tensor
            request.idsFile = ids.map { URL(fileURLWithPath: $0) }
            request.codec = codec
            let report = try catalog.attach(request, progress: Terminal.progressLine())
            Terminal.endProgress()
            if json { return try Terminal.printJSON(report) }
            let name = report.kind == .gradient ? "\(report.column) checkpoint \(report.checkpoint)" : report.column
            let mbps = Double(report.sourceBytes) / max(report.seconds, 1e-9) / 1e6
            print("attached \(report.kind.rawValue) column \(name) to '\(report.corpus)': \(report.rows) x \(report.dim) "
                + "\(report.sourceDType) -> \(report.storedDType), \(Format.bytes(report.storedBytes)) stored, "
                + "\(Format.seconds(report.seconds)) (\(String(format: "%.0f", mbps)) MB/s)")
            if report.usableRows < report.rows {
                print("note: \(report.rows - report.usableRows) rows are unusable (absent or non-finite), e.g. rows "
                    + report.unusableExamples.map(String.init).joined(separator: ", "))
            }
        }
    }
}

extension ColumnKind: ExpressibleByArgument {}
extension CodecPolicy: ExpressibleByArgument {}
extension StoragePrecision: ExpressibleByArgument {}
extension NonFinitePolicy: ExpressibleByArgument {}

struct TargetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "target", abstract: "Add or list targets (validation sets).",
        subcommands: [TargetAddCommand.self, TargetListCommand.self])
}

struct TargetAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a column (one checkpoint's validation gradients) to a target.",
        discussion: "The target is created by its first column; every column must have the same rows.")

    @OptionGroup var path: CatalogPath
    @Argument(help: "Target name.") var name: String
    @Argument(help: "The .npy or .safetensors file.") var file: String
    @Option(help: "Checkpoint number (the pool column's checkpoint these gradients match).") var checkpoint: Int?
    @Option(help: "Column name (matches the pool's gradient column name by default).") var column = "grad"
    @Option(help: "gradient or embedding (default: gradient with --checkpoint, else embedding).") var kind: ColumnKind?
    @Option(help: "Projection identity KIND[:SEED[:DIM]].") var projection: String?
    @Option(help: "File with one subtask label per validation row.") var subtasks: String?
    @Option(help: "Tensor name inside a safetensors file.") var tensor: String?
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let catalog = try path.open()
            var request = TargetColumnRequest(target: name, file: URL(fileURLWithPath: file))
            request.column = column
            request.kind = kind
            request.checkpoint = checkpoint
            request.projection = try projection.map(ProjectionIdentity.init(parsing:))
            request.subtasksFile = subtasks.map { URL(fileURLWithPath: $0) }
            request.tensor = tensor
            let report = try catalog.addTargetColumn(request)
            if json { return try Terminal.printJSON(report) }
            let what = report.kind == .gradient ? "\(report.column) checkpoint \(report.checkpoint)" : report.column
            print("\(report.createdTarget ? "created target" : "target") '\(report.target)': added \(what), \(report.rows) x \(report.dim)"
                + (report.subtasks > 1 ? ", \(report.subtasks) subtasks" : ""))
        }
    }
}

struct TargetListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List targets and their columns.")

    @OptionGroup var path: CatalogPath
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let targets = try path.open().listTargets()
            if json { return try Terminal.printJSON(targets) }
            if targets.isEmpty { return print("no targets") }
            for target in targets {
                print("\(target.name): \(target.rows) rows\(target.subtasks > 1 ? ", \(target.subtasks) subtasks" : "")")
                var table = TextTable(["column", "kind", "ckpt", "dim", "dtype", "projection"], rightAligned: [2, 3])
                for c in target.columns {
                    table.add([c.name, c.kind, c.kind == "gradient" ? "\(c.checkpoint)" : "-", "\(c.dim)", c.dtype, c.projection ?? "-"])
                }
                print(table.render(indent: "  "))
            }
        }
    }
}
