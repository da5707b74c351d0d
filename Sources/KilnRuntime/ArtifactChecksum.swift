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
        let count = bytes.count
        var state = prime3 ^ (UInt64(truncatingIfNeeded: count) &* prime0)
        guard let base = UnsafeRawPointer(bytes.baseAddress) else {
            return finalize(mix(state, 0))
        }
        var offset = 0
        if count >= 32 {
            var lane0 = prime0
            var lane1 = prime1
            var lane2 = prime2
            var lane3 = prime3
            // Four chains so the multiplies of neighbouring words overlap in the pipeline.
            while count - offset >= 32 {
                lane0 = mix(lane0, word(base, offset))
                lane1 = mix(lane1, word(base, offset + 8))
                lane2 = mix(lane2, word(base, offset + 16))
                lane3 = mix(lane3, word(base, offset + 24))
                offset += 32
            }
            state = mix(mix(mix(mix(state, lane0), lane1), lane2), lane3)
        }
        while count - offset >= 8 {
            state = mix(state, word(base, offset))
            offset += 8
        }
        if offset < count {
            var tail: UInt64 = 0
            for index in offset..<count {
                tail |=
                    UInt64(base.load(fromByteOffset: index, as: UInt8.self))
                    << (8 * (index - offset))
            }
            // The length is already in the seed, so zero padding cannot collide.
            state = mix(state, tail)
        }
        return finalize(state)
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
