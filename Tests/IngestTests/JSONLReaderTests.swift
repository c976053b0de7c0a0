import Foundation
import Ingest
import Testing
import TestSupport

/// A record copied out of the callback.
private struct Record: Equatable {
    var line: Int
    var raw: [UInt8]
    var id: String
    var text: String
}

private func readAll(_ url: URL, _ options: JSONLOptions = .init()) throws -> [Record] {
    var out: [Record] = []
    let reader = try JSONLReader(url: url, options: options)
    try reader.forEachRecord { r in out.append(Record(line: r.line, raw: Array(r.raw), id: r.id, text: r.text)) }
    return out
}

/// The IngestError from reading `content` (nil if it read cleanly or failed otherwise).
private func jsonlError(_ content: [UInt8], _ options: JSONLOptions = .init()) throws -> IngestError? {
    let dir = TemporaryDirectory("ingest")
    let url = try dir.file("pool.jsonl", content)
    do { _ = try readAll(url, options) } catch let error as IngestError { return error }
    return nil
}

private func jsonlError(_ content: String, _ options: JSONLOptions = .init()) throws -> IngestError? {
    try jsonlError(Array(content.utf8), options)
}

/// Two valid records, so the line under test is line 3.
private let preamble = "{\"id\": 1, \"text\": \"one\"}\n{\"id\": 2, \"text\": \"two\"}\n"

