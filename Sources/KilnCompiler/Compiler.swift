import Foundation
import Kiln
import KilnCodegen
import KilnIR
import KilnImport
import KilnPasses
import KilnRuntime

/// The compiler driver: from any model source or a graph to a loadable
/// artifact, a static object or assembly with its C header, or LLVM IR.
///
/// Pipeline: load (trace or import) → resolve weights → passes → LLVM codegen → link → artifact.
///
/// ```swift
/// let results = try Compiler().compile(ModelSource(url: url), outputDirectory: out)
/// let model = try CompiledModel(contentsOf: results[0].artifact)
/// ```
public struct Compiler: Sendable {
    /// The linker that turns objects into loadable libraries; found on first use if `nil`.
    public var linker: SharedLibraryLinker?

    /// Whether artifacts count each layer's CPU cycles (`kiln bench --per-layer`);
    /// off for artifacts an app ships.
    public var profilesLayers = false

    /// The intermediate size from which expansion, depthwise and projection layers run in bands
    /// (`band-depthwise-chains`); `nil` for ``BandedChain/minimumIntermediateBytes`` (tests band
    /// small models).
    package var bandingMinimumBytes: Int?

    /// Creates a compiler.
    public init(linker: SharedLibraryLinker? = nil, profilesLayers: Bool = false) {
        self.linker = linker
        self.profilesLayers = profilesLayers
    }

    /// What compiling writes for each model.
    public enum OutputKind: Hashable, Sendable {
        /// `NAME.kiln`: a loadable artifact for `CompiledModel`.
        case loadable
        /// `NAME.o` and `NAME.h`: an object file for static linking (firmware, other build systems).
        case staticObject
        /// `NAME.S` and `NAME.h`: assembly, as SwiftPM C targets compile it.
        case assembly
        /// `NAME.ll`: the optimized graph's LLVM IR, for the CPU the model's options target.
        case llvmIR
    }

    /// What compiling one model produced.
    public struct Result: Sendable {
        /// The file written for the model: `NAME.kiln`, `NAME.o`, `NAME.S` or `NAME.ll`.
        public var artifact: URL
        /// `NAME.h`, the C header of a static object or assembly.
        public var header: URL?
        /// The model's metadata (a static object also exports it as `kiln_NAME_metadata`).
        public var metadata: ArtifactMetadata
        /// The graph after all passes, as compiled.
        public var graph: Graph
        /// The options it was compiled with.
        public var options: CompileOptions
        /// Seconds spent in each phase, in order.
        public var timings: [(phase: String, seconds: Double)]
        /// Likely mistakes in the model, each at its line, which did not stop the build.
        public var warnings: [Diagnostic] = []
    }

    /// Loads every model of `source` (a Swift model file, `.tflite` or `.onnx`)
    /// and compiles each to `kind` in `outputDirectory` (C headers in
    /// `headerDirectory` when given).
    ///
    /// Every model is compiled before any fails, so one build reports all of
    /// a file's problems, and files are written only when all compiled: a
    /// source yields all its outputs or none.
    ///
    /// `overrides` replace every model's own choices (`kiln compile --quantize`, `--target`, …).
    public func compile(
        _ source: ModelSource, as kind: OutputKind = .loadable, outputDirectory: URL, headerDirectory: URL? = nil,
        tracer: ModelSourceTracer? = nil, overrides: CompileOptions.Overrides = .init()
    ) throws -> [Result] {
        let started = Date()
        let models = try source.load(tracer: tracer)
        let loadSeconds = Date().timeIntervalSince(started)
        let compiled = models.map { model in
            (model.graph, model.options.overriding(overrides))
        }
        var results = try compile(compiled, as: kind, outputDirectory: outputDirectory, headerDirectory: headerDirectory)
        for index in results.indices {
            results[index].timings.insert((source.loadPhase, loadSeconds), at: 0)
            results[index].warnings = models[index].warnings
            let options = compiled[index].1
            if kind != .loadable, kind != .llvmIR, !options.delegates.isEmpty {
                results[index].warnings.append(
                    Diagnostic(
                        .warning,
                        "delegates are not compiled into static objects, which run without Kiln's runtime;"
                            + " this model runs wholly on the CPU", at: options.location))
            }
        }
        return results
    }

    /// Compiles a traced or imported graph to `kind` in `outputDirectory`, named after the graph.
    public func compile(
        _ graph: Graph, options: CompileOptions, as kind: OutputKind = .loadable, outputDirectory: URL,
        headerDirectory: URL? = nil
    ) throws -> Result {
        try compile([(graph, options)], as: kind, outputDirectory: outputDirectory, headerDirectory: headerDirectory)[0]
    }

