import Foundation

/// The first error thrown by any of several concurrent workers (`DispatchQueue.concurrentPerform`
/// cannot throw): workers record it and stop early, the caller rethrows it after they return.
final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var error: (any Error)?

    var isSet: Bool { lock.withLock { error != nil } }

    func record(_ error: any Error) { lock.withLock { if self.error == nil { self.error = error } } }

    func rethrow() throws { if let error = lock.withLock({ error }) { throw error } }
}
