/// The indices of the `k` largest scores, best first; ties go to the smaller index.
///
/// Rows whose score is NaN, or for which `isEligible` is false, are never returned. Runs in
/// O(n log k) with a bounded heap, so a 5% budget over millions of rows stays cheap.
public func topK(_ scores: UnsafeBufferPointer<Float>, k: Int, isEligible: (Int) -> Bool = { _ in true }) -> [Int] {
    guard k > 0 else { return [] }
    // A min-heap on (score, -index): its root is the worst of the current best k.
    var heap: [(score: Float, index: Int)] = []
    heap.reserveCapacity(k)
    func worse(_ a: (score: Float, index: Int), _ b: (score: Float, index: Int)) -> Bool {
        a.score < b.score || (a.score == b.score && a.index > b.index)
    }
    func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && worse(heap[l], heap[m]) { m = l }
            if r < heap.count && worse(heap[r], heap[m]) { m = r }
            if m == i { return }
            heap.swapAt(i, m)
            i = m
        }
    }
    func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let p = (i - 1) / 2
            if !worse(heap[i], heap[p]) { return }
            heap.swapAt(i, p)
            i = p
        }
    }
    for i in 0..<scores.count {
        let s = scores[i]
        if s.isNaN || !isEligible(i) { continue }
        if heap.count < k {
            heap.append((s, i))
            siftUp(heap.count - 1)
        } else if worse(heap[0], (s, i)) {
            heap[0] = (s, i)
            siftDown(0)
        }
    }
    return heap.sorted { worse($1, $0) }.map(\.index)
}

/// Array convenience for ``topK(_:k:isEligible:)``.
public func topK(_ scores: [Float], k: Int, isEligible: (Int) -> Bool = { _ in true }) -> [Int] {
    scores.withUnsafeBufferPointer { topK($0, k: k, isEligible: isEligible) }
}
