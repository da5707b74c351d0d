import Foundation
import KilnIR

/// What tracing a model produced: its graph, its compile options, and any
/// problems, each located at the layer that caused it.
public struct TraceResult: Hashable, Sendable, Codable {
    /// The model's type name.
    public var modelName: String
    /// The traced graph; `nil` when tracing found errors (warnings alone keep it).
    public var graph: Graph?
    /// The model's compile options.
    public var options: CompileOptions
    /// Problems found while tracing: errors, and warnings about likely mistakes.
    public var diagnostics: [Diagnostic]

    /// Creates a trace result.
    public init(modelName: String, graph: Graph?, options: CompileOptions, diagnostics: [Diagnostic]) {
        self.modelName = modelName
        self.graph = graph
        self.options = options
        self.diagnostics = diagnostics
    }
}

/// The entry point of the small program the compiler builds to trace model
/// files: it prints each model's ``TraceResult`` as JSON.
public enum TraceExporter {
    /// Traces each model type and writes a JSON array of results to standard output.
    public static func run(_ models: [any Model.Type]) {
        let results = models.map { $0.trace() }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            FileHandle.standardOutput.write(try encoder.encode(results))
        } catch {
            FileHandle.standardError.write(Data("error: could not encode the traced graph: \(error)\n".utf8))
            exit(1)
        }
    }
}
