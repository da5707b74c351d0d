import Foundation
import Kiln
import KilnCodegen
import KilnIR
import KilnRuntime

extension Compiler {
    /// The code of one ISA level in an artifact: its target machine and entry point.
    struct CodeVariant {
        var machine: TargetMachine
        var entryPoint: String
    }

    /// One target machine per code variant of `target`, best first.
    ///
    /// Variants must share an architecture (one library holds them) and differ in ISA level
    /// (their entry points are named after it); each problem is reported at `location`.
    static func variantMachines(_ target: CompileOptions.Target, at location: SourceLocation?) throws -> [TargetMachine] {
        let targets = target.variantTargets
        guard !targets.isEmpty else {
            throw DiagnosticError([.error("a target's variants must list at least one target", at: location)])
        }
        let machines = try targets.map(targetMachine)
        let architecture = { (machine: TargetMachine) in machine.triple.prefix { $0 != "-" } }
        if let other = machines.first(where: { architecture($0) != architecture(machines[0]) }) {
            throw DiagnosticError([
                .error(
                    "a target's variants must share one architecture, but they mix \(machines[0].triple) and \(other.triple);"
                        + " compile each architecture into an artifact of its own", at: location)
            ])
        }
        var seen = Set<ISALevel>()
        for machine in machines where !seen.insert(machine.isaLevel).inserted {
            throw DiagnosticError([
                .error(
                    "two of a target's variants have ISA level \(machine.isaLevel.rawValue), so the second would never run;"
                        + " list one target per level", at: location)
            ])
        }
        return machines
    }

    /// The one machine for outputs that hold a single variant (static objects, assembly, LLVM IR):
    /// a multi-variant target's last, most portable one, since such files are linked into
    /// programs that run on machines other than this one.
    static func singleMachine(_ target: CompileOptions.Target, at location: SourceLocation?) throws -> TargetMachine {
        let machines = try variantMachines(target, at: location)
        return machines[machines.count - 1]
    }

    /// The ISA level of the code `target` runs on this machine: for several variants, the first
    /// whose features this CPU has, as the runtime chooses at load.
    public static func isaLevelRunningHere(_ target: CompileOptions.Target) throws -> ISALevel {
        let machines = try variantMachines(target, at: nil)
        let variants = machines.map { machine in
            ArtifactMetadata.CodeVariant(
                isaLevel: machine.isaLevel.rawValue, entryPoint: "", parallelEntryPoint: nil,
                requiredCPUFeatures: requiredFeatures(machine), targetCPU: machine.cpu)
        }
        let running = ArtifactMetadata.CodeVariant.best(of: variants, for: HostCPU.features) ?? variants[variants.count - 1]
        return ISALevel(rawValue: running.isaLevel) ?? machines[machines.count - 1].isaLevel
    }

    /// The CPU features a machine's code needs, as the runtime checks them.
    static func requiredFeatures(_ machine: TargetMachine) -> [String] {
        machine.enabledFeatures.filter(checkedFeatures.contains).sorted()
    }

    /// The code variants of `options`' target for a model whose entry points start from
    /// `entryPoint`: that name for a single variant, suffixed with the ISA level for several.
    static func codeVariants(_ options: CompileOptions, entryPoint: String) throws -> [CodeVariant] {
        let machines = try variantMachines(options.target, at: options.location)
        return machines.map { machine in
            CodeVariant(
                machine: machine, entryPoint: machines.count == 1 ? entryPoint : "\(entryPoint)_\(machine.isaLevel.rawValue)")
        }
    }

