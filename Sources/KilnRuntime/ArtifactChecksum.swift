/// The 64-bit hash that guards an artifact's library and metadata against modification.
///
/// Not cryptographic: it catches corruption and hand edits, not tampering. It
/// reads little-endian 64-bit words in four independent lanes so a load of
/// hundreds of megabytes of weights costs only memory bandwidth. Every step
/// is a bijection of the running state, so any change confined to one word
/// always changes the result.
enum ArtifactChecksum {
    // Odd 64-bit constants with well-mixed bits (from the golden ratio and splitmix64).
    private static let prime0: UInt64 = 0x9E37_79B9_7F4A_7C15
    private static let prime1: UInt64 = 0xBF58_476D_1CE4_E5B9
    private static let prime2: UInt64 = 0x94D0_49BB_1331_11EB
    private static let prime3: UInt64 = 0xD6E8_FEB8_6659_FD93

    /// The checksum of `bytes`.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Hasher(count: bytes.count)
        hasher.update(bytes)
        return hasher.finish()
    }

    /// The checksum of `count` bytes fed in order, so a file can be checked without holding it:
    /// every piece but the last must hold a multiple of 32 bytes.
    struct Hasher {
        private let count: Int
        private var state: UInt64
        private var lanes = (prime0, prime1, prime2, prime3)
        /// Bytes taken so far.
        private var consumed = 0
        /// The last `count % 32` bytes, which the lanes do not take.
        private var remainder: [UInt8] = []

        /// A hasher for `count` bytes.
        init(count: Int) {
            self.count = count
            state = prime3 ^ (UInt64(truncatingIfNeeded: count) &* prime0)
        }

        /// Takes the next `bytes` of the input.
        mutating func update(_ bytes: UnsafeRawBufferPointer) {
            guard let base = UnsafeRawPointer(bytes.baseAddress) else { return }
            let blockEnd = count - count % 32
            var offset = 0
            // Four chains so the multiplies of neighbouring words overlap in the pipeline.
            while consumed + offset + 32 <= blockEnd, offset + 32 <= bytes.count {
                lanes.0 = mix(lanes.0, word(base, offset))
                lanes.1 = mix(lanes.1, word(base, offset + 8))
                lanes.2 = mix(lanes.2, word(base, offset + 16))
                lanes.3 = mix(lanes.3, word(base, offset + 24))
                offset += 32
            }
            remainder.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            consumed += bytes.count
        }

        /// The checksum of everything taken.
        func finish() -> UInt64 {
            var state = state
            if count >= 32 { state = mix(mix(mix(mix(state, lanes.0), lanes.1), lanes.2), lanes.3) }
            /// Up to eight bytes from `offset` as a little-endian word, zero-padded.
            func littleEndianWord(at offset: Int) -> UInt64 {
                (offset..<min(offset + 8, remainder.count)).reduce(0) { $0 | UInt64(remainder[$1]) << (8 * ($1 - offset)) }
            }
            // Whole words, then the tail; the length is already in the seed, so zero padding cannot collide.
            for offset in stride(from: 0, to: remainder.count, by: 8) { state = mix(state, littleEndianWord(at: offset)) }
            return finalize(state)
        }
    }

    /// The checksum of `bytes`.
    static func hash(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { hash($0) }
    }

    @inline(__always)
    private static func word(_ base: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    private static func mix(_ state: UInt64, _ word: UInt64) -> UInt64 {
        let mixed = state ^ (word &* prime1)
        return (mixed ^ (mixed >> 29)) &* prime2
    }

    @inline(__always)
    private static func finalize(_ state: UInt64) -> UInt64 {
        var value = state
        value = (value ^ (value >> 30)) &* prime1
        value = (value ^ (value >> 27)) &* prime2
        return value ^ (value >> 31)
    }
}
