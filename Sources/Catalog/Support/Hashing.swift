import CKernels

/// SHA-256 and xxHash64 helpers over the C kernels, producing lowercase hex.
enum Hashing {
    /// A streaming SHA-256.
    struct SHA256 {
        private var state = qc_sha256_state()

        init() { qc_sha256_init(&state) }

        mutating func update(_ bytes: UnsafeRawBufferPointer) {
            qc_sha256_update(&state, bytes.baseAddress, bytes.count)
        }

        mutating func update(_ string: String) {
            var copy = string
            copy.withUTF8 { qc_sha256_update(&state, $0.baseAddress, $0.count) }
        }

        /// Feeds a value as its 8 little-endian bytes.
        mutating func update(_ value: UInt64) {
            withUnsafeBytes(of: value.littleEndian) { update($0) }
        }

        mutating func finalize() -> [UInt8] {
            var digest = [UInt8](repeating: 0, count: 32)
            qc_sha256_final(&state, &digest)
            return digest
        }

        mutating func finalizeHex() -> String { hex(finalize()) }
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
