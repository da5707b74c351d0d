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

    @OptionGroup var quantization: QuantizationFlags

    @OptionGroup var compression: CompressionFlags

    @OptionGroup var targeting: TargetOption

    @OptionGroup var delegation: DelegateFlags

    func validate() throws {
        if `static`, delegation.delegate != nil {
            throw ValidationError("--delegate needs a loadable artifact: static objects run without Kiln's runtime")
        }
        if quantization.quantize != .int8, !compression.asksForPruning, !quantization.calibration.isEmpty {
            throw ValidationError("--calibration is used only with --quantize int8 or --prune")
        }
    }

    func run() throws {
        let directory = URL(fileURLWithPath: output)
        let source = try ModelSource(url: URL(fileURLWithPath: modelFile))
        let compiler = Compiler()
        for result in try compiler.compile(
            source, as: `static` ? .staticObject : .loadable, outputDirectory: directory,
            overrides: .init(
                quantization: try quantization.quantization(),
                pruning: try compression.pruning(calibration: quantization.calibrationSource),
                weightSharing: compression.weightSharing, target: try targeting.compileTarget(),
                delegates: delegation.delegates, optimizationGoal: try targeting.optimizationGoal()))
        {
            UserMessages.printWarnings(result.warnings)
            let phases = result.timings.map { "\($0.phase) \(String(format: "%.2f", $0.seconds))s" }
            let files = [result.artifact] + (result.header.map { [$0] } ?? [])
            print("\(files.map(\.path).joined(separator: ", ")): \(result.metadata.modelName) [\(phases.joined(separator: ", "))]")
            if let plan = result.metadata.delegatePlan {
                let delegated = plan.placement.filter { $0.processor != .cpu }.count
                print(
                    "  opencl: \(delegated) of \(plan.placement.count) layers in \(plan.partitionCount) partition"
                        + "\(plan.partitionCount == 1 ? "" : "s") (kiln inspect --delegate opencl shows where and why)")
            }
            if case .fullInteger = result.options.quantization {
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