    /// Compiles every graph, then writes every file: all of them or none.
    private func compile(
        _ models: [(Graph, CompileOptions)], as kind: OutputKind, outputDirectory: URL, headerDirectory: URL?
    ) throws -> [Result] {
        var built: [(Result, [(URL, [UInt8])])] = []
        var problems: [Diagnostic] = []
        for (graph, options) in models {
            do {
                built.append(
                    try build(
                        graph, options: options, as: kind, outputDirectory: outputDirectory,
                        headerDirectory: headerDirectory ?? outputDirectory))
            } catch let error as DiagnosticError {
                problems += error.diagnostics.filter { !problems.contains($0) }
            }
        }
        if !problems.isEmpty { throw DiagnosticError(problems) }
        for (_, files) in built {
            for (url, bytes) in files {
                try Self.createOutputDirectory(url.deletingLastPathComponent())
                try OutputFile.write(bytes, to: url)
            }
        }
        return built.map(\.0)
    }

    /// Validates the graph, loads weights and runs the pass pipeline that `options` asks for.
    public func optimize(_ graph: Graph, options: CompileOptions) throws -> Graph {
        // Validate what the model states before loading weights sized by it; the pipeline verifies the rest.
        try graph.validate()
        var configuration = try Self.pipelineConfiguration(options, for: graph)
        if let bytes = bandingMinimumBytes { configuration.bandingMinimumBytes = bytes }
        var optimized = try PassPipeline.standard(configuration).run(
            WeightResolver.resolve(graph))
        optimized.optimizationGoal = options.optimizationGoal
        return optimized
    }

