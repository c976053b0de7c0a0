import CKernels
import Foundation

/// Timing helpers: best of several runs, wall clock.
enum Measure {
    /// Runs `body` `repeats` times and returns the fastest wall time in seconds.
    static func best(_ repeats: Int = 3, _ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }

    static func once(_ body: () throws -> Void) rethrows -> Double { try best(1, body) }

    /// Memory-read bandwidth in GB/s: a SIMD sum over a buffer far larger than the caches, on
    /// `threads` threads each summing its own part.
    static func memoryReadBandwidth(threads: Int, bytes: Int = 1 << 30) -> Double {
        let count = bytes / 4
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 1)
        nonisolated(unsafe) let base = UnsafeBufferPointer(buffer)
        let seconds = best(5) {
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let part = count / threads
                _ = qc_sum_f32(base.baseAddress! + t * part, part)
            }
        }
        return Double(bytes) / seconds / 1e9
    }
}

extension Measure {
    /// Sequential write speed of the disk under `directory` in MB/s: `bytes` written in 4 MiB pieces,
    /// then fsync, as a commit does. Attach cannot be faster than this.
    static func diskWriteBandwidth(directory: URL, bytes: Int = 512 << 20) throws -> Double {
        let url = directory.appendingPathComponent("disk-probe.bin")
        defer { try? FileManager.default.removeItem(at: url) }
        let piece = [UInt8](repeating: 0xA5, count: 4 << 20)
        let seconds = try best(2) {
            try? FileManager.default.removeItem(at: url)
            FileManager.default.createFile(atPath: url.path, contents: nil)
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            for _ in 0..<(bytes / piece.count) { try handle.write(contentsOf: piece) }
            try handle.synchronize()
        }
        return Double(bytes) / seconds / 1e6
    }
}

/// Prints a line and flushes it at once, so a log file shows progress as it happens.
func report(_ line: String) {
    print(line)
    fflush(nil)
}
