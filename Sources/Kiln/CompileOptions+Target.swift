extension CompileOptions {
    /// The CPU the generated code runs on.
    ///
    /// ```swift
    /// CompileOptions(target: .portable)          // any x86-64 (or AArch64) machine, at full speed there
    /// CompileOptions(target: .x86_64(.v3))       // AVX2 and FMA machines only
    /// CompileOptions(target: .aarch64(.armv8_2_dotprod))
    /// ```
    public enum Target: Hashable, Sendable, Codable {
        /// The CPU doing the build, with all its features: fastest there, and may fault elsewhere.
        case host
        /// An x86-64 microarchitecture level (the psABI's `x86-64-v2` … `x86-64-v4`).
        case x86_64(X86_64Level)
        /// An AArch64 architecture level.
        case aarch64(AArch64Level)
        /// An explicit LLVM target triple, CPU name and feature string (`"+avx2,+fma"`).
        case custom(triple: String, cpu: String, features: String)
        /// One artifact with code for each target, best first; at load the runtime runs the first
        /// one the CPU has every feature of. The targets must share one architecture.
        case variants([Target])

        /// Every ISA level Kiln has kernels for on the build machine's architecture, in one
        /// artifact, the best the CPU supports chosen once at load: the default for apps.
        public static var portable: Target {
            #if arch(arm64)
                portable(.aarch64)
            #else
                portable(.x86_64)
            #endif
        }

        /// Every ISA level Kiln has kernels for on `architecture`, best first, in one artifact.
        public static func portable(_ architecture: Architecture) -> Target {
            switch architecture {
            case .x86_64: .variants([.x86_64(.v4VNNI), .x86_64(.v4), .x86_64(.v3), .x86_64(.v2)])
            case .aarch64: .variants([.aarch64(.armv8_2_dotprod), .aarch64(.armv8)])
            }
        }

        /// The single targets code is generated for: the variants in order, or this target alone.
        public var variantTargets: [Target] {
            guard case .variants(let targets) = self else { return [self] }
            return targets.flatMap(\.variantTargets)
        }

        /// The LLVM triple, CPU name and features of a preset or custom target; `nil` for
        /// ``host`` (which LLVM reports) and ``variants(_:)``.
        public var machine: (triple: String, cpu: String, features: String)? {
            switch self {
            case .host, .variants: nil
            case .custom(let triple, let cpu, let features): (triple, cpu, features)
            case .x86_64(let level): (Architecture.x86_64.triple, level.cpu, level.features)
            case .aarch64(let level): (Architecture.aarch64.triple, level.cpu, level.features)
            }
        }
    }

    /// A CPU architecture Kiln generates code for.
    public enum Architecture: String, Hashable, Sendable, Codable, CaseIterable {
        /// 64-bit x86 (Intel, AMD).
        case x86_64
        /// 64-bit Arm (phones, Apple silicon, Raspberry Pi 3 and later, Graviton).
        case aarch64

        /// The LLVM triple for this architecture on the build machine's operating system.
        var triple: String {
            #if os(macOS)
                self == .x86_64 ? "x86_64-apple-macosx" : "arm64-apple-macosx"
            #else
                "\(rawValue)-unknown-linux-gnu"
            #endif
        }
    }

    /// The x86-64 microarchitecture levels of the System V psABI, plus AVX-512 VNNI.
    public enum X86_64Level: String, Hashable, Sendable, Codable, CaseIterable {
        /// SSE4.2 and POPCNT (Nehalem, 2008, and every later x86-64 CPU).
        case v2
        /// AVX2, FMA, BMI2 (Haswell, 2013; AMD Zen).
        case v3
        /// AVX-512 F/BW/CD/DQ/VL (Skylake-X, Ice Lake, Zen 4).
        case v4
        /// `v4` with AVX-512 VNNI, the int8 dot product (Cascade Lake, Ice Lake, Zen 4).
        case v4VNNI = "v4-vnni"

        /// The psABI CPU name, tuned for no particular microarchitecture.
        var cpu: String { self == .v4VNNI ? "x86-64-v4" : "x86-64-\(rawValue)" }

        /// Every feature the level's code may use, spelled out so the kernel plan and the
        /// runtime's CPU check see them (LLVM would imply them from the CPU name alone).
        var features: String {
            let v2 = "+sse2,+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16"
            let v3 = v2 + ",+avx,+avx2,+fma,+f16c,+bmi,+bmi2,+lzcnt,+movbe"
            let v4 = v3 + ",+avx512f,+avx512bw,+avx512cd,+avx512dq,+avx512vl"
            switch self {
            case .v2: return v2
            case .v3: return v3
            case .v4: return v4 + ",-avx512vnni"
            case .v4VNNI: return v4 + ",+avx512vnni"
            }
        }
    }

    /// AArch64 architecture levels.
    public enum AArch64Level: String, Hashable, Sendable, Codable, CaseIterable {
        /// Armv8-A with NEON: every AArch64 CPU (Cortex-A53 and later).
        case armv8
        /// Armv8.2-A with the dot-product extension `sdot` (Cortex-A55/A76 and later, Apple M1).
        case armv8_2_dotprod = "armv8.2-dotprod"

        var cpu: String { "generic" }

        var features: String {
            switch self {
            case .armv8: "+neon"
            case .armv8_2_dotprod: "+neon,+dotprod"
            }
        }
    }
}
