import Foundation

/// Runs a transform on several threads and hands the results back in the order the inputs came in.
///
/// A producer `submit`s inputs, the consumer takes results with `next`. At most `capacity` inputs are
/// in flight (submitted, and their results not yet taken), so a slow consumer stops the producer
/// rather than letting memory grow. Each worker thread has a `State` of its own (a parser, scratch
/// buffers), made on that thread.
final class OrderedWorkers<Input: Sendable, Output: Sendable, State>: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    private let transform: @Sendable (inout State, Input) -> Output
    private let makeState: @Sendable () -> State
    private var pending: [(sequence: Int, input: Input)] = []
    private var pendingHead = 0
    private var results: [Int: Output] = [:]
    private var submitted = 0
    private var taken = 0
    private var finished = false
    private var cancelled = false
    private let running = DispatchGroup()

    init(workers: Int, capacity: Int, makeState: @escaping @Sendable () -> State, transform: @escaping @Sendable (inout State, Input) -> Output) {
        precondition(workers > 0 && capacity > 0)
        self.capacity = capacity
        self.makeState = makeState
        self.transform = transform
        for index in 0..<workers {
            running.enter()
            let thread = Thread { [self] in
                work()
                running.leave()
            }
            thread.name = "quadcat-worker-\(index)"
            thread.start()
        }
    }

    /// Queues an input, waiting while `capacity` are in flight. Returns false once cancelled.
    @discardableResult
    func submit(_ input: Input) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while submitted - taken >= capacity && !cancelled { condition.wait() }
        guard !cancelled else { return false }
        precondition(!finished, "submit after finish")
        pending.append((submitted, input))
        submitted += 1
        condition.broadcast()
        return true
    }

    /// Says no more inputs will come.
    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next result in input order; nil after the last one (once `finish` was called) or after
    /// `cancel`.
    func next() -> Output? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled && results[taken] == nil && !(finished && taken == submitted) { condition.wait() }
        guard !cancelled, let output = results.removeValue(forKey: taken) else { return nil }
        taken += 1
        condition.broadcast()
        return output
    }

    /// Drops the inputs not yet started, makes `submit` return false and `next` nil.
    func cancel() {
        condition.lock()
        cancelled = true
        pending.removeAll()
        pendingHead = 0
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until every worker thread has ended (call after the last `next` or after `cancel`).
    func join() {
        running.wait()
    }

    private func work() {
        var state = makeState()
        while true {
            condition.lock()
            while pendingHead == pending.count && !finished && !cancelled { condition.wait() }
            if cancelled || pendingHead == pending.count {
                condition.unlock()
                return
            }
            let (sequence, input) = pending[pendingHead]
            pendingHead += 1
            if pendingHead == pending.count {
                pending.removeAll(keepingCapacity: true)
                pendingHead = 0
            }
            condition.unlock()
            let output = transform(&state, input)
            condition.lock()
            if !cancelled { results[sequence] = output }
            condition.broadcast()
            condition.unlock()
        }
    }
}
