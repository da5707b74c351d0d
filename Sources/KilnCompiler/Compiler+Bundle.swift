import Foundation
import Kiln
import KilnCodegen
import KilnIR
import KilnRuntime

extension Compiler {
    /// Compiles every model of `source` into the one artifact `artifact`: a shared library in
    /// which each model's entry points are named `kiln_NAME_run` (``symbolName(for:)``), with an
    /// array of their metadata. `CompiledModel(contentsOf:model:)` loads one by name.
    ///
    /// KilnPlugin writes one such artifact per model file, so the outputs it declares depend on
    /// the file and not on the models in it: SwiftPM may keep a plugin's planned outputs after a
    /// file's contents change, and an artifact per model then missed a model just added.
    ///
    /// As with ``compile(_:as:outputDirectory:headerDirectory:tracer:quantization:)``, every model
    /// is compiled before any error is thrown, and nothing is written unless all compiled.
    public func compileBundle(_ source: ModelSource, to artifact: URL, tracer: ModelSourceTracer? = nil) throws
        -> [Result]
    {
        let started = Date()
        let models = try source.load(tracer: tracer)
        let loadSeconds = Date().timeIntervalSince(started)
        var built: [(result: Result, objects: [[UInt8]])] = []
        var problems: [Diagnostic] = []
        for model in models {
            do {
                built.append(try bundledObject(model.graph, options: model.options, artifact: artifact))
            } catch let error as DiagnosticError {
                problems += error.diagnostics.filter { !problems.contains($0) }
            }
        }
        if let first = built.first {
            for (result, _) in built.dropFirst() where result.metadata.targetTriple != first.result.metadata.targetTriple {
                problems.append(
                    .error(
                        "model '\(result.metadata.modelName)' targets \(result.metadata.targetTriple) but '\(first.result.metadata.modelName)'"
                            + " in the same file targets \(first.result.metadata.targetTriple); models for different"
                            + " architectures need files of their own", at: result.options.location))
            }
        }
        if !problems.isEmpty { throw DiagnosticError(problems) }
        let linkStart = Date()
        let library = try link(objects: built.flatMap(\.objects))
        let bytes = try ArtifactFile.encode(library: library, models: built.map(\.result.metadata))
        try Self.createOutputDirectory(artifact.deletingLastPathComponent())
        try OutputFile.write(bytes, to: artifact)
        let linkSeconds = Date().timeIntervalSince(linkStart)
        return zip(built, models).map { entry, model in
            var result = entry.result
            result.timings.insert((source.loadPhase, loadSeconds), at: 0)
            result.timings.append(("link", linkSeconds))
            result.warnings = model.warnings
            return result
        }
    }

    /// One model's objects for a bundle, its entry points named after the model.
    private func bundledObject(_ graph: Graph, options: CompileOptions, artifact: URL) throws
        -> (result: Result, objects: [[UInt8]])
    {
        var start = Date()
        let optimized = try optimize(graph, options: options)
        let passes = Date().timeIntervalSince(start)
        start = Date()
        let (metadata, objects) = try loadableObjects(
            optimized, options: options, entryPoint: "kiln_\(Self.symbolName(for: graph.name))_run")
        let result = Result(
            artifact: artifact, header: nil, metadata: metadata, graph: optimized, options: options,
            timings: [("passes", passes), ("codegen", Date().timeIntervalSince(start))])
        return (result, objects)
    }
}
