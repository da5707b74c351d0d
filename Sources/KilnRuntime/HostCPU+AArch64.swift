extension HostCPU {
    /// The LLVM features of an AArch64 Linux CPU, from the auxiliary vector the kernel hands a
    /// process (`/proc/self/auxv`: pairs of little-endian 64-bit type and value); nil without a
    /// hardware capability entry.
    static func aarch64Features(fromAuxiliaryVector bytes: [UInt8]) -> Set<String>? {
        // AT_HWCAP and AT_HWCAP2 from <elf.h>.
        let hardwareCapabilities: UInt64 = 16
        let hardwareCapabilities2: UInt64 = 26
        func word(_ offset: Int) -> UInt64 {
            (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << UInt64(8 * $1) }
        }
        var hwcap: UInt64?
        var hwcap2: UInt64 = 0
        for entry in stride(from: 0, to: bytes.count - 15, by: 16) {
            switch word(entry) {
            case hardwareCapabilities: hwcap = word(entry + 8)
            case hardwareCapabilities2: hwcap2 = word(entry + 8)
            default: continue
            }
        }
        guard let hwcap else { return nil }
        return aarch64Features(hwcap: hwcap, hwcap2: hwcap2)
    }

    /// LLVM feature names for the bits of AArch64 Linux's `AT_HWCAP` and `AT_HWCAP2` (`<asm/hwcap.h>`).
    static func aarch64Features(hwcap: UInt64, hwcap2: UInt64) -> Set<String> {
        let named: [(bit: UInt64, feature: String)] = [
            (0, "fp-armv8"), (1, "neon"), (3, "aes"), (6, "sha2"), (7, "crc"), (8, "lse"), (10, "fullfp16"),
            (12, "rdm"), (20, "dotprod"), (22, "sve"),
        ]
        let named2: [(bit: UInt64, feature: String)] = [(13, "i8mm"), (14, "bf16")]
        var features = Set<String>()
        for (bit, feature) in named where hwcap & (1 << bit) != 0 { features.insert(feature) }
        for (bit, feature) in named2 where hwcap2 & (1 << bit) != 0 { features.insert(feature) }
        return features
    }
}
