import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Named points in the commit protocol where the crash tests kill the process on purpose.
///
/// When the environment variable `QUADCAT_CRASH_AT` names a point, the process sends itself SIGKILL
/// on reaching it, exactly as an out-of-memory kill or a power cut would stop it. Unset (always, in
/// normal use) this is one dictionary lookup per write operation.
enum CrashPoint: String {
    /// Chunk files written and fsynced in staging/, not yet renamed.
    case afterStaging = "after-staging"
    /// Chunk files renamed into chunks/, SQLite transaction not committed.
    case afterPublish = "after-publish"
    /// SQLite transaction committed.
    case afterCommit = "after-commit"

    private static let armed = ProcessInfo.processInfo.environment["QUADCAT_CRASH_AT"]

    func reach() {
        if Self.armed == rawValue { kill(getpid(), SIGKILL) }
    }
}
