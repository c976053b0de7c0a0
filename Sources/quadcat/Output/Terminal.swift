import ArgumentParser
import Catalog
import Foundation
import Ingest
import Selectors

#if canImport(Glibc)
import Glibc
#endif

/// Printing for the command-line tool: errors, progress on a terminal, JSON for scripts.
enum Terminal {
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data("quadcat: error: \(message)\n".utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    /// Encodes `value` as pretty, key-sorted JSON on standard output.
    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    /// A progress handler that redraws one line on standard error at most ten times a second, or
    /// nil when standard error is not a terminal (scripts get no progress noise).
    static func progressLine() -> ProgressHandler? {
        guard stderrIsTerminal else { return nil }
        let state = ProgressState()
        return { event in state.draw(event) }
    }

    /// Clears a progress line before normal output.
    static func endProgress() {
        if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

private final class ProgressState: @unchecked Sendable {
    private let lock = NSLock()
    private var last = Date.distantPast
    /// When the current phase started, and how far it was then (for the rate behind the ETA).
    private var phase = ""
    private var phaseStart = Date()
    private var phaseStartCompleted = 0

    func draw(_ event: ProgressEvent) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        if event.phase != phase {
            phase = event.phase
            phaseStart = now
            phaseStartCompleted = event.completed
        }
        guard now.timeIntervalSince(last) >= 0.1 else { return }
        last = now
        var line = "\r\u{1B}[K\(event.phase): "
        let done = event.unit == "bytes" ? Format.bytes(event.completed) : "\(event.completed) \(event.unit)"
        if let total = event.total, total > 0 {
            let share = Double(event.completed) / Double(total)
            let width = 24
            let filled = min(width, Int(share * Double(width)))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            line += String(format: "%3.0f%% ", share * 100) + done
            let elapsed = now.timeIntervalSince(phaseStart)
            let progressed = event.completed - phaseStartCompleted
            if elapsed >= 2, progressed > 0, event.completed < total {
                let remaining = event.secondsLeft(total: total, elapsed: elapsed, since: phaseStartCompleted)
                line += ", ETA " + Format.duration(remaining)
            }
        } else {
            line += done
        }
        if let run = event.runSecondsLeft, run.isFinite {
            line += ", run ETA " + Format.duration(run)
        }
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// Number formatting for summaries.
enum Format {
    static func bytes(_ count: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func seconds(_ value: Double) -> String {
        value < 1 ? String(format: "%.0f ms", value * 1000) : String(format: "%.2f s", value)
    }

    static func ratio(_ value: Double) -> String { String(format: "%.3f", value) }

    /// "412 MB/s": decimal megabytes per second, as throughput is usually quoted.
    static func rate(_ bytes: Int, _ seconds: Double) -> String {
        String(format: "%.0f MB/s", Double(bytes) / max(seconds, 1e-9) / 1e6)
    }

    /// A recorded metric: up to six significant digits.
    static func metric(_ value: Double) -> String { String(format: "%.6g", value) }

    /// A remaining time: "45 s", "3 min 20 s", "1 h 05 min".
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min \(String(format: "%02d", s % 60)) s" }
        return "\(s / 3600) h \(String(format: "%02d", (s % 3600) / 60)) min"
    }
}

/// A plain text table with aligned columns.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []
    /// Columns aligned right (numbers).
    var rightAligned: Set<Int> = []

    init(_ header: [String], rightAligned: Set<Int> = []) {
        self.header = header
        self.rightAligned = rightAligned
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render(indent: String = "") -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { $0.indices.contains(c) ? $0[c].count : 0 }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            let text = indent + cells.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return rightAligned.contains(c) ? pad + cell : cell + pad
            }.joined(separator: "  ")
            // Trailing padding only: a right-aligned first column keeps its leading spaces.
            return String(text.reversed().drop { $0 == " " }.reversed())
        }
        var out = [line(header), indent + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        out += rows.map(line)
        return out.joined(separator: "\n")
    }
}

/// Runs a command body, turning the library's errors into one clear line on standard error and exit
/// status 1, instead of a stack trace.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as CatalogError {
        Terminal.endProgress()
        Terminal.printError(error.description)
    } catch let error as IngestError {
        Terminal.endProgress()
        Terminal.printError(error.description)
    } catch let error as SelectorError {
        Terminal.endProgress()
        Terminal.printError(error.description)
    } catch let error as ExitCode {
        throw error
    } catch {
        // Foundation's file errors and anything else: one line, with the path when there is one.
        Terminal.endProgress()
        let nsError = error as NSError
        let path = (nsError.userInfo[NSFilePathErrorKey] as? String).map { " (\($0))" } ?? ""
        Terminal.printError(nsError.localizedDescription + path)
    }
    throw ExitCode.failure
}
