#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The instruction-set features of the CPU this process runs on, as LLVM names them.
public enum HostCPU {
    /// The host's LLVM feature names, or nil where they cannot be determined.
    ///
    /// Known on x86 Linux, from the `flags` line of `/proc/cpuinfo`, and on AArch64 Linux, from
    /// the kernel's hardware capability bits in `/proc/self/auxv`. Elsewhere this is nil, which
    /// means "unknown": loaders then skip the check of a one-variant artifact rather than reject
    /// one that might run fine, and run a multi-variant artifact's most portable code.
    public static let features: Set<String>? = detectFeatures()

    /// The features in `required` that the host lacks, in order and without repeats.
    ///
    /// Empty when the host's features are unknown. A leading "+" (LLVM's
    /// "enable" marker) is ignored and "-" entries, which disable a feature,
    /// are never missing.
    public static func missingFeatures(_ required: [String]) -> [String] {
        guard let features else { return [] }
        return missingFeatures(required, available: features)
    }

    /// The features in `required` that a CPU with `available` features lacks (see ``missingFeatures(_:)``).
    public static func missingFeatures(_ required: [String], available: Set<String>) -> [String] {
        var missing: [String] = []
        for entry in required {
            guard !entry.hasPrefix("-") else { continue }
            let name = entry.hasPrefix("+") ? String(entry.dropFirst()) : entry
            if !name.isEmpty, !available.contains(name.lowercased()), !missing.contains(name) {
                missing.append(name)
            }
        }
        return missing
    }

    private static func detectFeatures() -> Set<String>? {
        #if os(Linux) && (arch(x86_64) || arch(i386))
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: "/proc/cpuinfo")) else {
                return nil
            }
            return features(fromCPUInfo: String(decoding: data, as: UTF8.self))
        #elseif os(Linux) && arch(arm64)
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: "/proc/self/auxv")) else { return nil }
            return aarch64Features(fromAuxiliaryVector: [UInt8](data))
        #else
            return nil
        #endif
    }

    /// The LLVM features listed on the first `flags` line of `/proc/cpuinfo` text.
    static func features(fromCPUInfo text: String) -> Set<String>? {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2,
                parts[0].split(whereSeparator: \.isWhitespace) == ["flags"]
            else { continue }
            let flags = parts[1].split(whereSeparator: { $0 == " " || $0 == "\t" })
            return llvmFeatures(fromFlags: flags.map(String.init))
        }
        return nil
    }

    /// LLVM feature names for Linux cpuinfo flags.
    static func llvmFeatures(fromFlags flags: [String]) -> Set<String> {
        var features = Set<String>()
        for flag in flags {
            features.insert(llvmName(forFlag: flag))
        }
        // LLVM splits out features that the kernel reports as part of another.
        if features.contains("sse4.2") { features.insert("crc32") }
        if features.contains("avx512f") { features.insert("evex512") }
        return features
    }

    /// The LLVM name for one cpuinfo flag; most are spelled the same.
    static func llvmName(forFlag flag: String) -> String {
        if let renamed = renamedFlags[flag] { return renamed }
        // The kernel writes "avx512_vnni" and "avx_vnni" where LLVM writes "avx512vnni", "avxvnni".
        if flag.hasPrefix("avx") { return flag.replacing("_", with: "") }
        // And "amx_tile" where LLVM writes "amx-tile".
        if flag.hasPrefix("amx_") { return flag.replacing("_", with: "-") }
        return flag
    }

    /// cpuinfo flags whose LLVM name differs by more than punctuation.
    private static let renamedFlags: [String: String] = [
        "pni": "sse3",
        "sse4_1": "sse4.1",
        "sse4_2": "sse4.2",
        "abm": "lzcnt",
        "bmi1": "bmi",
        "lahf_lm": "sahf",
        "pclmulqdq": "pclmul",
        "rdrand": "rdrnd",
        "sha_ni": "sha",
        "3dnowprefetch": "prfchw",
        "fpu": "x87",
        "lm": "64bit",
        "user_shstk": "shstk",
    ]
}
