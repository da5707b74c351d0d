import ArgumentParser
import Foundation
import KilnCodegen
import KilnCompiler
import KilnIR
import KilnImport
import KilnRuntime
import Kiln

/// `kiln compile Model.swift -o DIR`: trace, optimize and compile every model in a file.
struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile", abstract: "Compile the models in a Swift model file to loadable artifacts.")

    @Argument(help: "A Swift file declaring one or more Kiln models, or a .tflite model.")
    var modelFile: String

    @Option(name: .shortAndLong, help: "The directory to write NAME.kiln artifacts into.")
    var output: String = "."

    @Flag(help: "Also write each model's optimized LLVM IR as NAME.ll.")
    var emitLLVM = false

    @Flag(help: "Also write each model's optimized graph as NAME.graph.txt.")
    var dumpGraph = false

    @Flag(help: "Write NAME.o and NAME.h for static linking (firmware, other build systems) instead of NAME.kiln.")
    var `static` = false

    func run() throws {
        let directory = URL(fileURLWithPath: output)
        let url = URL(fileURLWithPath: modelFile)
        if `static` {
            return try compileStatic(url, to: directory)
        }
        let results =
            url.pathExtension == "tflite"
            ? [try Compiler().compile(tfliteFile: url, outputDirectory: directory)]
            : try Compiler().compile(modelFile: url, outputDirectory: directory)
        for result in results {
            let phases = result.timings.map { "\($0.phase) \(String(format: "%.2f", $0.seconds))s" }
            print("\(result.artifact.path): \(result.metadata.modelName) [\(phases.joined(separator: ", "))]")
            let name = result.metadata.modelName
            if dumpGraph {
                try OutputFile.write(
                    Array(result.graph.textDump.utf8), to: directory.appendingPathComponent("\(name).graph.txt"))
            }
            if emitLLVM {
                let target = try TargetMachine.host()
                try OutputFile.write(
                    Array(try ModelCodegen(target: target).emitIR(for: result.graph).utf8),
                    to: directory.appendingPathComponent("\(name).ll"))
            }
        }
    }
}

extension CompileCommand {
    /// Traces or imports the models and writes an object file and C header for each.
    func compileStatic(_ url: URL, to directory: URL) throws {
        let graphs =
            url.pathExtension == "tflite"
            ? [(try TFLiteImporter.importGraph(contentsOf: url), CompileOptions())]
            : try ModelSourceTracer().tracedGraphs(modelFile: url)
        for result in try Compiler().compileStatic(graphs, outputDirectory: directory) {
            print("\(result.object.path), \(result.header.path): \(result.metadata.modelName) [\(result.metadata.entryPoint)]")
        }
    }
}
