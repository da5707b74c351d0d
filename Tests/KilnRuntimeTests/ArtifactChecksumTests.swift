import Testing

@testable import KilnRuntime

@Suite("Artifact checksum")
struct ArtifactChecksumTests {
    @Test func isDeterministic() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        #expect(ArtifactChecksum.hash(bytes) == ArtifactChecksum.hash(bytes))
    }

    @Test func everySingleBitFlipChangesIt() {
        // 75 bytes: two 32-byte stripes, one whole word and a 3-byte tail.
        let bytes = (0..<75).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let original = ArtifactChecksum.hash(bytes)
        for index in bytes.indices {
            for bit in 0..<8 {
                var flipped = bytes
                flipped[index] ^= 1 << bit
                #expect(ArtifactChecksum.hash(flipped) != original, "byte \(index) bit \(bit)")
            }
        }
    }

    @Test func lengthMattersEvenForZeros() {
        let hashes = (0...100).map { ArtifactChecksum.hash([UInt8](repeating: 0, count: $0)) }
        #expect(Set(hashes).count == hashes.count)
    }

    @Test func swappedWordsChangeIt() {
        let first = [UInt8](repeating: 1, count: 8) + [UInt8](repeating: 2, count: 8)
        let second = [UInt8](repeating: 2, count: 8) + [UInt8](repeating: 1, count: 8)
        #expect(ArtifactChecksum.hash(first) != ArtifactChecksum.hash(second))
    }

    @Test func handlesLargeInputs() {
        // The release-build speed target (10 MB well under 10 ms) is measured
        // outside the test suite; here only correctness on a large buffer.
        var bytes = [UInt8](repeating: 0, count: 1 << 20)
        let before = ArtifactChecksum.hash(bytes)
        bytes[bytes.count - 1] = 1
        #expect(ArtifactChecksum.hash(bytes) != before)
    }
}
