import ArgumentParser
import Foundation
import KilnCompiler
import KilnIR
import KilnRuntime

/// `kiln inspect`: layers, shapes, parameters, MACs and memory of a model or artifact.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model's layers, output shapes, parameters, MACs, arena and weight bytes after passes.")

    @Argument(help: "A Swift model file, a .tflite or .onnx model, or a compiled .kiln artifact.")
    var path: String

    @Flag(help: "Also print the optimized graph.")
    var graph = false

    func run() throws {
        let url = URL(fileURLWithPath: path)
        if url.pathExtension != "kiln" {
            for model in try ModelSource(url: url).load() {
                let optimized = try Compiler().optimize(model.graph, options: model.options)
                print("model \(model.name)")
                print(ModelReport(optimized).table)
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
