import Foundation
import Kiln
import Testing

/// The x86-64 ISA levels Kiln's kernels are written for, as explicit compile
/// targets, so every level's kernels are checked on one host whatever its CPU.
enum X86Level: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case avx512vnni, avx512, avx2, sse41

    var testDescription: String { rawValue }

    private static let base = "+sse2,+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16"
    private static let avx2Features = base + ",+avx,+avx2,+fma,+f16c,+bmi,+bmi2,+lzcnt,+movbe"
    private static let avx512Features = avx2Features + ",+avx512f,+avx512bw,+avx512cd,+avx512dq,+avx512vl"

    /// The compile options that target this level (psABI CPU names, so nothing beyond the listed features).
    var options: CompileOptions {
        let triple = "x86_64-unknown-linux-gnu"
        switch self {
        case .avx512vnni:
            return CompileOptions(target: .custom(triple: triple, cpu: "x86-64-v4", features: Self.avx512Features + ",+avx512vnni"))
        case .avx512:
            return CompileOptions(target: .custom(triple: triple, cpu: "x86-64-v4", features: Self.avx512Features + ",-avx512vnni"))
        case .avx2:
            return CompileOptions(target: .custom(triple: triple, cpu: "x86-64-v3", features: Self.avx2Features))
        case .sse41:
            return CompileOptions(target: .custom(triple: triple, cpu: "x86-64-v2", features: Self.base))
        }
    }

    /// The `/proc/cpuinfo` flags a CPU needs to run this level's code.
    private var requiredFlags: [String] {
        switch self {
        case .avx512vnni: ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_vnni", "avx2", "fma"]
        case .avx512: ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma"]
        case .avx2: ["avx2", "fma", "f16c", "bmi2"]
        case .sse41: ["sse4_1", "sse4_2", "popcnt"]
        }
    }

    /// The host CPU's feature flags (empty off Linux/x86-64).
    private static let hostFlags: Set<String> = {
        #if arch(x86_64) && os(Linux)
            guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
                let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
            else { return [] }
            return Set(line.split(separator: " ").map(String.init))
        #else
            return []
        #endif
    }()

    /// Whether this machine can run code for the level.
    var isSupported: Bool { requiredFlags.allSatisfy(Self.hostFlags.contains) }

    /// Why a level's tests do not run here.
    var skipReason: Comment { "this host's CPU cannot run \(rawValue) code (needs \(requiredFlags.joined(separator: ", ")))" }
}