    /// Creates `directory` if needed, or explains why it cannot be used.
    static func createOutputDirectory(_ directory: URL) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw CompilerError("\(directory.path): is a file, not a directory; give an output directory")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CompilerError("\(directory.path): cannot create the output directory: \(error.localizedDescription)")
        }
    }

    /// Compiles a graph to the bytes of its files, without writing them.
    func build(_ graph: Graph, options: CompileOptions, as kind: OutputKind, outputDirectory: URL, headerDirectory: URL)
        throws -> (Result, [(URL, [UInt8])])
    {
        var timings: [(String, Double)] = []
        func timed<T>(_ phase: String, _ work: () throws -> T) rethrows -> T {
            let start = Date()
            defer { timings.append((phase, Date().timeIntervalSince(start))) }
            return try work()
        }
        let optimized = try timed("passes") { try optimize(graph, options: options) }
        func result(_ file: String, metadata: ArtifactMetadata, header: URL? = nil) -> Result {
            Result(
                artifact: outputDirectory.appendingPathComponent("\(graph.name).\(file)"), header: header, metadata: metadata,
                graph: optimized, options: options, timings: timings)
        }
        // Every output but a loadable artifact holds one variant: a portable target's most portable one.
        func singleMachine() throws -> TargetMachine { try Self.singleMachine(options.target, at: options.location) }
        switch kind {
        case .loadable:
            let (metadata, objects) = try timed("codegen") {
                try loadableObjects(optimized, options: options, entryPoint: "kiln_run")
            }
            let library = try timed("link") { try link(objects: objects) }
            let compiled = result("kiln", metadata: metadata)
            return (compiled, [(compiled.artifact, try ArtifactFile.encode(library: library, metadata: metadata))])
        case .llvmIR:
            let target = try singleMachine()
            let text = try timed("codegen") { try ModelCodegen(target: target).emitIR(for: optimized) }
            let compiled = result("ll", metadata: Self.metadata(for: optimized, target: target))
            return (compiled, [(compiled.artifact, Array(text.utf8))])
        case .staticObject, .assembly:
            let target = try singleMachine()
            var metadata = Self.metadata(for: optimized, target: target)
            let (object, header) = try timed("codegen") {
                try staticObject(optimized, metadata: &metadata, target: target, assembly: kind == .assembly)
            }
            let headerFile = headerDirectory.appendingPathComponent("\(graph.name).h")
            let compiled = result(kind == .assembly ? "S" : "o", metadata: metadata, header: headerFile)
            return (compiled, [(compiled.artifact, object), (headerFile, header)])
        }
    }

    /// The `prune-weights` configuration for `options`, with `graph`'s calibration samples loaded;
    /// `nil` without pruning.
    static func pruningConfiguration(_ options: CompileOptions, for graph: Graph) throws -> PruneWeightsPass.Configuration? {
        let pruning = options.pruning
        var calibration: [[TensorData]]?
        let scope: CompileOptions.PruningScope
        switch pruning {
        case .none: return nil
        case .magnitude(_, let pruningScope, _): scope = pruningScope
        case .activationAware(_, let samples, let pruningScope, _):
            scope = pruningScope
            calibration = try CalibrationSamples.load(samples, for: graph, at: options.location)
        }
        let pattern: PruneWeightsPass.Pattern =
            switch pruning.pattern ?? .unstructured {
            case .unstructured: .unstructured
            case .blocks: .blocks
            case .nOfM(let n, let m): .nOfM(n: n, m: m)
            case .channels: .unstructured  // `prune-channels` runs instead; see pipelineConfiguration
            }
        let passScope: PruneWeightsPass.Scope =
            switch scope {
            case .perLayer: .perLayer
            case .global: .global
            case .perUnit: .perUnit
            }
        return PruneWeightsPass.Configuration(
            sparsity: pruning.sparsity ?? 0, scope: passScope, pattern: pattern, calibration: calibration)
    }

    /// The pass configuration for `options`, with `graph`'s calibration samples loaded.
    static func pipelineConfiguration(_ options: CompileOptions, for graph: Graph) throws -> PipelineConfiguration {
        var configuration = PipelineConfiguration()
        configuration.bandsDepthwiseChains = options.delegates.isEmpty
        if let pruning = try pruningConfiguration(options, for: graph) {
            if options.pruning.pattern == .channels {
                configuration.channelPruning = PruneChannelsPass.Configuration(
                    fraction: pruning.sparsity, calibration: pruning.calibration)
            } else {
                configuration.pruning = pruning
            }
        }
        if case .kMeans(let centroids) = options.weightSharing { configuration.sharedWeights = centroids }
        switch options.quantization {
        case .none: break
        case .int8Weights: configuration.quantizeWeightsInt8 = true
        case .dynamicRange: configuration.dynamicRange = true
        case .float16Weights: configuration.float16Weights = true
        case .fullInteger(let int8):
            configuration.outputErrorBudget = int8.outputErrorBudget
            configuration.int8Calibration = try CalibrationSamples.load(int8.calibration, for: graph, at: options.location)
            configuration.biasCorrection = int8.biasCorrection
            configuration.int8InputsAndOutputs = int8.inputsAndOutputs == .int8
            configuration.rangeMethod =
                switch int8.ranges {
                case .minMax: .minMax
                case .percentile(let percent): .percentile(percent)
                case .meanSquaredError: .meanSquaredError
                case .klDivergence: .klDivergence
                }
        }
        return configuration
    }

    /// The LLVM target machine for a compile target of one variant (for `.variants`, the first).
    public static func targetMachine(_ target: CompileOptions.Target) throws -> TargetMachine {
        if case .host = target { return try TargetMachine.host() }
        guard let machine = target.variantTargets.first?.machine else {
            throw CompilerError("a target's variants must list at least one target")
        }
        return try TargetMachine(triple: machine.triple, cpu: machine.cpu, features: machine.features)
    }

    /// The shared library linked from `objects` (models whose entry points have distinct names).
    func link(objects: [[UInt8]]) throws -> [UInt8] {
        let work = try Cleanup.makeTemporaryDirectory(prefix: "kiln-link")
        defer { Cleanup.removeDirectory(work) }
        let objectFiles = objects.indices.map { work.appendingPathComponent("model\($0).o") }
        let library = work.appendingPathComponent("model.so")
        for (object, file) in zip(objects, objectFiles) { try Data(object).write(to: file) }
        try (linker ?? SharedLibraryLinker.find()).link(objectFiles: objectFiles, output: library)
        return [UInt8](try Data(contentsOf: library))
    }

    /// ISA extensions whose absence would make generated code fault; recorded so
    /// the runtime can refuse to load on a CPU without them.
    static let checkedFeatures: Set<String> = [
        "sse", "sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "avx", "avx2", "fma", "f16c", "bmi", "bmi2", "lzcnt",
        "popcnt", "movbe", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd", "avx512vnni", "avx512bf16",
        "avx512fp16", "avx512vbmi", "avx512vbmi2", "avx512bitalg", "avx512vpopcntdq", "avx512ifma",
        // AArch64, as `HostCPU` reads them from the kernel's hardware capabilities.
        "neon", "dotprod", "fullfp16", "i8mm", "bf16", "sve",
    ]

    /// The artifact metadata of a compiled graph.
    static func metadata(for graph: Graph, target: TargetMachine) -> ArtifactMetadata {
        func signature(_ id: ValueID) -> TensorSignature {
            let type = graph.type(of: id)
            let quantization = type.quantization
            return TensorSignature(
                name: graph[id].name, elementType: ElementType(type.dtype), shape: type.shape.dimensions,
                scale: quantization?.scales.first, zeroPoint: quantization?.zeroPoints.first)
        }
        return ArtifactMetadata(
            modelName: graph.name, inputs: graph.inputs.map(signature), outputs: graph.outputs.map(signature),
            arenaByteCount: graph.memoryPlan?.arenaByteCount ?? 0, requiredCPUFeatures: requiredFeatures(target),
            targetTriple: target.triple, targetCPU: target.cpu, weightByteCount: ModelReport(graph, plan: KernelPlan(graph: graph, isa: target.isaLevel)).weightByteCount,
            parallelEntryPoint: ModelCodegen.hasParallelEntryPoint(graph, isa: target.isaLevel)
                ? ModelCodegen.parallelEntryPoint("kiln_run") : nil, isaLevel: target.isaLevel.rawValue)
    }
}

extension ElementType {
    /// The runtime's name for an IR element type.
    init(_ dtype: DType) {
        switch dtype {
        case .float32: self = .float32
        case .float16: self = .float16
        case .int8: self = .int8
        case .int32: self = .int32
        }
    }
}
