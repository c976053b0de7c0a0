import Catalog
import Foundation
import Selectors
import Testing
import TestSupport

/// Writers killed with SIGKILL at random moments, and at each step of the commit protocol: the catalog
/// verifies and shows exactly the last committed state.
@Suite("Crash recovery", .serialized)
struct CrashRecoveryTests {
    static let rows = 20_000, dim = 512

    /// The inputs every trial uses, and what a committed operation must look like.
    final class Inputs: @unchecked Sendable {
        let dir = TemporaryDirectory("quadcat-crash")
        let corpusFile: URL
        let gradientFile: URL
        let targetFile: URL
        /// The content hash a committed attach of `gradientFile` has.
        var columnHash = ""
        /// A sample of records a committed ingest must return.
        var sampleRecords: [[UInt8]] = []
        /// Wall time of an uninterrupted attach and ingest, to spread kill times over.
        var attachSeconds = 0.0, ingestSeconds = 0.0

        init() throws {
            corpusFile = dir.file("pool.jsonl")
            gradientFile = dir.file("g.npy")
            targetFile = dir.file("v.npy")
            try Fixtures.writeCorpus(corpusFile, rows: CrashRecoveryTests.rows)
            try Fixtures.writeFloat32(Fixtures.gaussian(rows: CrashRecoveryTests.rows, dim: CrashRecoveryTests.dim, seed: 4), rows: CrashRecoveryTests.rows, dim: CrashRecoveryTests.dim, to: gradientFile)
            try Fixtures.writeFloat32(Fixtures.gaussian(rows: 50, dim: CrashRecoveryTests.dim, seed: 5), rows: 50, dim: CrashRecoveryTests.dim, to: targetFile)
            // A reference run, uninterrupted.
            let reference = dir.file("reference.quadcat").path
            try QuadcatBinary.run(["init", reference])
            var start = Date()
            try QuadcatBinary.run(["ingest", reference, corpusFile.path, "--corpus", "pool"])
            ingestSeconds = Date().timeIntervalSince(start)
            start = Date()
            let attach = try QuadcatBinary.run(Self.attachArguments(reference, checkpoint: 1, file: gradientFile))
            attachSeconds = Date().timeIntervalSince(start)
            precondition(attach.status == 0, attach.stderr)
            let catalog = try Catalog.open(at: URL(fileURLWithPath: reference))
            columnHash = try catalog.columns(corpus: "pool")[0].contentHash
            sampleRecords = try catalog.records(corpus: "pool", rows: [0, 9999, CrashRecoveryTests.rows - 1])
        }

        static func attachArguments(_ catalog: String, checkpoint: Int, file: URL) -> [String] {
            ["attach", catalog, "--corpus", "pool", "--column", "grad", "--checkpoint", "\(checkpoint)", "--lr", "1e-5", file.path]
        }
    }

    static let inputs = Result { try Inputs() }

