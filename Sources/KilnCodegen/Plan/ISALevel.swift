/// The instruction-set level kernels are chosen for: what a target's vector
/// registers hold and which integer dot-product instructions it has.
///
/// Derived from the target's triple and feature list alone, so a plan for any
/// target can be made (and tested) on any host.
public enum ISALevel: String, Sendable, CaseIterable, Codable {
    /// AVX-512 with VNNI (`vpdpbusd`): 32 registers of 16 f32 lanes, 4-byte int8 dot products.
    case avx512vnni
    /// AVX-512 without VNNI.
    case avx512
    /// AVX2 with FMA: 16 registers of 8 f32 lanes.
    case avx2
    /// SSE4.1, the x86-64 baseline Kiln targets: 16 registers of 4 f32 lanes.
    case sse41
    /// AArch64 NEON with the dot-product extension (`sdot`).
    case neonDotProd = "neondot"
    /// AArch64 NEON: 32 registers of 4 f32 lanes.
    case neon

    /// The level of a target, from its LLVM triple and its enabled features (without `+`).
    public init(triple: String, features: [String]) {
        let enabled = Set(features)
        if triple.hasPrefix("aarch64") || triple.hasPrefix("arm64") {
            self = enabled.contains("dotprod") ? .neonDotProd : .neon
        } else if enabled.contains("avx512f") {
            self = enabled.contains("avx512vnni") && enabled.contains("avx512bw") ? .avx512vnni : .avx512
        } else if enabled.contains("avx2") {
            self = .avx2
        } else {
            self = .sse41
        }
    }

    /// f32 lanes in one vector register.
    public var laneWidth: Int {
        switch self {
        case .avx512vnni, .avx512: 16
        case .avx2: 8
        case .sse41, .neon, .neonDotProd: 4
        }
    }

    /// Architectural vector registers, which bound a kernel's register tile.
    public var vectorRegisters: Int {
        switch self {
        case .avx512vnni, .avx512, .neon, .neonDotProd: 32
        case .avx2, .sse41: 16
        }
    }

    /// Whether the level has fused multiply-add instructions (all but SSE4.1).
    public var hasFMA: Bool { self != .sse41 }

    /// Whether the level converts half to single precision in hardware: F16C from x86-64-v3 up,
    /// and every AArch64 CPU. Without it LLVM would call a libgcc routine, which an artifact
    /// (linked with nothing else) cannot reach.
    public var hasHalfConversion: Bool { self != .sse41 }

    /// Whether int8 layers run on `vpdpbusd` (16 lanes of four-byte dot products).
    public var hasVNNI: Bool { self == .avx512vnni }
}

extension TargetMachine {
    /// The kernel level of this target.
    public var isaLevel: ISALevel { ISALevel(triple: triple, features: enabledFeatures) }
}
