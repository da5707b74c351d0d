import KilnIR

/// How a model is compiled: for which CPU, and which compressions to apply.
///
/// ```swift
/// var options: CompileOptions {
///     CompileOptions(quantization: .int8Weights, pruning: .magnitude(sparsity: 0.5))
/// }
/// ```
public struct CompileOptions: Hashable, Sendable, Codable {
    /// How weights and activations are quantized.
    public enum Quantization: Hashable, Sendable, Codable {
        /// Everything in float32.
        case none
        /// Weights stored as symmetric per-output-channel int8 and dequantized
        /// inside the kernel; activations stay float32.
        case int8Weights
        /// Full-integer int8 after TensorFlow Lite's specification, weights and activations,
        /// calibrated on samples; usually written with ``int8(calibration:ranges:outputErrorBudget:biasCorrection:inputsAndOutputs:)``.
        case fullInteger(FullIntegerQuantization)
        /// Dynamic range, as LiteRT's hybrid layers: int8 weights per output channel, and each
        /// layer's float32 input quantized to int8 at run time; no calibration.
        case dynamicRange
        /// Weights stored in half precision and computed in float32: half the weight bytes.
        case float16Weights

        /// Full-integer int8, calibrated on `calibration`'s samples: each activation's range by
        /// `ranges`, mixed precision within `outputErrorBudget`, optional bias correction, and
        /// float32 or int8 `inputsAndOutputs` (see ``FullIntegerQuantization``).
        ///
        /// ```swift
        /// CompileOptions(quantization: .int8(calibration: .npy("calibration.npy"), ranges: .percentile(99.99)))
        /// ```
        public static func int8(
            calibration: Calibration, ranges: RangeMethod = .minMax, outputErrorBudget: Double? = nil,
            biasCorrection: Bool = false, inputsAndOutputs: BoundaryType = .float32
        ) -> Quantization {
            .fullInteger(
                FullIntegerQuantization(
                    calibration: calibration, ranges: ranges, outputErrorBudget: outputErrorBudget,
                    biasCorrection: biasCorrection, inputsAndOutputs: inputsAndOutputs))
        }
    }

    /// How full-integer int8 quantization is calibrated and applied.
    public struct FullIntegerQuantization: Hashable, Sendable, Codable {
        /// Where the calibration samples come from.
        public var calibration: Calibration
        /// How each activation's range is chosen from the samples.
        public var ranges: RangeMethod
        /// Mixed precision: the layers whose int8 version changes the output most stay float32
        /// until the output's relative RMS error on the calibration samples is at most this
        /// (e.g. 0.01); `nil` quantizes every layer that has an int8 kernel.
        public var outputErrorBudget: Double?
        /// Whether each layer's bias absorbs the mean shift its int8 weights cause on the
        /// calibration samples (the rounding error times the mean input, per output channel).
        public var biasCorrection: Bool
        /// The element type of the model's inputs and outputs.
        public var inputsAndOutputs: BoundaryType

        /// Creates full-integer quantization options.
        public init(
            calibration: Calibration, ranges: RangeMethod = .minMax, outputErrorBudget: Double? = nil,
            biasCorrection: Bool = false, inputsAndOutputs: BoundaryType = .float32
        ) {
            self.calibration = calibration
            self.ranges = ranges
            self.outputErrorBudget = outputErrorBudget
            self.biasCorrection = biasCorrection
            self.inputsAndOutputs = inputsAndOutputs
        }
    }

    /// The element type at a full-integer model's boundary.
    public enum BoundaryType: String, Hashable, Sendable, Codable {
        /// Float32 inputs and outputs, quantized and dequantized inside the model.
        case float32
        /// Int8 inputs and outputs with the calibrated scale and zero point (in the artifact's
        /// metadata), for a pipeline that is integer end to end.
        case int8
    }

    /// How full-integer quantization chooses an activation's range from calibration samples.
    public enum RangeMethod: Hashable, Sendable, Codable {
        /// The smallest and largest value seen (what TensorFlow Lite's converter does).
        case minMax
        /// The values at `p` and `100 − p` percent of those seen, e.g. `.percentile(99.99)`.
        case percentile(Double)
        /// The clipped range whose int8 quantization has the least mean squared error over the values seen.
        case meanSquaredError
        /// The clipped range whose int8 histogram has the least Kullback–Leibler divergence from
        /// the values seen (TensorRT's entropy calibration).
        case klDivergence
    }

    /// Where calibration samples come from.
    public enum Calibration: Hashable, Sendable, Codable {
        /// A NumPy `.npy` file of float32 samples for the model's one input, stacked
        /// along a first axis: `[N, …]` for an input of shape `[1, …]` (or `[N, 1, …]`).
        /// A relative path is resolved against the model file's directory (the current
        /// directory for `kiln compile --calibration`).
        case npy(String)
        /// One `.npy` file per input of a model with several, in the model's input order, each
        /// stacked like ``npy(_:)``'s and holding the same number of samples.
        case npyFiles([String])
        /// Samples for the model's one input, each its elements in row-major order, computed by
        /// Swift code in the model file when the model is traced at build time.
        case samples([[Float]])