@Suite struct JSONLReaderTests {
    @Test func readsRecordsWithBlankLinesCRLFAndNoFinalNewline() throws {
        let dir = TemporaryDirectory("ingest")
        let line4 = #"{"text": "caf\u00e9 \ud83d\ude00 \n\t\"q\" \\ \/ \b\f\r", "id": 42, "meta": {"a": [1, 2.5e-3, -0, 1E+2, -3.25e-7, 123456789012345678901234567890, true, false, null, {}, []], "b": {"c": "d"}}}"#
        let line5 = #"{"id": -7, "text": "ünïcödé 日本 𝄞"}"#
        let content = "{\"id\": \"a\", \"text\": \"hello\"}\n" + "\n" + "   \t \r\n" + line4 + "\r\n" + line5
        let url = try dir.file("pool.jsonl", Array(content.utf8))
        let records = try readAll(url)
        #expect(records == [
            Record(line: 1, raw: Array("{\"id\": \"a\", \"text\": \"hello\"}".utf8), id: "a", text: "hello"),
            Record(line: 4, raw: Array((line4 + "\r").utf8), id: "42", text: "café 😀 \n\t\"q\" \\ / \u{8}\u{c}\r"),
            Record(line: 5, raw: Array(line5.utf8), id: "-7", text: "ünïcödé 日本 𝄞"),
        ])
    }

    @Test func skipsByteOrderMark() throws {
        let dir = TemporaryDirectory("ingest")
        let url = try dir.file("bom.jsonl", [0xef, 0xbb, 0xbf] + Array("{\"id\":1,\"text\":\"x\"}\n{\"id\":2,\"text\":\"y\"}\n".utf8))
        let records = try readAll(url)
        #expect(records.map(\.id) == ["1", "2"])
        #expect(records[0].raw == Array("{\"id\":1,\"text\":\"x\"}".utf8))
        let error = try #require(try jsonlError([0xef, 0xbb, 0xbf] + Array("{\"id\":1 \"text\":\"x\"}\n".utf8)))
        #expect(error.location == "line 1, column 9")  // columns count from after the byte order mark
    }

    @Test func customFieldNames() throws {
        let dir = TemporaryDirectory("ingest")
        let url = try dir.file("c.jsonl", Array("{\"doc_id\": \"d-1\", \"body\": \"b\", \"text\": 5, \"id\": null}\n".utf8))
        let records = try readAll(url, JSONLOptions(idField: "doc_id", textField: "body"))
        #expect(records.map(\.id) == ["d-1"] && records.map(\.text) == ["b"])
    }

    @Test func escapedKeysMatchFieldNames() throws {
        let dir = TemporaryDirectory("ingest")
        let url = try dir.file("k.jsonl", Array(#"{"\u0069d": 5, "te\u0078t": "x"}"#.utf8))
        #expect(try readAll(url).map(\.id) == ["5"])
    }

    @Test func errorNamesLineAndColumn() throws {
        let error = try #require(try jsonlError(preamble + "{\"id\": 1 \"text\": \"x\"}\n{\"id\": 4, \"text\": \"four\"}\n"))
        #expect(error.location == "line 3, column 10")
        #expect(error.problem == "expected ',' or '}' after object member, found '\"'")
        #expect(error.description.hasPrefix(error.file + ": line 3, column 10: expected ',' or '}' after object member"))
        #expect(error.file.hasSuffix("pool.jsonl"))
        #expect(error.remedy.contains("sed -n '3p'"))
    }

    @Test func columnsCountCharactersNotBytes() throws {
        let error = try #require(try jsonlError("{\"id\": \"é\", \"text\": 1}\n"))
        #expect(error.location == "line 1, column 21")
        #expect(error.problem == "the text field \"text\" must be a string, found a number")
        #expect(error.remedy.contains("--text-field"))
    }

    @Test func missingFieldsNameTheFieldAndTheFlag() throws {
        let noID = try #require(try jsonlError(preamble + "{\"doc_id\": 3, \"text\": \"x\"}\n"))
        #expect(noID.location == "line 3")
        #expect(noID.problem == "the record has no id field \"id\" (its fields are \"doc_id\", \"text\")")
        #expect(noID.remedy == "Name the record's id field with --id-field.")

        let noText = try #require(try jsonlError("{\"id\": 3, \"body\": \"x\"}\n"))
        #expect(noText.problem == "the record has no text field \"text\" (its fields are \"id\", \"body\")")
        #expect(noText.remedy == "Name the record's text field with --text-field.")

        let empty = try #require(try jsonlError("{}\n"))
        #expect(empty.problem == "the record has no id field \"id\" (the record has no fields)")
    }

    @Test(arguments: [
        ("{\"id\": 1.5, \"text\": \"x\"}", "line 1, column 8", "found the number 1.5"),
        ("{\"id\": 1e3, \"text\": \"x\"}", "line 1, column 8", "found the number 1e3"),
        ("{\"id\": {\"a\": 1}, \"text\": \"x\"}", "line 1, column 8", "found an object"),
        ("{\"id\": [1], \"text\": \"x\"}", "line 1, column 8", "found an array"),
        ("{\"id\": null, \"text\": \"x\"}", "line 1, column 8", "found null"),
        ("{\"id\": true, \"text\": \"x\"}", "line 1, column 8", "found a boolean"),
    ])
    func idMustBeStringOrInteger(record: String, location: String, found: String) throws {
        let error = try #require(try jsonlError(record + "\n"))
        #expect(error.location == location)
        #expect(error.problem == "the id field \"id\" must be a string or an integer, " + found)
        #expect(error.remedy.contains("--id-field"))
    }

    @Test func refusesEmptyOrMultiLineIDs() throws {
        let empty = try #require(try jsonlError("{\"id\": \"\", \"text\": \"x\"}\n"))
        #expect(empty.problem == "the id is empty" && empty.location == "line 1, column 8")
        let broken = try #require(try jsonlError("{\"id\": \"a\\nb\", \"text\": \"x\"}\n"))
        #expect(broken.problem.hasPrefix("the id contains a control character"))
        // A NUL would cut the id short wherever it passes through a C string.
        let nul = try #require(try jsonlError("{\"id\": \"a\\u0000b\", \"text\": \"x\"}\n"))
        #expect(nul.problem.hasPrefix("the id contains a control character") && nul.location == "line 1, column 8")
    }

    @Test func theIdAndTextFieldsMustBeTwoNamedFields() throws {
        let dir = TemporaryDirectory("ingest")
        let url = dir.file("a.jsonl")
        try Data("{\"id\": 1, \"text\": \"x\"}\n".utf8).write(to: url)
        #expect(throws: IngestError.self) { try JSONLReader(url: url, options: JSONLOptions(idField: "text", textField: "text")) }
        #expect(throws: IngestError.self) { try JSONLReader(url: url, options: JSONLOptions(idField: "")) }
    }

    @Test func duplicateIDOrTextFieldIsAnError() throws {
        let id = try #require(try jsonlError("{\"id\": 1, \"text\": \"a\", \"id\": 2}\n"))
        #expect(id.location == "line 1, column 24")
        #expect(id.problem == "the field \"id\" appears twice in the record")
        let text = try #require(try jsonlError("{\"id\": 1, \"text\": \"a\", \"t\\u0065xt\": \"b\"}\n"))
        #expect(text.location == "line 1, column 24")
        #expect(text.problem == "the field \"text\" appears twice in the record")
        // Other repeated names are left to the consumer, as RFC 8259 allows.
        let dir = TemporaryDirectory("ingest")
        #expect(try readAll(try dir.file("d.jsonl", Array("{\"id\":1,\"text\":\"a\",\"x\":1,\"x\":2}".utf8))).count == 1)
    }

    @Test(arguments: [
        ([0xff], "bytes FF"),
        ([0xc0, 0xaf], "bytes C0 AF"),            // overlong '/'
        ([0xe0, 0x80, 0xaf], "bytes E0 80 AF"),   // overlong
        ([0xed, 0xa0, 0x80], "bytes ED A0 80"),   // UTF-16 surrogate encoded in UTF-8
        ([0xf4, 0x90, 0x80, 0x80], "bytes F4 90 80 80"),  // past U+10FFFF
        ([0xe6, 0x97], "bytes E6 97"),            // truncated sequence before the closing quote
        ([0x80], "bytes 80"),                     // lone continuation byte
    ] as [([UInt8], String)])
    func refusesInvalidUTF8(bad: [UInt8], shown: String) throws {
        let record = Array("{\"id\": 1, \"text\": \"ab".utf8) + bad + Array("cd\"}\n".utf8)
        let error = try #require(try jsonlError(record))
        #expect(error.location == "line 1, column 22")
        #expect(error.problem == "invalid UTF-8 (\(shown))")
        #expect(error.remedy.contains("UTF-8"))
    }

    @Test func invalidUTF8OutsideStringsIsASyntaxError() throws {
        let error = try #require(try jsonlError([0x7b, 0xc3, 0xa9, 0x7d, 0x0a]))
        #expect(error.location == "line 1, column 2")
        #expect(error.problem == "expected a member name in double quotes, found byte 0xC3")
    }

    @Test(arguments: [
        (#"{"id": 1, "text": "a\qb"}"#, "line 1, column 21", #"invalid escape '\q' (valid: \" \\ \/ \b \f \n \r \t \uXXXX)"#),
        (#"{"id": 1, "text": "a\u12G4"}"#, "line 1, column 21", #"invalid \u escape: expected 4 hex digits, found 'G'"#),
        (#"{"id": 1, "text": "a\u12"}"#, "line 1, column 21", #"invalid \u escape: expected 4 hex digits, found '"'"#),
        (#"{"id": 1, "text": "a\ud800x"}"#, "line 1, column 21", #"invalid escape \uD800: a high surrogate must be followed by a \uDC00-\uDFFF escape"#),
        (#"{"id": 1, "text": "a\udc00"}"#, "line 1, column 21", #"invalid escape \uDC00: a low surrogate without a high surrogate before it"#),
        (#"{"id": 1, "text": "a\ud800\u0041"}"#, "line 1, column 21", #"invalid escape \uD800\u0041: a high surrogate must be followed by a low surrogate (\uDC00-\uDFFF)"#),
        ("{\"id\": 1, \"text\": \"a\tb\"}", "line 1, column 21", #"raw control character U+0009 inside a string (write it escaped, as \t)"#),
    ])
    func refusesBadEscapesAndControls(record: String, location: String, problem: String) throws {
        let error = try #require(try jsonlError(record + "\n"))
        #expect(error.location == location)
        #expect(error.problem == problem)
    }

    @Test func unterminatedStringPointsAtItsQuote() throws {
        let error = try #require(try jsonlError(preamble + "{\"id\": 1, \"text\": \"abc\n"))
        #expect(error.location == "line 3, column 19")
        #expect(error.problem == "unterminated string (no closing '\"' before the end of the line)")
    }

    @Test func recordSplitOverLines() throws {
        let error = try #require(try jsonlError("{\"id\": 1,\n\"text\": \"x\"}\n"))
        #expect(error.location == "line 1, column 10")
        #expect(error.problem == "expected a member name in double quotes, found the end of the line")
    }

    @Test(arguments: [
        ("[1, 2]", "line 1, column 1", "expected a JSON object ('{') at the start of the record, found an array"),
        ("\"s\"", "line 1, column 1", "expected a JSON object ('{') at the start of the record, found a string"),
        ("  42", "line 1, column 3", "expected a JSON object ('{') at the start of the record, found '4'"),
        ("{\"id\":1,\"text\":\"x\"} {\"id\":2}", "line 1, column 21", "unexpected '{' after the end of the record's JSON object (one record per line)"),
        ("{\"id\":1,\"text\":\"x\",}", "line 1, column 20", "expected a member name after ',', found '}' (JSON allows no trailing comma)"),
        ("{'id': 1}", "line 1, column 2", "expected a member name in double quotes, found \"'\""),
        ("{\"id\":1,\"text\":\"x\",\"s\":NaN}", "line 1, column 24", "NaN is not a JSON value (Python writes it unless json.dumps(..., allow_nan=False))"),
        ("{\"id\":1,\"text\":\"x\",\"s\":-Infinity}", "line 1, column 24", "-Infinity is not a JSON value (Python writes it unless json.dumps(..., allow_nan=False))"),
        ("{\"id\":01,\"text\":\"x\"}", "line 1, column 7", "a number must not have leading zeros"),
        ("{\"id\":1,\"text\":\"x\",\"n\":1.}", "line 1, column 26", "expected a digit after the decimal point, found '}'"),
        ("{\"id\":1,\"text\":\"x\",\"n\":.5}", "line 1, column 24", "expected a value, found '.'"),
        ("{\"id\":1,\"text\":\"x\",\"n\":+1}", "line 1, column 24", "expected a value, found '+'"),
        ("{\"id\":1,\"text\":\"x\",\"n\":1e}", "line 1, column 26", "expected a digit in the exponent, found '}'"),
        ("{\"id\":1,\"text\":\"x\",\"n\":-}", "line 1, column 25", "expected a digit after '-', found '}'"),
        ("{\"id\":1,\"text\":\"x\",\"b\":tru}", "line 1, column 24", "invalid literal (expected 'true')"),
        ("{\"id\":1,\"text\":\"x\",\"a\":[1 2]}", "line 1, column 27", "expected ',' or ']' after array element, found '2'"),
        ("{\"id\":1,\"text\":\"x\",\"a\":[1,]}", "line 1, column 27", "expected a value, found ']'"),
        ("{\"id\":1,\"text\":\"x\",\"o\":{\"k\" 1}}", "line 1, column 29", "expected ':' after member name, found '1'"),
        ("{\"id\":1,\"text\":\"x\",\"o\":{\"k\":1,}}", "line 1, column 31", "expected a member name after ',', found '}' (JSON allows no trailing comma)"),
        ("{\"id\":1,\"text\":\"x\",\"o\":{1:2}}", "line 1, column 25", "expected a member name in double quotes, found '1'"),
        ("{\"id\":1,\"text\":\"x\"", "line 1, column 19", "expected ',' or '}' after object member, found the end of the line"),
    ])
    func refusesMalformedRecords(record: String, location: String, problem: String) throws {
        let error = try #require(try jsonlError(record + "\n"))
        #expect(error.location == location)
        #expect(error.problem == problem)
    }

    @Test func nestingDepthIsLimited() throws {
        let prefix = "{\"id\":1,\"text\":\"x\",\"deep\":"
        // The record object is level 1, so 255 nested arrays reach the limit of 256 exactly.
        let dir = TemporaryDirectory("ingest")
        let ok = prefix + String(repeating: "[", count: 255) + String(repeating: "]", count: 255) + "}"
        #expect(try readAll(try dir.file("ok.jsonl", Array(ok.utf8))).count == 1)

        let deep = prefix + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        let error = try #require(try jsonlError(deep))
        #expect(error.location == "line 1, column \(prefix.utf8.count + 256)")
        #expect(error.problem == "nesting deeper than 256 levels")

        let objects = prefix + String(repeating: "{\"a\":", count: 20) + "1" + String(repeating: "}", count: 20) + "}"
        let shallow = try #require(try jsonlError(objects, JSONLOptions(maxDepth: 10)))
        #expect(shallow.problem == "nesting deeper than 10 levels")
        #expect(shallow.location == "line 1, column \(prefix.utf8.count + 5 * 9 + 1)")
    }

    @Test func refusesLinesLongerThanTheLimit() throws {
        let options = JSONLOptions(maxRecordBytes: 40)
        let long = "{\"id\": 3, \"text\": \"" + String(repeating: "x", count: 40) + "\"}"
        let error = try #require(try jsonlError(preamble + long + "\n", options))
        #expect(error.location == "line 3")
        #expect(error.problem.hasPrefix("the line is longer than the limit of 40 bytes"))
        #expect(error.remedy.contains("split the record"))
        let last = try #require(try jsonlError(preamble + long, options))  // without a final newline
        #expect(last.location == "line 3")
        // Exactly at the limit is fine.
        let dir = TemporaryDirectory("ingest")
        let fits = "{\"id\": 3, \"text\": \"" + String(repeating: "x", count: 19) + "\"}"
        #expect(fits.utf8.count == 40)
        #expect(try readAll(try dir.file("fits.jsonl", Array((fits + "\n").utf8)), options).map(\.line) == [1])
    }

    @Test func streamsFilesLargerThanTheBufferAndGrowsForOneLongLine() throws {
        let dir = TemporaryDirectory("ingest")
        var content: [UInt8] = []
        let count = 40_000
        for i in 0..<count {
            content += Array("{\"id\": \(i), \"text\": \"record \(i) \(String(repeating: "ab", count: i % 97))\", \"n\": [\(i), \(i * 2)]}\n".utf8)
            if i == 20_000 {
                content += Array("{\"id\": \"long\", \"text\": \"\(String(repeating: "0123456789", count: 600_000))\"}\n".utf8)
            }
        }
        #expect(content.count > 10 << 20)
        let url = try dir.file("big.jsonl", content)
        let reader = try JSONLReader(url: url)
        var seen = 0
        var lastProgress = 0
        var longText = 0
        try reader.forEachRecord { r in
            #expect(reader.bytesRead >= lastProgress && reader.bytesRead <= content.count)
            lastProgress = reader.bytesRead
            if r.id == "long" {
                longText = r.text.utf8.count
                #expect(r.line == 20_002)
                return
            }
            let expected = seen
            if r.id != String(expected) || r.line != (expected <= 20_000 ? expected + 1 : expected + 2) || !r.text.hasPrefix("record \(expected) ") {
                Issue.record("record \(expected) read as id \(r.id) on line \(r.line)")
            }
            seen += 1
        }
        #expect(seen == count)
        #expect(longText == 6_000_000)
        #expect(reader.bytesRead == content.count)
    }

    @Test func decodesLikeFoundationOnRandomEscapedText() throws {
        // Seeded random strings over ASCII, controls, BMP and astral characters, written with a mix of
        // raw UTF-8, short escapes and \u escapes (surrogate pairs for astral ones); JSONSerialization is
        // the independent decoder.
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15
        func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        let pools: [ClosedRange<UInt32>] = [0x20...0x7e, 0x00...0x1f, 0xa0...0x7ff, 0x800...0xd7ff, 0xe000...0xfffd, 0x10000...0x10ffff]
        var content = ""
        var expected: [String] = []
        for _ in 0..<400 {
            var text = ""
            var encoded = ""
            for _ in 0..<Int(next() % 40) {
                let pool = pools[Int(next() % UInt64(pools.count))]
                let scalar = Unicode.Scalar(pool.lowerBound + UInt32(next() % UInt64(pool.count)))!
                text.unicodeScalars.append(scalar)
                let v = scalar.value
                let forceEscape = v < 0x20 || v == 0x22 || v == 0x5c
                if forceEscape || next() % 3 == 0 {
                    switch v {
                    case 0x22: encoded += "\\\""
                    case 0x5c: encoded += "\\\\"
                    case 0x0a: encoded += "\\n"
                    case 0x2f: encoded += "\\/"
                    case 0x10000...:
                        let u = v - 0x10000
                        encoded += String(format: "\\u%04X\\u%04x", 0xd800 + (u >> 10), 0xdc00 + (u & 0x3ff))
                    default: encoded += String(format: "\\u%04x", v)
                    }
                } else {
                    encoded.unicodeScalars.append(scalar)
                }
            }
            expected.append(text)
            content += "{\"id\": \"r\(expected.count)\", \"text\": \"\(encoded)\"}\n"
        }
        let dir = TemporaryDirectory("ingest")
        let url = try dir.file("random.jsonl", Array(content.utf8))
        var index = 0
        try JSONLReader(url: url).forEachRecord { r in
            #expect(r.text == expected[index], "record \(index)")
            let foundation = try JSONSerialization.jsonObject(with: Data(r.raw)) as? [String: Any]
            #expect(foundation?["text"] as? String == r.text, "record \(index)")
            index += 1
        }
        #expect(index == expected.count)
    }
}

@Suite struct LineListTests {
    @Test func readsLinesWithCRLFBOMAndMissingFinalNewline() throws {
        let dir = TemporaryDirectory("ingest")
        let url = try dir.file("labels.txt", [0xef, 0xbb, 0xbf] + Array("python_docs\r\nman\nünï code\ngnu_info".utf8))
        #expect(try readLineList(url) == ["python_docs", "man", "ünï code", "gnu_info"])
        let empty = try dir.file("empty.txt", [])
        #expect(try readLineList(empty) == [])
        let one = try dir.file("one.txt", Array("x\n".utf8))
        #expect(try readLineList(one) == ["x"])
    }

    @Test func refusesBlankLinesAndInvalidUTF8() throws {
        let dir = TemporaryDirectory("ingest")
        for (content, line) in [("a\nb\n\nc\n", 3), ("a\n \nc", 2), ("a\nb\n\n", 3), ("\r\n", 1)] {
            let url = try dir.file("blank.txt", Array(content.utf8))
            do {
                _ = try readLineList(url)
                Issue.record("\(content.debugDescription) was accepted")
            } catch let error as IngestError {
                #expect(error.location == "line \(line)", "\(content.debugDescription)")
                #expect(error.problem == "the line is blank")
            }
        }
        let bad = try dir.file("bad.txt", Array("a\n".utf8) + [0x62, 0xff, 0x0a])
        do {
            _ = try readLineList(bad)
            Issue.record("invalid UTF-8 was accepted")
        } catch let error as IngestError {
            #expect(error.location == "line 2" && error.problem == "the line is not valid UTF-8")
        }
    }
}
