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
