import ArgumentParser
import Kiln

/// `--target` and `--optimize`, shared by the commands that compile: the CPUs code is generated for,
/// and what its kernels favor.
struct TargetOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            """
            The CPUs to generate code for, instead of each model's own target: portable (every ISA level of this \
            machine's architecture in one artifact, the best chosen at load: the default), portable-x86-64, \
            portable-aarch64, host (this CPU only), x86-64-v2, x86-64-v3, x86-64-v4, x86-64-v4-vnni, armv8, \
            armv8.2-dotprod.
            """,
            valueName: "target"))
    var target: String?

    @Option(
        help: ArgumentHelp(
            """
            What kernels favor, instead of each model's own goal: speed (the default; Winograd's convolutions \
            store 16 weights per 9 of a float 3×3 filter) or size (no kernel stores more weight bytes than the \
            model's filters).
            """,
            valueName: "goal"))
    var optimize: String?

    /// The goal `--optimize` names, or `nil` to keep each model's own.
    func optimizationGoal() throws -> OptimizationGoal? {
        guard let optimize else { return nil }
        guard let goal = OptimizationGoal(rawValue: optimize) else {
            throw ValidationError("unknown --optimize '\(optimize)'; use speed or size")
        }
        return goal
    }

    /// The target `--target` names, or `nil` to keep each model's own.
    func compileTarget() throws -> CompileOptions.Target? {
        guard let target else { return nil }
        if let preset = Self.presets[target] { return preset }
        throw ValidationError(
            "unknown --target '\(target)'; use one of \(Self.presets.keys.sorted().joined(separator: ", "))")
    }

    /// Every target the option names, by its spelling.
    static let presets: [String: CompileOptions.Target] = {
        var presets: [String: CompileOptions.Target] = [
            "portable": .portable, "host": .host,
            "portable-x86-64": .portable(.x86_64), "portable-aarch64": .portable(.aarch64),
        ]
        for level in CompileOptions.X86_64Level.allCases { presets["x86-64-\(level.rawValue)"] = .x86_64(level) }
        for level in CompileOptions.AArch64Level.allCases { presets[level.rawValue] = .aarch64(level) }
        return presets
    }()
}
