import CKernels

/// SHA-256 (OpenSSL, through the C kernels) and xxHash64 helpers, producing lowercase hex.
enum Hashing {
    /// A streaming SHA-256 (OpenSSL's libcrypto). Small updates (a member's row, score and weight) are
    /// gathered and handed over in 4 KiB pieces, since each call into the library has a fixed cost.
    struct SHA256: ~Copyable {
        private var state = qc_sha256_state()
        private var pending: [UInt8] = []
        private static let batchBytes = 4096

        init() {
            qc_sha256_init(&state)
            pending.reserveCapacity(Self.batchBytes)
        }

        deinit {
            // A no-op after `finalize` (which releases the context); frees an abandoned hash.
            var abandoned = state
            qc_sha256_discard(&abandoned)
        }

        mutating func update(_ bytes: UnsafeRawBufferPointer) {
            if pending.count + bytes.count <= Self.batchBytes {
                pending.append(contentsOf: bytes)
                return
            }
            flush()
            qc_sha256_update(&state, bytes.baseAddress, bytes.count)
        }

        mutating func update(_ string: String) {
            var copy = string
            copy.withUTF8 { update(UnsafeRawBufferPointer($0)) }
        }

        /// Feeds a value as its 8 little-endian bytes.
        mutating func update(_ value: UInt64) {
            withUnsafeBytes(of: value.littleEndian) { update($0) }
        }

        private mutating func flush() {
            pending.withUnsafeBytes { qc_sha256_update(&state, $0.baseAddress, $0.count) }
            pending.removeAll(keepingCapacity: true)
        }

        consuming func finalize() -> [UInt8] {
            flush()
            var digest = [UInt8](repeating: 0, count: 32)
            qc_sha256_final(&state, &digest)
            return digest
        }

        consuming func finalizeHex() -> String { hex(finalize()) }
    }

    static func sha256Hex(_ string: String) -> String {
        var hasher = SHA256()
        hasher.update(string)
        return hasher.finalizeHex()
    }

    static func xxh64(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        qc_xxh64(bytes.baseAddress, bytes.count, seed)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hex(_ value: UInt64) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
