import Foundation
import Selectors

/// A seeded corpus of web-like documents for the ingest benchmark, shaped like FineWeb's JSONL
/// (`id`, `text`, `url`, `dump`, `date`, `language`, `language_score`, `token_count`).
///
/// Texts are 0.5-4 KB (uniform): sentences of words drawn from a Zipf distribution (real English
/// function words for the top ranks, pronounceable made-up words below), paragraphs split by newlines,
/// and now and then a quoted word, a number or a non-ASCII word, escaped as JSON writers escape them.
/// LZ4 stores such records at about 0.6 of their size, as it does English web text.
struct WebCorpus {
    private static let common = """
        the of and to in a is that for it as was with be by on not he I this are or his from at which but have an \
        they you were her she there one all we their can has more will if about would when who so what out up into \
        them no other than some could time these two may then do first any my now such like our over man me even \
        most made after also did many before must through back years where much your way well down should because \
        each just those people how too little state good very make world still own see men work long get here \
        between both life being under never day same another know while last might us great old year off come \
        since against go came right used take three
        """.split(separator: " ").map { Array($0.utf8) }
    private static let special = ["café", "naïve", "résumé", "Zürich", "São", "Paulo", "—", "“quoted”", "€20", "日本語", "Straße", "😀", "½", "–"]
        .map { Array($0.utf8) }

    private var random: SeededRandom
    private let words: [[UInt8]]
    /// Cumulative Zipf weights over `words`, for inverse-transform sampling.
    private let cumulative: [Double]

    init(seed: UInt64) {
        random = SeededRandom(seed: seed)
        var vocabulary = Self.common
        var made = SeededRandom(seed: seed ^ 0x5eed)
        let onsets = ["", "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w", "ch", "sh", "th", "st", "tr", "pr", "bl", "cr", "gr"]
        let vowels = ["a", "e", "i", "o", "u", "ea", "ou", "ai", "ee", "io"]
        let codas = ["", "", "n", "r", "s", "t", "l", "nd", "st", "ng", "rt", "ck"]
        var seen = Set(vocabulary)
        while vocabulary.count < 30_000 {
            var word = ""
            for _ in 0..<(1 + made.nextInt(below: 3)) {
                word += onsets[made.nextInt(below: onsets.count)] + vowels[made.nextInt(below: vowels.count)] + codas[made.nextInt(below: codas.count)]
            }
            let bytes = Array(word.utf8)
            if seen.insert(bytes).inserted { vocabulary.append(bytes) }
        }
        words = vocabulary
        var total = 0.0
        cumulative = (1...vocabulary.count).map { rank in
            total += 1 / Double(rank)
            return total
        }
    }

    /// Writes records until the file holds about `bytes` bytes; returns the record count.
    mutating func write(to url: URL, bytes target: Int) throws -> Int {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8 << 20)
        var written = 0, records = 0
        while written + buffer.count < target {
            appendRecord(records, to: &buffer)
            records += 1
            if buffer.count >= 8 << 20 {
                try handle.write(contentsOf: buffer)
                written += buffer.count
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try handle.write(contentsOf: buffer)
        return records
    }

    private mutating func appendRecord(_ index: Int, to out: inout [UInt8]) {
        let uuid = String(random.next(), radix: 16) + String(random.next() >> 1, radix: 16)
        out += Array("{\"id\": \"<urn:uuid:\(uuid)>\", \"text\": \"".utf8)
        let length = 500 + random.nextInt(below: 3501)
        let start = out.count
        var tokens = 0
        var sentenceStart = true
        var sentences = 0
        while out.count - start < length {
            var word = nextWord()
            if sentenceStart, let first = word.first, first >= 0x61, first <= 0x7a { word[0] -= 0x20 }
            let roll = random.nextInt(below: 1000)
            if roll < 5 {
                out += Array("\\\"".utf8) + word + Array("\\\"".utf8)
            } else if roll < 12 {
                out += Array(String(random.nextInt(below: 2025)).utf8)
            } else {
                out += word
            }
            tokens += 1
            sentenceStart = false
            let end = random.nextInt(below: 100)
            if end < 7 {
                out.append(UInt8(ascii: "."))
                sentenceStart = true
                sentences += 1
                if sentences % (3 + random.nextInt(below: 6)) == 0 {
                    out += Array("\\n".utf8)
                    continue
                }
            } else if end < 12 {
                out.append(UInt8(ascii: ","))
            }
            out.append(UInt8(ascii: " "))
        }
        out += Array("\", \"url\": \"https://www.example\(index % 5000).com/articles/\(index)\", \"dump\": \"CC-MAIN-2024-10\", ".utf8)
        out += Array("\"date\": \"2024-02-\(10 + index % 19)T09:33:05Z\", \"language\": \"en\", ".utf8)
        out += Array("\"language_score\": 0.\(9000 + random.nextInt(below: 999)), \"token_count\": \(tokens)}\n".utf8)
    }

    private mutating func nextWord() -> [UInt8] {
        if random.nextInt(below: 100) == 0 { return Self.special[random.nextInt(below: Self.special.count)] }
        let u = random.nextUnitDouble() * cumulative[cumulative.count - 1]
        var low = 0, high = cumulative.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulative[mid] < u { low = mid + 1 } else { high = mid }
        }
        return words[low]
    }
}
