import Foundation
import Kiln
import Testing

/// The x86-64 ISA levels Kiln's kernels are written for, as explicit compile
/// targets, so every level's kernels are checked on one host whatever its CPU.
enum X86Level: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case avx512vnni, avx512, avx2, sse41

    var testDescription: String { rawValue }

    /// The compile options that target this level: Kiln's presets (psABI CPU names, so nothing
    /// beyond the listed features).
    var options: CompileOptions {
        switch self {
        case .avx512vnni: CompileOptions(target: .x86_64(.v4VNNI))
        case .avx512: CompileOptions(target: .x86_64(.v4))
        case .avx2: CompileOptions(target: .x86_64(.v3))
        case .sse41: CompileOptions(target: .x86_64(.v2))
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

extension CompileOptions {
    /// Float32 code for this machine's CPU alone, the kernel checks' default: one variant keeps
    /// the sweeps quick, and every level is checked by `ISALevelKernelTests` and
    /// `PortableArtifactTests` (the default `.portable` target compiles all of them).
    static let thisMachine = CompileOptions(target: .host)
}
