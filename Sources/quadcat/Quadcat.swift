import ArgumentParser

@main
struct Quadcat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quadcat",
        abstract: "An embedded catalog for LLM training-data selection.",
        discussion: """
            Ingest a corpus with per-example embeddings and projected gradients, run selectors (LESS, GTP, \
            SPICE, Quad, random) as queries, and keep every selected subset as an immutable, versioned \
            result with its lineage. Start with `quadcat demo`.
            """,
        version: "0.1.0",
        subcommands: [
            InitCommand.self, IngestCommand.self, AttachCommand.self, TargetCommand.self, SelectCommand.self,
            LogCommand.self, ShowCommand.self, CompareCommand.self, ReportCommand.self, DiffCommand.self, ExportCommand.self, TagCommand.self,
            InfoCommand.self,
            VerifyCommand.self, GCCommand.self, DemoCommand.self,
        ]
    )
}
