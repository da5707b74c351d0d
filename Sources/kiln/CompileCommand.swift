import ArgumentParser
import Foundation
import KilnCompiler
import KilnIR
import KilnRuntime
import Kiln

/// `kiln compile Model.swift -o DIR`: trace, optimize and compile every model in a file.
struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile", abstract: "Compile the models in a Swift model file to loadable artifacts.")

    @Argument(help: "A Swift file declaring one or more Kiln models, a .tflite or an .onnx model.")
    var modelFile: String

    @Option(name: .shortAndLong, help: "The directory to write NAME.kiln artifacts into.")
    var output: String = "."

    @Flag(help: "Also write each model's optimized LLVM IR as NAME.ll.")
    var emitLLVM = false

    @Flag(help: "Also write each model's optimized graph as NAME.graph.txt.")
    var dumpGraph = false

    @Flag(help: "Write NAME.o and NAME.h for static linking (firmware, other build systems) instead of NAME.kiln.")
    var `static` = false

    @Option(
        help:
            "Quantize every model: 'int8' (full-integer, calibrated on --calibration), 'dynamic' (int8 weights, inputs quantized at run time) or 'float16' (half-precision weights)."
    )
    var quantize: QuantizeMode?

    @Option(help: "A .npy file of float32 calibration samples stacked along a first axis, for --quantize int8.")
    var calibration: String?

    @Option(help: "How --quantize int8 picks activation ranges: minmax, percentile:P (e.g. percentile:99.99) or mse.")
    var ranges: String = "minmax"

    @Option(
        help:
            "Mixed precision for --quantize int8: keep the most sensitive layers in float32 until the output's relative error on the calibration samples is at most this (e.g. 0.01)."
    )
    var outputErrorBudget: Double?

    /// What `--quantize` accepts.
    enum QuantizeMode: String, ExpressibleByArgument, CaseIterable {
        case int8, dynamic, float16
    }

    func validate() throws {
        if quantize == .int8, calibration == nil {
            throw ValidationError("--quantize int8 needs --calibration FILE.npy, the samples activation ranges come from")
        }
        if quantize != .int8, calibration != nil { throw ValidationError("--calibration is used only with --quantize int8") }
        _ = try rangeMethod()
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
        default:
            guard ranges.hasPrefix("percentile:"), let percent = Double(ranges.dropFirst("percentile:".count)),
                (50...100).contains(percent)
            else {
                throw ValidationError(
                    "--ranges must be minmax, mse or percentile:P with P from 50 to 100 (e.g. percentile:99.99), got '\(ranges)'")
            }
            return .percentile(percent)
        }
    }

    func run() throws {
        let directory = URL(fileURLWithPath: output)
        let source = try ModelSource(url: URL(fileURLWithPath: modelFile))
        let compiler = Compiler()
        var quantization: CompileOptions.Quantization?
        switch quantize {
        case .int8?:
            quantization = .int8(
                calibration: .npy(URL(fileURLWithPath: calibration ?? "").path), ranges: try rangeMethod(),
                outputErrorBudget: outputErrorBudget)
        case .dynamic?: quantization = .dynamicRange
        case .float16?: quantization = .float16Weights
        case nil: break
        }
        for result in try compiler.compile(
            source, as: `static` ? .staticObject : .loadable, outputDirectory: directory, quantization: quantization)
        {
            let phases = result.timings.map { "\($0.phase) \(String(format: "%.2f", $0.seconds))s" }
            let files = [result.artifact] + (result.header.map { [$0] } ?? [])
            print("\(files.map(\.path).joined(separator: ", ")): \(result.metadata.modelName) [\(phases.joined(separator: ", "))]")
            if case .int8 = result.options.quantization {
                let float = result.graph.nodes.filter { node in
                    switch node.op {
                    case .conv2D, .depthwiseConv2D, .fullyConnected: result.graph.type(of: node.outputs[0]).dtype == .float32
                    default: false
                    }
                }
                if !float.isEmpty {
                    print("  kept in float32 (mixed precision): \(float.map(\.name).joined(separator: ", "))")
                }
            }
            if dumpGraph {
                try OutputFile.write(
                    Array(result.graph.textDump.utf8), to: directory.appendingPathComponent("\(result.metadata.modelName).graph.txt"))
            }
            if emitLLVM {
                // For the model's own target, as the artifact was compiled.
                _ = try compiler.compile(result.graph, options: result.options, as: .llvmIR, outputDirectory: directory)
            }
        }
    }
}