    /// The objects and metadata of an optimized graph for a loadable artifact: one object per
    /// code variant of `options`' target, entry points named from `entryPoint`.
    func loadableObjects(_ optimized: Graph, options: CompileOptions, entryPoint: String) throws
        -> (metadata: ArtifactMetadata, objects: [[UInt8]])
    {
        let variants = try Self.codeVariants(options, entryPoint: entryPoint)
        let described = variants.map { variant in
            ArtifactMetadata.CodeVariant(
                isaLevel: variant.machine.isaLevel.rawValue, entryPoint: variant.entryPoint,
                parallelEntryPoint: ModelCodegen.hasParallelEntryPoint(optimized, isa: variant.machine.isaLevel)
                    ? ModelCodegen.parallelEntryPoint(variant.entryPoint) : nil,
                requiredCPUFeatures: Self.requiredFeatures(variant.machine), targetCPU: variant.machine.cpu)
        }
        var metadata = Self.metadata(for: optimized, target: variants[0].machine).selecting(described[0])
        if described.count > 1 { metadata.variants = described }
        if profilesLayers { metadata.profiledLayers = optimized.nodes.map(\.name) }
        let delegation = try Self.delegation(
            for: optimized, options: options, levels: variants.map(\.machine.isaLevel), entryPoint: entryPoint)
        metadata.delegatePlan = delegation?.plan
        // Each variant has its own LLVM context and target machine, so they compile side by side.
        let profilesLayers = profilesLayers
        let objects = try ParallelMap.map(Array(variants.enumerated())) { position, variant in
            // The delegate's weights are exported once, by the first variant's object.
            let exported = position == 0 ? delegation.map { [(symbol: $0.symbol, bytes: $0.constants)] } ?? [] : []
            return try ModelCodegen(
                target: variant.machine, entryPoint: variant.entryPoint, profilesLayers: profilesLayers,
                emitsNodeRanges: delegation != nil, exportedData: exported
            ).emitObject(for: optimized)
        }
        return (metadata, objects)
    }
}

extension Compiler {
    /// The ISA level of each code variant of `target`, best first, as an artifact holds them.
    public static func variantLevels(_ target: CompileOptions.Target) throws -> [ISALevel] {
        try variantMachines(target, at: nil).map(\.isaLevel)
    }
}

extension CompileOptions {
    /// Choices made on the command line (`kiln compile --quantize`, `--prune`, `--share-weights`,
    /// `--target`, `--delegate`, `--optimize`) that replace every model's own; `nil` keeps the model's.
    public struct Overrides: Sendable {
        /// Replaces the quantization.
        public var quantization: Quantization?
        /// Replaces the pruning.
        public var pruning: Pruning?
        /// Replaces the weight sharing.
        public var weightSharing: WeightSharing?
        /// Replaces the target.
        public var target: Target?
        /// Replaces the delegates (`kiln compile --delegate`).
        public var delegates: [Delegate]?
        /// Replaces the optimization goal (`kiln compile --optimize`).
        public var optimizationGoal: OptimizationGoal?

        /// Creates overrides; the default replaces nothing.
        public init(
            quantization: Quantization? = nil, pruning: Pruning? = nil, weightSharing: WeightSharing? = nil,
            target: Target? = nil, delegates: [Delegate]? = nil, optimizationGoal: OptimizationGoal? = nil
        ) {
            self.optimizationGoal = optimizationGoal
            self.quantization = quantization
            self.pruning = pruning
            self.weightSharing = weightSharing
            self.target = target
            self.delegates = delegates
        }

        /// Whether nothing is replaced.
        public var isEmpty: Bool {
            quantization == nil && pruning == nil && weightSharing == nil && target == nil && delegates == nil
                && optimizationGoal == nil
        }
    }

    /// These options with `overrides` applied, and then located nowhere when anything was
    /// replaced: the flags, not the model's line, chose them.
    public func overriding(_ overrides: Overrides) -> CompileOptions {
        var options = self
        if let quantization = overrides.quantization { options.quantization = quantization }
        if let pruning = overrides.pruning { options.pruning = pruning }
        if let weightSharing = overrides.weightSharing { options.weightSharing = weightSharing }
        if let target = overrides.target { options.target = target }
        if let delegates = overrides.delegates { options.delegates = delegates }
        if let goal = overrides.optimizationGoal { options.optimizationGoal = goal }
        if !overrides.isEmpty { options.location = nil }
        return options
    }
}
