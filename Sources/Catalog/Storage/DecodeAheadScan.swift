import Foundation
import Selectors

/// Streams a stored vector array as Float32 blocks, decoding the next blocks on a second thread while
/// the caller consumes the current one.
///
/// Converting float16 (or dequantising int8/int4) into a block buffer and then reading it back runs at
/// about half the memory bandwidth on one core; overlapping the decode with the consumer puts the
/// machine's second core on it. Blocks reach the caller in row order; the caller's thread runs `body`.
final class DecodeAheadScan: @unchecked Sendable {
    private struct Slot {
        var firstRow = 0
        var rowCount = 0
        var end = false
    }

    private let array: StoredArray
    private let cache: SegmentCache
    private let blockRows: Int
    private let slotCount = 3
    private let buffers: [UnsafeMutableBufferPointer<Float>]
    /// Written by the producer, read by the consumer; the semaphores order each slot's hand-over.
    private let slots: UnsafeMutableBufferPointer<Slot>
    private let free: DispatchSemaphore
    private let filled: DispatchSemaphore
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var cancelled = false
    private var failure: Error?

    init(array: StoredArray, cache: SegmentCache, blockRows: Int) {
        self.array = array
        self.cache = cache
        self.blockRows = blockRows
        buffers = (0..<slotCount).map { _ in .allocate(capacity: blockRows * array.dim) }
        slots = .allocate(capacity: slotCount)
        slots.initialize(repeating: Slot())
        // libdispatch traps when a semaphore is released below its initial value, which a scan
        // stopped early leaves `free` at; so start it at zero and hand out the slots by signalling.
        free = DispatchSemaphore(value: 0)
        for _ in 0..<slotCount { free.signal() }
        filled = DispatchSemaphore(value: 0)
    }

    deinit {
        for buffer in buffers { buffer.deallocate() }
        slots.deallocate()
    }

    private var isCancelled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return cancelled
    }

    /// Runs the scan; returns when every block was consumed or the first error (of either side).
    func run(_ body: (RowBlock) throws -> Void) throws {
        DispatchQueue.global(qos: .userInitiated).async { self.produce() }
        var next = 0
        defer {
            // Stop the producer (if it is still going) and wait for it before the buffers go away.
            lock.lock()
            cancelled = true
            lock.unlock()
            for _ in 0..<slotCount { free.signal() }
            finished.wait()
        }
        while true {
            filled.wait()
            let slot = slots[next]
            if slot.end {
                lock.lock()
                defer { lock.unlock() }
                if let failure { throw failure }
                return
            }
            let values = UnsafeBufferPointer(rebasing: buffers[next][0..<slot.rowCount * array.dim])
            try body(RowBlock(firstRow: slot.firstRow, rowCount: slot.rowCount, dimension: array.dim, values: values))
            free.signal()
            next = (next + 1) % slotCount
        }
    }

    private func produce() {
        defer { finished.signal() }
        let decoder = ChunkDecoder(cache: cache, array: array)
        let dim = array.dim
        var next = 0
        do {
            chunks: for (index, chunk) in array.chunks.enumerated() {
                decoder.readAhead(enteringChunk: index)
                try decoder.withRawPayload(index) { raw in
                    var start = 0
                    while start < chunk.rowCount {
                        free.wait()
                        if isCancelled { return }
                        let count = min(blockRows, chunk.rowCount - start)
                        let values = try StoredVectors.floats(
                            raw, dtype: array.dtype, chunkRows: chunk.rowCount, dim: dim, rows: start..<start + count,
                            scratch: buffers[next])
                        if values.baseAddress != UnsafePointer(buffers[next].baseAddress) {
                            buffers[next].baseAddress!.update(from: values.baseAddress!, count: values.count)
                        }
                        slots[next] = Slot(firstRow: chunk.firstRow + start, rowCount: count, end: false)
                        filled.signal()
                        next = (next + 1) % slotCount
                        start += count
                    }
                }
                if isCancelled { break chunks }
            }
        } catch {
            lock.lock()
            failure = error
            lock.unlock()
        }
        // The end marker takes a slot like any block, so the consumer sees it after the last block.
        free.wait()
        slots[next] = Slot(end: true)
        filled.signal()
    }
}
