import ArgumentParser
import Foundation
import KilnCompiler
import KilnImport
import KilnRuntime

/// `kiln import MODEL.tflite|MODEL.onnx --swift DIR`: turn a model file into DSL source and weights.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Write a .tflite or .onnx model as a Kiln DSL model (.swift) and its weights (.safetensors).")

    @Argument(help: "A TensorFlow Lite or ONNX model.")
    var model: String

    @Option(help: "The directory to write NAME.swift and NAME.safetensors into (e.g. your target's Sources folder).")
    var swift: String

    @Option(help: "The Swift type name of the model; derived from the file name by default.")
    var typeName: String?

    func run() throws {
        let url = URL(fileURLWithPath: model)
        let modelSource = try ModelSource(url: url)
        if case .swiftFile = modelSource {
            throw ValidationError("\(model) is already a Swift model file; give a .tflite or .onnx model to import")
        }
        let graph = try modelSource.load()[0].graph
        let name = typeName ?? ModelSourceWriter.typeName(for: url.deletingPathExtension().lastPathComponent)
        let directory = URL(fileURLWithPath: swift)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let (source, weights) = try ModelSourceWriter(typeName: name).write(graph, weightFileName: "\(name).safetensors")
        try SafeTensors.write(weights, metadata: ["source": url.lastPathComponent], to: directory.appendingPathComponent("\(name).safetensors"))
        try OutputFile.write(Array(source.utf8), to: directory.appendingPathComponent("\(name).swift"), protecting: [url])
        print("\(directory.appendingPathComponent("\(name).swift").path)")
    }
}
