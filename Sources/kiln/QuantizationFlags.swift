import ArgumentParser
import Foundation
import Kiln

/// The quantization flags `kiln compile` and `kiln inspect` share.
struct QuantizationFlags: ParsableArguments {
    @Option(
        help:
            "Quantize every model: 'int8' (full-integer, calibrated on --calibration), 'dynamic' (int8 weights, inputs quantized at run time) or 'float16' (half-precision weights)."
    )
    var quantize: QuantizeMode?

    @Option(
        help: ArgumentHelp(
            "A .npy file of float32 samples stacked along a first axis: the calibration samples of --quantize int8 and --prune; once per input of a model with several, in the model's order.",
            valueName: "file")
    )
    var calibration: [String] = []

    @Option(help: "How --quantize int8 picks activation ranges: minmax, percentile:P (e.g. percentile:99.99), mse or kl.")
    var ranges: String = "minmax"

    @Option(
        help:
            "Mixed precision for --quantize int8: keep the most sensitive layers in float32 until the output's relative error on the calibration samples is at most this (e.g. 0.01)."
    )
    var outputErrorBudget: Double?

    @Flag(help: "With --quantize int8: correct each layer's bias for the mean shift its rounded int8 weights cause.")
    var biasCorrection = false

    @Flag(name: .customLong("int8-io"), help: "With --quantize int8: make the model's inputs and outputs int8 too.")
    var int8InputsAndOutputs = false

    /// What `--quantize` accepts.
    enum QuantizeMode: String, ExpressibleByArgument, CaseIterable {
        case int8, dynamic, float16
    }

    func validate() throws {
        if quantize == .int8, calibration.isEmpty {
            throw ValidationError("--quantize int8 needs --calibration FILE.npy, the samples activation ranges come from")
        }
        _ = try rangeMethod()
        if quantize != .int8, biasCorrection || int8InputsAndOutputs {
            throw ValidationError("--bias-correction and --int8-io are used only with --quantize int8")
        }
        if let outputErrorBudget {
            guard quantize == .int8 else { throw ValidationError("--output-error-budget is used only with --quantize int8") }
            guard outputErrorBudget >= 0, outputErrorBudget.isFinite else {
                throw ValidationError("--output-error-budget must be a finite number of at least 0")
            }
        }
    }

    /// The `--ranges` method.
    func rangeMethod() throws -> CompileOptions.RangeMethod {
        switch ranges {
        case "minmax": return .minMax
        case "mse": return .meanSquaredError
        case "kl": return .klDivergence
        default:
            guard ranges.hasPrefix("percentile:"), let percent = Double(ranges.dropFirst("percentile:".count)),
                (50...100).contains(percent)
            else {
                throw ValidationError(
                    "--ranges must be minmax, mse, kl or percentile:P with P from 50 to 100 (e.g. percentile:99.99), got '\(ranges)'")
            }
            return .percentile(percent)
        }
    }

    /// The `--calibration` files as a calibration source, relative to the current directory.
    var calibrationSource: CompileOptions.Calibration? {
        let paths = calibration.map { URL(fileURLWithPath: $0).path }
        switch paths.count {
        case 0: return nil
        case 1: return .npy(paths[0])
        default: return .npyFiles(paths)
        }
    }

    /// The quantization the flags ask for, replacing each model's own; `nil` keeps the models' choice.
    func quantization() throws -> CompileOptions.Quantization? {
        switch quantize {
        case .int8?:
            guard let calibrationSource else { return nil }
            return .int8(
                calibration: calibrationSource, ranges: try rangeMethod(), outputErrorBudget: outputErrorBudget,
                biasCorrection: biasCorrection, inputsAndOutputs: int8InputsAndOutputs ? .int8 : .float32)
        case .dynamic?: return .dynamicRange
        case .float16?: return .float16Weights
        case nil: return nil
        }
    }
}
