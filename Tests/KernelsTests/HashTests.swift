import CKernels
import Foundation
import Synchronization
import Testing

@Suite("xxHash64 and SHA-256 (OpenSSL) match their reference implementations")
struct HashTests {
    // Digests from the reference `xxhash` Python package (xxhash 4.1.0).
    @Test(arguments: [
        ([UInt8](), UInt64(0), UInt64(0xEF46_DB37_51D8_E999)),
        (Array("a".utf8), 0, 0xD24E_C4F1_A98C_6E5B),
        (Array("abc".utf8), 0, 0x44BC_2CF5_AD77_0999),
        ([UInt8]((0..<768).map { UInt8($0 % 256) }), 7, 0xB1E1_0F6C_5294_CD6B),
        ([UInt8](repeating: UInt8(ascii: "x"), count: 31), 0, 0x60DD_0D01_083B_99F0),
        ([UInt8](repeating: UInt8(ascii: "y"), count: 32), 1, 0xCA60_EC07_06DF_AA09),
        ([UInt8](repeating: UInt8(ascii: "z"), count: 100), 1 << 63, 0xCDA8_E775_0CF7_6103),
    ])
    func xxh64MatchesReference(data: [UInt8], seed: UInt64, expected: UInt64) {
        #expect(qc_xxh64(data, data.count, seed) == expected)
    }

    @Test func xxh64StreamingEqualsOneShot() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<5000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let oneShot = qc_xxh64(data, data.count, 42)
        for split in [0, 1, 7, 31, 32, 33, 100, 4999, 5000] {
            var state = qc_xxh64_state()
            qc_xxh64_init(&state, 42)
            data.withUnsafeBytes { bytes in
                qc_xxh64_update(&state, bytes.baseAddress, split)
                qc_xxh64_update(&state, bytes.baseAddress! + split, data.count - split)
            }
            #expect(qc_xxh64_digest(&state) == oneShot, "split at \(split)")
        }
    }

    private func sha256Hex(_ data: [UInt8], chunk: Int = .max) -> String {
        var state = qc_sha256_state()
        qc_sha256_init(&state)
        var start = 0
        repeat {
            let end = min(data.count, start + chunk)
            data[start..<end].withUnsafeBytes { qc_sha256_update(&state, $0.baseAddress, $0.count) }
            start = end
        } while start < data.count
        var digest = [UInt8](repeating: 0, count: 32)
        qc_sha256_final(&state, &digest)
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    // FIPS 180-4 examples.
    @Test func sha256MatchesNISTVectors() {
        #expect(sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let twoBlocks = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(sha256Hex(twoBlocks) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(sha256Hex(million, chunk: 777) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func oneShotSHA256MatchesStreamingOnEveryThread() {
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        var digest = [UInt8](repeating: 0, count: 32)
        qc_sha256(million, million.count, &digest)
        #expect(digest.map { String(format: "%02x", $0) }.joined() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        qc_sha256(nil, 0, &digest)
        #expect(digest.map { String(format: "%02x", $0) }.joined() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // Documents of every length around the 64-byte block size, hashed on several threads at once
        // (each thread reuses its own context), against the streaming form.
        let data = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        let lengths = Array(0...200) + [1000, 4095, 4096]
        let expected = lengths.map { sha256Hex(Array(data[0..<$0]), chunk: 13) }
        let mismatches = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            var out = [UInt8](repeating: 0, count: 32)
            for (i, length) in lengths.enumerated() {
                data.withUnsafeBytes { qc_sha256($0.baseAddress, length, &out) }
                if out.map({ String(format: "%02x", $0) }).joined() != expected[i] { mismatches.withLock { $0 += 1 } }
            }
        }
        #expect(mismatches.withLock { $0 } == 0)
    }

    @Test func abandonedStreamingStateIsReleased() {
        var state = qc_sha256_state()
        qc_sha256_init(&state)
        qc_sha256_update(&state, "abc", 3)
        qc_sha256_discard(&state)
        #expect(state.context == nil)
        qc_sha256_discard(&state)  // twice is harmless
    }
}
