import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The catalog's single-writer lock: an exclusive flock on `writer.lock`.
///
/// The kernel releases it when the process dies, so a killed writer never leaves the catalog locked.
/// Readers never take it: SQLite's WAL mode gives them a consistent snapshot while a writer works.
final class WriterLock {
    private let fd: Int32

    /// Blocks until the lock is held; `waiting` is called once if another writer holds it.
    init(url: URL, waiting: (() -> Void)? = nil) throws {
        fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIO.failure("open the writer lock", url.path) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK else {
                close(fd)
                throw FileIO.failure("lock", url.path)
            }
            waiting?()
            while flock(fd, LOCK_EX) != 0 {
                if errno != EINTR {
                    close(fd)
                    throw FileIO.failure("lock", url.path)
                }
            }
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
