import ArgumentParser
import Catalog
import Foundation

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show corpora, columns, targets, subsets and storage per codec.")

    @OptionGroup var path: CatalogPath
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let info = try path.open().info()
            if json { return try Terminal.printJSON(info) }
            print(InfoView.render(info))
        }
    }
}

/// The one-screen text form of `info`.
enum InfoView {
    /// Indexed fields: type, values per kind, NULLs.
    static func fieldTable(_ fields: [IndexedField]) -> TextTable {
        var table = TextTable(["field", "type", "text", "integer", "real", "boolean", "null"], rightAligned: [2, 3, 4, 5, 6])
        for f in fields {
            table.add([f.name, f.type, "\(f.textValues)", "\(f.integerValues)", "\(f.realValues)", "\(f.booleanValues)",
                       "\(f.nullValues)" + (f.otherValues > 0 ? " (\(f.otherValues) objects/arrays)" : "")])
        }
        return table
    }

    static func render(_ info: CatalogInfo) -> String {
        var lines = ["catalog \(info.path): \(info.corpora.count) corpora, \(info.targets.count) targets, \(info.subsets) subsets, \(Format.bytes(info.bytesOnDisk)) on disk"]
        for corpus in info.corpora {
            lines.append("")
            lines.append("corpus '\(corpus.name)': \(corpus.rows) rows (id: \(corpus.idField), text: \(corpus.textField)), "
                + "records \(Format.bytes(corpus.records.rawBytes)) -> \(Format.bytes(corpus.records.storedBytes)) (ratio \(Format.ratio(corpus.records.ratio))), \(corpus.subsets) subsets")
            if !corpus.fields.isEmpty { lines.append(fieldTable(corpus.fields).render(indent: "  ")) }
            guard !corpus.columns.isEmpty else { continue }
            var table = TextTable(["column", "kind", "ckpt", "lr", "rows", "dim", "dtype", "stored", "ratio", "projection"], rightAligned: [2, 3, 4, 5, 7, 8])
            for c in corpus.columns {
                table.add([
                    c.name, c.kind, c.kind == "gradient" ? "\(c.checkpoint)" : "-", c.learningRate.map { String(format: "%.3g", $0) } ?? "-",
                    c.usableRows == c.rows ? "\(c.rows)" : "\(c.usableRows)/\(c.rows)", "\(c.dim)",
                    c.sourceDType == c.storedDType ? c.storedDType : "\(c.sourceDType)->\(c.storedDType)",
                    Format.bytes(c.storage.storedBytes), Format.ratio(c.storage.ratio), c.projection ?? "-",
                ])
            }
            lines.append(table.render(indent: "  "))
        }
        if !info.targets.isEmpty {
            lines.append("")
            var table = TextTable(["target", "rows", "subtasks", "columns"], rightAligned: [1, 2])
            for t in info.targets {
                table.add([t.name, "\(t.rows)", "\(t.subtasks)", t.columns.map { $0.kind == "gradient" ? "\($0.name)@\($0.checkpoint)" : $0.name }.joined(separator: " ")])
            }
            lines.append(table.render())
        }
        if !info.codecs.isEmpty {
            lines.append("")
            var table = TextTable(["codec", "chunks", "raw", "stored", "ratio"], rightAligned: [1, 2, 3, 4])
            for (codec, s) in info.codecs.sorted(by: { $0.key < $1.key }) {
                table.add([codec, "\(s.chunks)", Format.bytes(s.rawBytes), Format.bytes(s.storedBytes), Format.ratio(s.ratio)])
            }
            lines.append(table.render())
        }
        return lines.joined(separator: "\n")
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check every chunk checksum and the index; exit 1 on damage.",
        discussion: "Files left by an interrupted write are reported as garbage (remove them with `quadcat gc`); they are not damage.")

    @OptionGroup var path: CatalogPath
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        let report = try reportingErrors { try path.open().verify(progress: Terminal.progressLine()) }
        Terminal.endProgress()
        if json {
            try Terminal.printJSON(report)
        } else {
            print("checked \(report.chunksChecked) chunks (\(Format.bytes(report.bytesChecked))) in \(Format.seconds(report.seconds))")
            for problem in report.damage { print("DAMAGE: \(problem)") }
            if !report.orphanFiles.isEmpty || !report.stagingFiles.isEmpty {
                print("garbage: \(report.orphanFiles.count) unreferenced chunk files, \(report.stagingFiles.count) staging files (left by interrupted writes; `quadcat gc` removes them)")
            }
            print(report.isHealthy ? "ok" : "catalog is damaged: \(report.damage.count) problem(s)")
        }
        if !report.isHealthy { throw ExitCode.failure }
    }
}

struct GCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc", abstract: "Remove files nothing references (left by interrupted writes).")

    @OptionGroup var path: CatalogPath
    @Flag(help: "List what would be removed without removing it.") var dryRun = false
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let report = try path.open().collectGarbage(dryRun: dryRun)
            if json { return try Terminal.printJSON(report) }
            for file in report.removedFiles { print("\(dryRun ? "would remove" : "removed") \(file)") }
            print("\(dryRun ? "would free" : "freed") \(Format.bytes(report.removedBytes)) in \(report.removedFiles.count) files")
        }
    }
}
