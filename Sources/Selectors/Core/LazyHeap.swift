/// A binary max-heap of (stale gain, row id, candidate) for lazy greedy selectors (SPICE, DPP); equal
/// keys put the lower row on top.
struct LazyHeap {
    struct Entry {
        var key: Double
        var rowId: Int
        var candidate: Int
    }

    private var entries: [Entry]

    init(entries: [Entry]) {
        self.entries = entries
        var i = entries.count / 2 - 1
        while i >= 0 {
            siftDown(i)
            i -= 1
        }
    }

    var top: Entry? { entries.first }

    /// The candidates of the `count` best entries, best first (a best-first walk of the heap's tree,
    /// O(count log count); the heap is unchanged).
    func best(_ count: Int) -> [Int] {
        guard count > 0, !entries.isEmpty else { return [] }
        var out: [Int] = []
        out.reserveCapacity(min(count, entries.count))
        // The frontier is itself a binary heap of positions in `entries`.
        var frontier = [0]
        func above(_ a: Int, _ b: Int) -> Bool { Self.above(entries[frontier[a]], entries[frontier[b]]) }
        while out.count < count, let index = frontier.first {
            out.append(entries[index].candidate)
            let last = frontier.removeLast()
            if !frontier.isEmpty {
                frontier[0] = last
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var m = i
                    if l < frontier.count && above(l, m) { m = l }
                    if r < frontier.count && above(r, m) { m = r }
                    if m == i { break }
                    frontier.swapAt(i, m)
                    i = m
                }
            }
            for child in [2 * index + 1, 2 * index + 2] where child < entries.count {
                frontier.append(child)
                var i = frontier.count - 1
                while i > 0, above(i, (i - 1) / 2) {
                    frontier.swapAt(i, (i - 1) / 2)
                    i = (i - 1) / 2
                }
            }
        }
        return out
    }

    @inline(__always)
    private static func above(_ a: Entry, _ b: Entry) -> Bool {
        a.key > b.key || (a.key == b.key && a.rowId < b.rowId)
    }

    mutating func pop() {
        let last = entries.removeLast()
        guard !entries.isEmpty else { return }
        entries[0] = last
        siftDown(0)
    }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.above(entry, entries[parent]) else { break }
            entries[i] = entries[parent]
            i = parent
        }
        entries[i] = entry
    }

    private mutating func siftDown(_ start: Int) {
        let n = entries.count
        let moving = entries[start]
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = l
            guard l < n else { break }
            if r < n && Self.above(entries[r], entries[l]) { m = r }
            guard Self.above(entries[m], moving) else { break }
            entries[i] = entries[m]
            i = m
        }
        entries[i] = moving
    }
}