        /// `count` samples made by `sample(index)` when the model is traced at build time.
        ///
        /// ```swift
        /// .int8(calibration: .samples(count: 64) { index in Self.syntheticDigit(index) })
        /// ```
        public static func samples(count: Int, _ sample: (Int) throws -> [Float]) rethrows -> Calibration {
            .samples(try (0..<max(count, 0)).map(sample))
        }
    }

    /// Whether pruning thresholds are chosen per layer, per output unit or across all layers.
    public enum PruningScope: String, Hashable, Sendable, Codable {
        /// Each layer reaches the target sparsity.
        case perLayer
        /// One magnitude threshold across every layer's weights.
        case global
        /// Each output unit of each layer keeps the same share (unstructured pruning; Wanda's
        /// grouping), which the gathering sparse kernels store without padding.
        case perUnit
    }

    /// Which weights pruning removes together.
    public enum PruningPattern: Hashable, Sendable, Codable {
        /// Any weights: the best accuracy; faster only at high sparsity in memory-bound layers.
        case unstructured
        /// Whole blocks of 16 consecutive output units at one input position: the pattern the
        /// block-sparse kernels skip, so a pruned layer runs faster in proportion.
        case blocks
        /// The `n` most important of every `m` consecutive weights of an output unit survive
        /// (2:4, 1:4); the sparsity is `1 − n/m` whatever is asked.
        case nOfM(n: Int, m: Int)
        /// Whole output channels of a layer whose result feeds one other fully-connected or
        /// convolution layer (through activations, depthwise convolutions, pooling or means), with
        /// that layer's matching inputs: both become smaller dense layers, faster in proportion.
        /// The sparsity is the fraction of each such layer's channels removed; per layer only.
        case channels
    }

    /// How weights are pruned, post-training and without retraining.
    public enum Pruning: Hashable, Sendable, Codable {
        /// No pruning.
        case none
        /// Zero the smallest-magnitude weights (or groups of `pattern`) until `sparsity` (0…1) of them are zero.
        case magnitude(sparsity: Double, scope: PruningScope = .perLayer, pattern: PruningPattern = .unstructured)
        /// Like ``magnitude(sparsity:scope:pattern:)``, ranking each weight by its magnitude times
        /// the root mean square of the input channel it multiplies on `calibration`'s samples
        /// (Wanda): it keeps accuracy far better at high sparsity.
        case activationAware(
            sparsity: Double, calibration: Calibration, scope: PruningScope = .perLayer,
            pattern: PruningPattern = .unstructured)

        /// The fraction of weights to zero; `nil` without pruning.
        public var sparsity: Double? {
            switch self {
            case .none: nil
            case .magnitude(let sparsity, _, _), .activationAware(let sparsity, _, _, _): sparsity
            }
        }

        /// The pattern of pruned weights; `nil` without pruning.
        public var pattern: PruningPattern? {
            switch self {
            case .none: nil
            case .magnitude(_, _, let pattern), .activationAware(_, _, _, let pattern): pattern
            }
        }
    }

    /// How weights are shared after training: each layer's weights replaced by a few distinct values.
    public enum WeightSharing: Hashable, Sendable, Codable {
        /// Every weight its own value.
        case none
        /// At most `centroids` (2…256) distinct weights per layer, found by k-means; with 16 or
        /// fewer, fully-connected and convolution kernels store a 4-bit index per weight and look
        /// it up in a 16-entry table (an eighth of the float32 bytes).
        case kMeans(centroids: Int)
    }

    /// An accelerator some of a model's layers may run on, with placement decided at build time.
    ///
    /// ```swift
    /// CompileOptions(delegates: [.openCL(.required)])
    /// ```
    public struct Delegate: Hashable, Sendable, Codable {
        /// The kinds of delegate Kiln generates code for.
        public enum Kind: String, Hashable, Sendable, Codable {
            /// OpenCL GPUs (and other OpenCL devices), the API LiteRT's GPU delegate uses on Android.
            case openCL = "opencl"
        }

        /// What happens when the delegate cannot take a layer or cannot start.
        public enum Requirement: String, Hashable, Sendable, Codable {
            /// Layers it cannot take, and whole models where it cannot start, run on the CPU.
            case preferred
            /// Every layer must run on it: the build fails when one cannot, and loading fails
            /// when the delegate cannot start.
            case required
        }

        /// How the delegate stores float tensors and weights; it computes in float32 either way.
        public enum Storage: String, Hashable, Sendable, Codable {
            /// Single precision: results as the CPU's, to rounding.
            case float32
            /// Half precision for weights and for tensors that stay on the device: half the device
            /// memory and bandwidth, at about three decimal digits (tensors copied to or from the app stay float32).
            case float16
        }

        /// Which of the layers it supports the delegate takes.
        public enum Placement: String, Hashable, Sendable, Codable {
            /// Only pieces of the graph whose arithmetic pays for their copies and kernel launches;
            /// the CPU keeps smaller ones, which it runs faster.
            case whereFaster
            /// Every layer it supports, whatever the cost: to measure the device, or to leave the
            /// CPU free. A required delegate always places this way.
            case allSupported
        }