    /// The state a committed catalog must show: corpora with their sample records, and columns.
    private static func check(_ catalog: Catalog, corpora: Set<String>, checkpoints: Set<Int>, inputs: Inputs) throws {
        let report = try catalog.verify()
        #expect(report.damage.isEmpty, "\(report.damage)")
        let info = try catalog.info()
        #expect(Set(info.corpora.map(\.name)) == corpora)
        for name in corpora {
            #expect(try catalog.records(corpus: name, rows: [0, 9999, rows - 1]) == inputs.sampleRecords)
        }
        let columns = try catalog.columns(corpus: "pool")
        #expect(Set(columns.map(\.checkpoint)) == checkpoints)
        for column in columns { #expect(column.contentHash == inputs.columnHash) }
    }

    @Test func writesKilledAtRandomMomentsLeaveTheLastCommittedState() throws {
        let inputs = try Self.inputs.get()
        let dir = TemporaryDirectory("quadcat-crash-random")
        let cat = dir.file("cat.quadcat")
        try QuadcatBinary.run(["init", cat.path])
        try QuadcatBinary.run(["ingest", cat.path, inputs.corpusFile.path, "--corpus", "pool"])
        var corpora: Set<String> = ["pool"]
        var checkpoints: Set<Int> = []
        var random = SeededRandom(seed: 2026)
        var killed = 0, committed = 0
        let trials = 24
        for trial in 1...trials {
            let isAttach = trial % 3 != 0
            let arguments = isAttach
                ? Inputs.attachArguments(cat.path, checkpoint: trial, file: inputs.gradientFile)
                : ["ingest", cat.path, inputs.corpusFile.path, "--corpus", "c\(trial)"]
            let span = (isAttach ? inputs.attachSeconds : inputs.ingestSeconds) * 1.1
            let process = try QuadcatBinary.start(arguments)
            Thread.sleep(forTimeInterval: random.nextUnitDouble() * span)
            process.kill()
            let result = QuadcatBinary.finish(process)
            if result.signaled { killed += 1 }
            // All or nothing: the operation is either fully there or not at all.
            let catalog = try Catalog.open(at: cat)
            let present = isAttach
                ? try catalog.columns(corpus: "pool").contains { $0.checkpoint == trial }
                : try catalog.info().corpora.contains { $0.name == "c\(trial)" }
            if present {
                committed += 1
                if isAttach { checkpoints.insert(trial) } else { corpora.insert("c\(trial)") }
            }
            try Self.check(catalog, corpora: corpora, checkpoints: checkpoints, inputs: inputs)
        }
        // The trials must really have interrupted work, and some must have got through.
        #expect(killed >= trials / 2, "only \(killed) of \(trials) runs were killed")
        let catalog = try Catalog.open(at: cat)
        _ = try catalog.collectGarbage(dryRun: false)
        let clean = try catalog.verify()
        #expect(clean.isHealthy && clean.orphanFiles.isEmpty && clean.stagingFiles.isEmpty)
        try Self.check(catalog, corpora: corpora, checkpoints: checkpoints, inputs: inputs)
        print("crash trials: \(trials) runs, \(killed) killed, \(committed) committed")
    }

    @Test(arguments: ["after-staging", "after-publish", "after-commit"])
    func writesKilledAtEachCommitStepAreAllOrNothing(point: String) throws {
        let inputs = try Self.inputs.get()
        let dir = TemporaryDirectory("quadcat-crash-\(point)")
        let cat = dir.file("cat.quadcat")
        try QuadcatBinary.run(["init", cat.path])
        try QuadcatBinary.run(["ingest", cat.path, inputs.corpusFile.path, "--corpus", "pool"])
        let crash = ["QUADCAT_CRASH_AT": point]
        let survives = point == "after-commit"

        let attach = try QuadcatBinary.run(Inputs.attachArguments(cat.path, checkpoint: 1, file: inputs.gradientFile), environment: crash)
        #expect(attach.signaled)
        let ingest = try QuadcatBinary.run(["ingest", cat.path, inputs.corpusFile.path, "--corpus", "second"], environment: crash)
        #expect(ingest.signaled)
        let target = try QuadcatBinary.run(["target", "add", cat.path, "val", inputs.targetFile.path, "--checkpoint", "1"], environment: crash)
        #expect(target.signaled)

        let catalog = try Catalog.open(at: cat)
        try Self.check(catalog, corpora: survives ? ["pool", "second"] : ["pool"], checkpoints: survives ? [1] : [], inputs: inputs)
        #expect(try catalog.listTargets().map(\.name) == (survives ? ["val"] : []))
        let garbage = try catalog.verify()
        if point == "after-publish" { #expect(!garbage.orphanFiles.isEmpty) }
        if point == "after-staging" { #expect(!garbage.stagingFiles.isEmpty) }
        _ = try catalog.collectGarbage(dryRun: false)
        let clean = try catalog.verify()
        #expect(clean.isHealthy && clean.orphanFiles.isEmpty && clean.stagingFiles.isEmpty)
        // The interrupted operations can simply be run again.
        if !survives {
            #expect(try QuadcatBinary.run(Inputs.attachArguments(cat.path, checkpoint: 1, file: inputs.gradientFile)).status == 0)
            #expect(try catalog.columns(corpus: "pool").first?.contentHash == inputs.columnHash)
        }
    }
}
