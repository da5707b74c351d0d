import KilnIR

/// How a model is compiled: for which CPU, and which compressions to apply.
///
/// ```swift
/// var options: CompileOptions {
///     CompileOptions(quantization: .int8Weights, pruning: .magnitude(sparsity: 0.5))
/// }
/// ```
public struct CompileOptions: Hashable, Sendable, Codable {
    /// The CPU the generated code runs on.
    public enum Target: Hashable, Sendable, Codable {
        /// The CPU doing the build, with all its features.
        case host
        /// An explicit LLVM target triple, CPU name and feature string (`"+avx2,+fma"`).
        case custom(triple: String, cpu: String, features: String)
    }

    /// How weights and activations are quantized.
    public enum Quantization: Hashable, Sendable, Codable {
        /// Everything in float32.
        case none
        /// Weights stored as symmetric per-output-channel int8 and dequantized
        /// inside the kernel; activations stay float32.
        case int8Weights
        /// Full-integer int8 after TensorFlow Lite's specification, weights and
        /// activations, with activation ranges calibrated on `calibration`'s samples;
        /// the model's inputs and outputs stay float32; `ranges` chooses each activation's range
        /// from the samples. With `outputErrorBudget` (mixed precision), the layers whose int8
        /// version changes the output most stay float32 until the output's relative RMS error on
        /// the calibration samples is at most the budget (e.g. 0.01).
        case int8(calibration: Calibration, ranges: RangeMethod = .minMax, outputErrorBudget: Double? = nil)
        /// Dynamic range, as LiteRT's hybrid layers: int8 weights per output channel, and each
        /// layer's float32 input quantized to int8 at run time; no calibration.
        case dynamicRange
        /// Weights stored in half precision and computed in float32: half the weight bytes.
        case float16Weights
    }

    /// How full-integer quantization chooses an activation's range from calibration samples.
    public enum RangeMethod: Hashable, Sendable, Codable {
        /// The smallest and largest value seen (what TensorFlow Lite's converter does).
        case minMax
        /// The values at `p` and `100 − p` percent of those seen, e.g. `.percentile(99.99)`.
        case percentile(Double)
        /// The clipped range whose int8 quantization has the least mean squared error over the values seen.
        case meanSquaredError
    }

    /// Where calibration samples come from.
    public enum Calibration: Hashable, Sendable, Codable {
        /// A NumPy `.npy` file of float32 samples for the model's one input, stacked
        /// along a first axis: `[N, …]` for an input of shape `[1, …]` (or `[N, 1, …]`).
        /// A relative path is resolved against the model file's directory (the current
        /// directory for `kiln compile --calibration`).
        case npy(String)
    }

    /// Whether pruning thresholds are chosen per layer or across all layers.
    public enum PruningScope: String, Hashable, Sendable, Codable {
        /// Each layer reaches the target sparsity.
        case perLayer
        /// One magnitude threshold across every layer's weights.
        case global
    }

    /// How weights are pruned.
    public enum Pruning: Hashable, Sendable, Codable {
        /// No pruning.
        case none
        /// Zero the smallest-magnitude weights until `sparsity` (0…1) of them are zero.
        case magnitude(sparsity: Double, scope: PruningScope = .perLayer)
    }

    /// The CPU the code is generated for.
    public var target: Target
    /// Quantization applied at build time.
    public var quantization: Quantization
    /// Pruning applied at build time.
    public var pruning: Pruning
    /// Where the options were written, so a bad value is reported at the model's line;
    /// `nil` for options that no model file wrote (imported models, command-line flags).
    public var location: SourceLocation?

    /// Creates compile options; the defaults are the host CPU, float32, no pruning.
    public init(
        target: Target = .host, quantization: Quantization = .none, pruning: Pruning = .none,
        file: String = #filePath, line: Int = #line, column: Int = #column
    ) {
        self.target = target
        self.quantization = quantization
        self.pruning = pruning
        self.location = SourceLocation(file: file, line: line, column: column)
    }

    /// Problems with the options' values, located where the options were written.
    public var diagnostics: [Diagnostic] {
        var problems: [Diagnostic] = []
        // `contains` is false for NaN too, which JSON could not even carry to the compiler.
        if case .magnitude(let sparsity, _) = pruning, !(0...1).contains(sparsity) {
            problems.append(.error("pruning sparsity must be a number from 0 to 1, got \(sparsity)", at: location))
        }
        if case .int8(_, .percentile(let percent), _) = quantization, !(50...100).contains(percent) {
            problems.append(.error("a calibration percentile must be a number from 50 to 100, got \(percent)", at: location))
        }
        if case .int8(_, _, let budget?) = quantization, !(budget >= 0 && budget.isFinite) {
            problems.append(.error("an output error budget must be a finite number of at least 0, got \(budget)", at: location))
        }
        return problems
    }
}

extension CompileOptions {
    /// Options are equal when they compile the same way, wherever they were written.
    public static func == (lhs: CompileOptions, rhs: CompileOptions) -> Bool {
        lhs.target == rhs.target && lhs.quantization == rhs.quantization && lhs.pruning == rhs.pruning
    }

    /// Hashes what `==` compares.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(target)
        hasher.combine(quantization)
        hasher.combine(pruning)
    }
}