        /// The kind of delegate.
        public var kind: Kind
        /// Whether falling back to the CPU is allowed.
        public var requirement: Requirement
        /// How float tensors and weights are stored on the device.
        public var storage: Storage
        /// Which supported layers go to the delegate.
        public var placement: Placement
        /// Layers (by name, as `kiln inspect` shows them) that stay on the CPU whatever the
        /// delegate supports: to compare a layer's results, or to keep one off a device.
        public var cpuLayers: [String]

        /// The OpenCL delegate, preferred (falling back to the CPU) or required, storing float
        /// tensors in `storage` precision and taking the layers `placement` says, except `cpuLayers`.
        public static func openCL(
            _ requirement: Requirement = .preferred, storage: Storage = .float32, placement: Placement = .whereFaster,
            cpuLayers: [String] = []
        ) -> Delegate {
            Delegate(kind: .openCL, requirement: requirement, storage: storage, placement: placement, cpuLayers: cpuLayers)
        }
    }

    /// The CPU the code is generated for.
    public var target: Target
    /// Quantization applied at build time.
    public var quantization: Quantization
    /// Pruning applied at build time.
    public var pruning: Pruning
    /// Weight sharing applied at build time, after pruning.
    public var weightSharing: WeightSharing
    /// Accelerators layers may run on; the artifact always holds CPU code for the whole model too.
    public var delegates: [Delegate]
    /// Speed (the default) or size, where a kernel would store more weight bytes to run faster.
    public var optimizationGoal: OptimizationGoal
    /// Where the options were written, so a bad value is reported at the model's line;
    /// `nil` for options that no model file wrote (imported models, command-line flags).
    public var location: SourceLocation?

    /// Creates compile options; the defaults are ``Target/portable`` (every ISA level of the
    /// build machine's architecture, the best chosen at load), float32, no pruning, no sharing,
    /// no delegate, optimized for speed.
    public init(
        target: Target = .portable, quantization: Quantization = .none, pruning: Pruning = .none,
        weightSharing: WeightSharing = .none, delegates: [Delegate] = [], optimizingFor goal: OptimizationGoal = .speed,
        file: String = #filePath, line: Int = #line, column: Int = #column
    ) {
        self.optimizationGoal = goal
        self.target = target
        self.quantization = quantization
        self.pruning = pruning
        self.weightSharing = weightSharing
        self.delegates = delegates
        self.location = SourceLocation(file: file, line: line, column: column)
    }

    /// Problems with the options' values, located where the options were written.
    public var diagnostics: [Diagnostic] {
        var problems: [Diagnostic] = []
        // `contains` is false for NaN too, which JSON could not even carry to the compiler.
        if let sparsity = pruning.sparsity, !(0...1).contains(sparsity) {
            problems.append(.error("pruning sparsity must be a number from 0 to 1, got \(sparsity)", at: location))
        }
        if case .nOfM(let n, let m)? = pruning.pattern, !(m >= 1 && (0...m).contains(n)) {
            problems.append(.error("N:M pruning needs 0 ≤ N ≤ M and M ≥ 1, got \(n):\(m)", at: location))
        }
        if Set(delegates.map(\.kind)).count < delegates.count {
            problems.append(.error("each kind of delegate may be listed once", at: location))
        }
        if pruning.pattern == .channels {
            let scope: PruningScope? =
                switch pruning {
                case .none: nil
                case .magnitude(_, let scope, _), .activationAware(_, _, let scope, _): scope
                }
            if let scope, scope != .perLayer {
                problems.append(.error("channel pruning removes a fraction of each layer's channels: use scope .perLayer", at: location))
            }
        }
        if case .kMeans(let centroids) = weightSharing, !(2...256).contains(centroids) {
            problems.append(.error("weight sharing needs 2 to 256 centroids, got \(centroids)", at: location))
        }
        if case .fullInteger(let int8) = quantization {
            if case .percentile(let percent) = int8.ranges, !(50...100).contains(percent) {
                problems.append(.error("a calibration percentile must be a number from 50 to 100, got \(percent)", at: location))
            }
            if let budget = int8.outputErrorBudget, !(budget >= 0 && budget.isFinite) {
                problems.append(.error("an output error budget must be a finite number of at least 0, got \(budget)", at: location))
            }
        }
        return problems
    }
}

extension CompileOptions {
    /// Options are equal when they compile the same way, wherever they were written.
    public static func == (lhs: CompileOptions, rhs: CompileOptions) -> Bool {
        lhs.target == rhs.target && lhs.quantization == rhs.quantization && lhs.pruning == rhs.pruning
            && lhs.weightSharing == rhs.weightSharing && lhs.delegates == rhs.delegates
            && lhs.optimizationGoal == rhs.optimizationGoal
    }

    /// Hashes what `==` compares.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(target)
        hasher.combine(quantization)
        hasher.combine(pruning)
        hasher.combine(weightSharing)
        hasher.combine(delegates)
        hasher.combine(optimizationGoal)
    }
}
