import ArgumentParser
import Foundation
import KilnCodegen
import KilnCompiler
import KilnIR
import KilnImport
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
        let results = try reportingDiagnostics {
            url.pathExtension == "tflite"
                ? [try Compiler().compile(tfliteFile: url, outputDirectory: directory)]
                : try Compiler().compile(modelFile: url, outputDirectory: directory)
        }
        for result in results {
            let phases = result.timings.map { "\($0.phase) \(String(format: "%.2f", $0.seconds))s" }
            print("\(result.artifact.path): \(result.metadata.modelName) [\(phases.joined(separator: ", "))]")
            let name = result.metadata.modelName
            if dumpGraph {
                try result.graph.textDump.write(
                    to: directory.appendingPathComponent("\(name).graph.txt"), atomically: true, encoding: .utf8)
            }
            if emitLLVM {
                let target = try TargetMachine.host()
                try ModelCodegen(target: target).emitIR(for: result.graph).write(
                    to: directory.appendingPathComponent("\(name).ll"), atomically: true, encoding: .utf8)
            }
        }
    }
}

extension CompileCommand {
    /// Traces or imports the models and writes an object file and C header for each.
    func compileStatic(_ url: URL, to directory: URL) throws {
        let graphs: [(Graph, CompileOptions)] = try reportingDiagnostics {
            if url.pathExtension == "tflite" { return [(try TFLiteImporter.importGraph(contentsOf: url), CompileOptions())] }
            return try ModelSourceTracer().trace(modelFile: url).map { trace in
                guard let graph = trace.graph, trace.diagnostics.isEmpty else { throw DiagnosticError(trace.diagnostics) }
                return (graph, trace.options)
            }
        }
        for (graph, options) in graphs {
            let result = try reportingDiagnostics { try Compiler().compileStatic(graph, options: options, outputDirectory: directory) }
            print("\(result.object.path), \(result.header.path): \(result.metadata.modelName) [\(result.metadata.entryPoint)]")
        }
    }
}

/// Runs `work`, printing located diagnostics the way compilers do and failing with their count.
func reportingDiagnostics<T>(_ work: () throws -> T) throws -> T {
    do {
        return try work()
    } catch let error as DiagnosticError {
        FileHandle.standardError.write(Data((error.description + "\n").utf8))
        throw ExitCode.failure
    } catch let error as CompilerError {
        // Already in the compiler's `file:line:column: error:` form.
        FileHandle.standardError.write(Data((error.message + "\n").utf8))
        throw ExitCode.failure
    }
}
