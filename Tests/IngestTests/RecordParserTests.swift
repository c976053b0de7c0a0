import Foundation
import Ingest
import Selectors
import Testing
import TestSupport

/// simdjson is only a fast path: on every line it must agree with quadcat's own scanner, which decides
/// what is valid and words the errors. These tests feed both engines the same lines, most of them
/// damaged on purpose, and compare what they say.
@Suite("simdjson and the scanner agree")
struct RecordParserTests {
    /// What one engine made of a line: the id and text bytes, nothing (a blank line), or the error.
    private enum Verdict: Equatable {
        case record(id: [UInt8], text: [UInt8])
        case blank
        case error(String)
    }

    private static func verdict(_ parser: RecordParser, _ line: [UInt8], number: Int = 7) -> Verdict {
        // Lines from a block are followed by their newline and padding; so are these.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: line.count + 1 + LineBlock.padding, alignment: 64)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0x20)
        buffer.copyBytes(from: line)
        buffer[line.count] = 0x0a
        do {
            guard let record = try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<line.count]), number: number) else { return .blank }
            return .record(id: Array(record.id), text: Array(record.text))
        } catch {
            return .error(error.description)
        }
    }

    private static func parsers(_ options: JSONLOptions = JSONLOptions()) throws -> (RecordParser, RecordParser) {
        let input = JSONLInput.file(URL(fileURLWithPath: "/data/pool.jsonl"))
        return (try RecordParser(options: options, input: input, compression: .none, engine: .simdjson),
                try RecordParser(options: options, input: input, compression: .none, engine: .scanner))
    }

    private static let seeds: [String] = [
        #"{"id": "doc-1", "text": "plain text", "meta": {"a": [1, 2.5e-3, -0, true, false, null], "b": "c"}}"#,
        #"{"text": "caf\u00e9 \ud83d\ude00 \n\t\"q\" \\ \/ \b\f\r", "id": 42, "x": [[], {}, [{"y": [1e+2]}]]}"#,
        #"{"id": -7, "text": "ünïcödé 日本 𝄞", "n": 123456789012345678901234567890}"#,
        #"{"id": 18446744073709551615, "text": "", "deep": [[[[[[1]]]]]]}"#,
        #"{"i\u0064": "escaped key", "te\u0078t": "x", "id2": "not the id"}"#,
        "  {\"id\" : \"a\" ,\t\"text\" : \"spaced\" }  \r",
        #"{"id": "0", "text": "id zero as a string", "f": -1.5E-7}"#,
        #"{"id": 0, "text": "integer zero"}"#,
    ]

    private static let interesting: [UInt8] = Array("\"\\{}[],:0-e.tfnu+E ".utf8) + [0x00, 0x09, 0x0a, 0x1f, 0x7f, 0x80, 0xc3, 0xa9, 0xed, 0xa0, 0xf0, 0xf4, 0xff]

    @Test func theSeedsParseAlikeAsTheyAre() throws {
        let (fast, scanner) = try Self.parsers()
        for seed in Self.seeds {
            let line = Array(seed.utf8)
            let expected = Self.verdict(scanner, line)
            guard case .record = expected else {
                Issue.record("seed not valid: \(seed): \(expected)")
                continue
            }
            #expect(Self.verdict(fast, line) == expected, "\(seed)")
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func mutatedLinesGetTheSameVerdict(round: UInt64) throws {
        let (fast, scanner) = try Self.parsers()
        var random = SeededRandom(seed: 14 * round)
        var accepted = 0, refused = 0
        for trial in 0..<5000 {
            var line = Array(Self.seeds[trial % Self.seeds.count].utf8)
            for _ in 0...random.nextInt(below: 3) {
                let at = random.nextInt(below: line.count + 1)
                switch random.nextInt(below: 5) {
                case 0 where at < line.count: line[at] = Self.interesting[random.nextInt(below: Self.interesting.count)]
                case 1 where at < line.count: line.remove(at: at)
                case 2: line.insert(Self.interesting[random.nextInt(below: Self.interesting.count)], at: at)
                case 3 where at < line.count:
                    let end = min(line.count, at + 1 + random.nextInt(below: 12))
                    line.insert(contentsOf: line[at..<end], at: at)
                default: line = Array(line.prefix(at))
                }
            }
            let expected = Self.verdict(scanner, line)
            let got = Self.verdict(fast, line)
            if got != expected {
                Issue.record("line \(String(decoding: line, as: UTF8.self).debugDescription): scanner \(expected), simdjson path \(got)")
            }
            if case .record = expected { accepted += 1 } else { refused += 1 }
        }
        // Both kinds of lines must really have been tried.
        #expect(accepted > 300 && refused > 3000, "\(accepted) accepted, \(refused) refused")
    }

    @Test func depthLimitsAgree() throws {
        for depth in [3, 10, 256] {
            let (fast, scanner) = try Self.parsers(JSONLOptions(maxDepth: depth))
            for nesting in [depth - 2, depth - 1, depth, depth + 1] where nesting >= 0 {
                let line = Array(("{\"id\":1,\"text\":\"x\",\"deep\":" + String(repeating: "[", count: nesting) + String(repeating: "]", count: nesting) + "}").utf8)
                #expect(Self.verdict(fast, line) == Self.verdict(scanner, line), "depth \(depth), nesting \(nesting)")
            }
        }
    }

    @Test func integerIdsKeepTheirLiteral() throws {
        let (fast, _) = try Self.parsers()
        for literal in ["1", "-1", "-0", "0", "9223372036854775807", "-9223372036854775808", "18446744073709551615", "18446744073709551616", "123456789012345678901234567890"] {
            let verdict = Self.verdict(fast, Array("{\"id\": \(literal), \"text\": \"t\"}".utf8))
            #expect(verdict == .record(id: Array(literal.utf8), text: Array("t".utf8)), "\(literal)")
        }
    }
}
