import ArgumentParser
import Catalog
import Selectors

@main
struct Quadcat: ParsableCommand {
    /// `export --weights` may stand alone (relative weights) or take `relative|normalized`; the parser
    /// wants a value, so a bare one gets `relative`.
    static func main() {
        BLAS.useOptimizedKernels()
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "export" {
            for i in arguments.indices.reversed() where arguments[i] == "--weights" {
                let next = i + 1 < arguments.count ? arguments[i + 1] : nil
                if next.map({ WeightScale(rawValue: $0) == nil }) ?? true { arguments.insert("relative", at: i + 1) }
            }
        }
        main(arguments)
    }

    static let configuration = CommandConfiguration(
        commandName: "quadcat",
        abstract: "An embedded catalog for LLM training-data selection.",
        discussion: """
            Ingest a corpus with per-example embeddings and projected gradients, run selectors (LESS, GTP, \
            SPICE, Quad, DPP, RDS, random) as queries, and keep every selected subset as an immutable, \
            versioned result with its lineage. Start with `quadcat demo`.

            The features selectors read (projected gradients per checkpoint, embeddings) can be computed \
            from a Hugging Face model by the Python package (`pip install './python[features]'`): \
            `python -m quadcat features CAT --corpus C --model M --checkpoint DIR ...`; \
            `python -m quadcat warmup` runs LESS's LoRA warmup.
            """,
        version: Catalog.toolVersion,
        subcommands: [
            InitCommand.self, IngestCommand.self, AttachCommand.self, TargetCommand.self, SelectCommand.self,
            IndexCommand.self, CombineCommand.self, MixCommand.self, MetricCommand.self,
            LogCommand.self, ShowCommand.self, CompareCommand.self, ReportCommand.self, DiffCommand.self, ExportCommand.self, RecordsCommand.self, TagCommand.self,
            InfoCommand.self,
            VerifyCommand.self, GCCommand.self, SetCommand.self, StepCommand.self, MergeCommand.self, DemoCommand.self,
        ]
    )
}
