/// A fixed-length set of row indices stored as a bitmap (one bit per row).
public struct RowMask: Sendable, Equatable, Codable {
    /// Number of rows the mask covers (the universe size, not the number of set rows).
    public let count: Int
    /// Little-endian bit words: row r is bit `r % 64` of `words[r / 64]`.
    public private(set) var words: [UInt64]

    /// A mask of `count` rows, all set (`true`) or all clear.
    public init(count: Int, allSet: Bool) {
        self.count = count
        let wordCount = (count + 63) / 64
        words = [UInt64](repeating: allSet ? ~0 : 0, count: wordCount)
        if allSet, count % 64 != 0 { words[wordCount - 1] = (1 << UInt64(count % 64)) - 1 }
    }

    /// A mask over existing words; bits at or past `count` must be clear.
    public init(count: Int, words: [UInt64]) {
        precondition(words.count == (count + 63) / 64, "a mask of \(count) rows needs \((count + 63) / 64) words")
        self.count = count
        self.words = words
    }

    public func contains(_ row: Int) -> Bool {
        guard row >= 0 && row < count else { return false }
        return words[row >> 6] & (1 << UInt64(row & 63)) != 0
    }

    public mutating func insert(_ row: Int) {
        precondition(row >= 0 && row < count, "row \(row) out of range 0..<\(count)")
        words[row >> 6] |= 1 << UInt64(row & 63)
    }

    public mutating func remove(_ row: Int) {
        precondition(row >= 0 && row < count, "row \(row) out of range 0..<\(count)")
        words[row >> 6] &= ~(1 << UInt64(row & 63))
    }

    /// Number of rows in the set.
    public var setCount: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// The set rows in ascending order.
    public var setRows: [Int] {
        var out: [Int] = []
        out.reserveCapacity(setCount)
        for (w, word) in words.enumerated() {
            var bits = word
            while bits != 0 {
                out.append(w << 6 + bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
        return out
    }
}

extension RowMask {
    /// A mask of `count` rows holding exactly `rows` (each in `0..<count`).
    public init<S: Sequence>(count: Int, rows: S) where S.Element == Int {
        self.init(count: count, allSet: false)
        for row in rows { insert(row) }
    }

    /// Rows in both masks (they must cover the same number of rows).
    public func intersection(_ other: RowMask) -> RowMask {
        precondition(count == other.count, "masks of \(count) and \(other.count) rows")
        return RowMask(count: count, words: zip(words, other.words).map { $0 & $1 })
    }

    /// Rows in either mask.
    public func union(_ other: RowMask) -> RowMask {
        precondition(count == other.count, "masks of \(count) and \(other.count) rows")
        return RowMask(count: count, words: zip(words, other.words).map { $0 | $1 })
    }

    /// Rows in this mask and not in `other`.
    public func subtracting(_ other: RowMask) -> RowMask {
        precondition(count == other.count, "masks of \(count) and \(other.count) rows")
        return RowMask(count: count, words: zip(words, other.words).map { $0 & ~$1 })
    }
}
