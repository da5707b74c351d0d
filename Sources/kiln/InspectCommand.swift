import ArgumentParser
import Foundation
import KilnCodegen
import KilnCompiler
import KilnIR
import KilnRuntime

/// `kiln inspect`: layers, shapes, parameters, MACs and memory of a model or artifact.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model's layers, output shapes, parameters, MACs, kernels, arena and weight bytes after passes.")

    @Argument(help: "A Swift model file, a .tflite or .onnx model, or a compiled .kiln artifact.")
    var path: String

    @Flag(help: "Also print the optimized graph.")
    var graph = false

    @Option(
        help: ArgumentHelp(
            "Show the kernels chosen for this ISA level instead of the model's target.",
            valueName: ISALevel.allCases.map(\.rawValue).joined(separator: "|")))
    var isa: ISALevel?

    func run() throws {
        let url = URL(fileURLWithPath: path)
        if url.pathExtension != "kiln" {
            for model in try ModelSource(url: url).load() {
                let optimized = try Compiler().optimize(model.graph, options: model.options)
                let level = try isa ?? Compiler.targetMachine(model.options.target).isaLevel
                print("model \(model.name) (kernels for \(level.rawValue))")
                print(ModelReport(optimized, plan: KernelPlan(graph: optimized, isa: level)).table)
                if graph { print("\n" + optimized.textDump) }
            }
        } else {
            let metadata = try ArtifactFile.readMetadata(contentsOf: url)
            print("model \(metadata.modelName) (Kiln \(metadata.kilnVersion), format \(metadata.formatVersion))")
            for input in metadata.inputs { print("input  \(input.name): \(input.elementType.rawValue)\(input.shape)") }
            for output in metadata.outputs { print("output \(output.name): \(output.elementType.rawValue)\(output.shape)") }
            print("arena bytes:  \(metadata.arenaByteCount)")
            print("weight bytes: \(metadata.weightByteCount)")
            print("target:       \(metadata.targetTriple) \(metadata.targetCPU)")
            print("CPU features: \(metadata.requiredCPUFeatures.joined(separator: " "))")
        }
    }
}

extension ISALevel: ExpressibleByArgument {}
