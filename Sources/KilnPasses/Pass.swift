import KilnIR

/// A graph-to-graph transformation with a stable id.
///
/// Passes are small and single-purpose; the ``PassPipeline`` runs them in a
/// named order and verifies the graph after each.
public protocol Pass: Sendable {
    /// The stable id used on the command line and in logs, e.g. `fuse-bias-activation`.
    var id: String { get }

    /// Transforms `graph` in place.
    ///
    /// - Throws: ``DiagnosticError`` when the graph cannot be transformed.
    func run(on graph: inout Graph) throws(DiagnosticError)
}

/// An ordered list of passes, run one after another with verification between them.
///
/// ```swift
/// let pipeline = PassPipeline.standard(PipelineConfiguration(quantizeWeightsInt8: true))
/// let optimized = try pipeline.run(graph)
/// ```
public struct PassPipeline: Sendable {
    /// The passes, in execution order.
    public var passes: [any Pass]
    /// Whether to run the verifier after every pass (always on in debug builds).
    public var verifiesEachPass: Bool

    /// Creates a pipeline.
    public init(_ passes: [any Pass], verifiesEachPass: Bool = PassPipeline.isDebugBuild) {
        self.passes = passes
        self.verifiesEachPass = verifiesEachPass
    }

    /// The pass ids, in order.
    public var ids: [String] { passes.map(\.id) }

    /// Runs every pass on a copy of `graph`.
    ///
    /// - Throws: ``DiagnosticError`` from a pass, or from the verifier naming
    ///   the pass after which the graph became invalid.
    public func run(_ graph: Graph) throws(DiagnosticError) -> Graph {
        var graph = graph
        try graph.verify()
        for pass in passes {
            try pass.run(on: &graph)
            if verifiesEachPass {
                let diagnostics = graph.verificationDiagnostics()
                if !diagnostics.isEmpty {
                    throw DiagnosticError(
                        [.error("internal error: the graph is invalid after pass '\(pass.id)'")] + diagnostics)
                }
            }
        }
        return graph
    }

    /// Whether this is a debug build of Kiln.
    public static var isDebugBuild: Bool {
        #if DEBUG
            true
        #else
            false
        #endif
    }
}

/// What the standard pipeline should do beyond the always-on optimizations.
public struct PipelineConfiguration: Hashable, Sendable {
    /// Zero the least important weights (`prune-weights`), if set.
    public var pruning: PruneWeightsPass.Configuration?
    /// Remove the least important output channels and the next layers' matching inputs (`prune-channels`), if set.
    public var channelPruning: PruneChannelsPass.Configuration?
    /// Give each layer at most this many distinct weights (`share-weights`), if set.
    public var sharedWeights: Int?
    /// Store filters as per-channel int8 (`quantize-weights-int8`).
    public var quantizeWeightsInt8: Bool
    /// Quantize the whole graph to int8, calibrated on these samples (`quantize-int8`), if set.
    public var int8Calibration: [[TensorData]]?
    /// How `quantize-int8` chooses activation ranges.
    public var rangeMethod: ActivationRanges.Method
    /// `quantize-int8`'s mixed-precision budget: the relative output error allowed on calibration samples.
    public var outputErrorBudget: Double?
    /// `quantize-int8`: whether biases absorb the mean shift of rounding the filters.
    public var biasCorrection = false
    /// `quantize-int8`: whether the model's inputs and outputs become int8 too.
    public var int8InputsAndOutputs = false
    /// Quantize layers' inputs at run time with int8 filters (`quantize-dynamic-range`).
    public var dynamicRange = false
    /// Store filters in half precision (`store-weights-float16`).
    public var float16Weights = false
    /// Run expansion, depthwise and projection layers band by band (`band-depthwise-chains`);
    /// off when a delegate may take layers, since it reads whole tensors.
    public var bandsDepthwiseChains = true
    /// The intermediate size from which `band-depthwise-chains` bands a chain.
    public var bandingMinimumBytes = BandedChain.minimumIntermediateBytes

    /// Creates a configuration; the default only optimizes.
    public init(
        pruning: PruneWeightsPass.Configuration? = nil, quantizeWeightsInt8: Bool = false,
        int8Calibration: [[TensorData]]? = nil, rangeMethod: ActivationRanges.Method = .minMax
    ) {
        self.pruning = pruning
        self.quantizeWeightsInt8 = quantizeWeightsInt8
        self.int8Calibration = int8Calibration
        self.rangeMethod = rangeMethod
    }
}

extension PassPipeline {
    /// The standard pipeline: canonicalize, fold constants, fuse epilogues, then
    /// the requested compressions, band depthwise chains, and finally plan memory.
    public static func standard(_ configuration: PipelineConfiguration = PipelineConfiguration()) -> PassPipeline {
        let banding: [any Pass] = configuration.bandsDepthwiseChains
            ? [BandDepthwiseChainsPass(minimumIntermediateBytes: configuration.bandingMinimumBytes)] : []
        return PassPipeline(preparation(configuration).passes + quantization(configuration).passes + banding + [PlanMemoryPass()])
    }

    /// The standard pipeline up to quantization: canonicalize, fold constants, fuse epilogues,
    /// prune and share weights; what a quantized graph is compared against (`kiln inspect --quantization`).
    public static func preparation(_ configuration: PipelineConfiguration = PipelineConfiguration()) -> PassPipeline {
        var passes: [any Pass] = [CanonicalizePass(), FoldConstantsPass(), FuseBiasActivationPass()]
        if let channels = configuration.channelPruning { passes.append(PruneChannelsPass(channels)) }
        if let pruning = configuration.pruning { passes.append(PruneWeightsPass(pruning)) }
        if let centroids = configuration.sharedWeights { passes.append(ShareWeightsPass(centroids: centroids)) }
        return PassPipeline(passes)
    }

    /// The quantization passes `configuration` asks for, in the standard pipeline's order.
    public static func quantization(_ configuration: PipelineConfiguration) -> PassPipeline {
        var passes: [any Pass] = []
        if configuration.quantizeWeightsInt8 { passes.append(QuantizeWeightsInt8Pass()) }
        if configuration.dynamicRange { passes.append(QuantizeDynamicRangePass()) }
        if configuration.float16Weights { passes.append(StoreWeightsFloat16Pass()) }
        if let samples = configuration.int8Calibration {
            passes.append(
                QuantizeInt8Pass(
                    samples: samples, method: configuration.rangeMethod,
                    outputErrorBudget: configuration.outputErrorBudget, biasCorrection: configuration.biasCorrection,
                    int8InputsAndOutputs: configuration.int8InputsAndOutputs))
        }
        return PassPipeline(passes)
    }
}
