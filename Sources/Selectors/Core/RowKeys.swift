/// Keys that order rows the same way however a corpus is split: a 64-bit hash of (seed, global row).
///
/// Selectors that sample (random, Quad) take "the rows with the smallest keys" instead of drawing from
/// a random-number stream, so a row's fate depends on its own key only, never on which other rows a
/// process sees or in what order: a corpus split into shards (docs/ARCHITECTURE.md, "Shard sets") samples exactly the rows the
/// whole corpus would.
public enum RowKeys {
    /// The key of `row` under `seed` (SplitMix64's finaliser on seed and row, as `qc_mix64`).
    @inline(__always)
    public static func key(_ seed: UInt64, _ row: Int) -> UInt64 {
        mix(seed ^ mix(UInt64(bitPattern: Int64(row))))
    }

    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Whether (key a, row a) orders before (key b, row b): smaller key first, ties to the lower row.
    @inline(__always)
    public static func before(_ a: (key: UInt64, row: Int), _ b: (key: UInt64, row: Int)) -> Bool {
        a.key < b.key || (a.key == b.key && a.row < b.row)
    }

    /// The `count` rows of `rows` with the smallest keys under `seed`, smallest key first.
    public static func smallest<S: Sequence>(_ count: Int, of rows: S, seed: UInt64) -> [Int] where S.Element == Int {
        guard count > 0 else { return [] }
        // A max-heap of the best `count` so far: its root is the largest key kept.
        var heap: [(key: UInt64, row: Int)] = []
        heap.reserveCapacity(count)
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && before(heap[m], heap[l]) { m = l }
                if r < heap.count && before(heap[m], heap[r]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for row in rows {
            let item = (key: key(seed, row), row: row)
            if heap.count < count {
                heap.append(item)
                var i = heap.count - 1
                while i > 0 {
                    let parent = (i - 1) / 2
                    guard before(heap[parent], heap[i]) else { break }
                    heap.swapAt(i, parent)
                    i = parent
                }
            } else if before(item, heap[0]) {
                heap[0] = item
                siftDown(0)
            }
        }
        return heap.sorted(by: before).map(\.row)
    }

    /// `rows` ordered by key under `seed` (a seeded shuffle that does not depend on the input order).
    public static func ordered(_ rows: [Int], seed: UInt64) -> [Int] {
        rows.map { (key: key(seed, $0), row: $0) }.sorted(by: before).map(\.row)
    }
}
