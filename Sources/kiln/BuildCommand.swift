import ArgumentParser
import Foundation
import KilnCodegen
import KilnCompiler
import KilnIR
import KilnRuntime

/// `kiln build`: what KilnPlugin runs for each model file during `swift build`.
///
/// Compiles every model in the file into one artifact (`FILE.kiln`) and writes
/// the Swift API that loads them. Errors are printed as `file:line:column: error:` so
/// SwiftPM and editors place them at the model's source.
struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Compile a model file for an app: artifacts plus a generated Swift API (used by KilnPlugin).")

    @Argument(help: "A Swift file declaring one or more Kiln models.")
    var modelFile: String

    @Option(help: "The artifact to write, holding every model of the file (not with --static).")
    var artifact: String?

    @Option(help: "With --static: the directory to write NAME.S assembly into.")
    var artifacts: String?

    @Option(help: "Where to write the generated Swift API (not with --static).")
    var swiftOutput: String?

    @Flag(help: "Write NAME.S assembly and NAME.h headers for a C target instead of loadable artifacts.")
    var `static` = false

    @Option(help: "With --static: the directory for the NAME.h headers.")
    var headerDirectory: String?

    @Option(help: "The Swift compiler used to trace the model.")
    var swiftc: String?

    @Option(help: "The ld.lld used to link generated code.")
    var linker: String?

    @Option(help: "Kiln's Sources directory (holding Kiln and KilnIR), for tracing.")
    var dslSources: String?

    @Option(help: "A directory for caching the compiled DSL between builds.")
    var cache: String?

    func run() throws {
        let tracer = try ModelSourceTracer(
            sources: dslSources.map { DSLSources(sourcesDirectory: URL(fileURLWithPath: $0)) },
            cacheDirectory: cache.map { URL(fileURLWithPath: $0) },
            swiftc: swiftc.map { URL(fileURLWithPath: $0) })
        let compiler = Compiler(linker: linker.map { SharedLibraryLinker(executable: URL(fileURLWithPath: $0)) })
        let model = URL(fileURLWithPath: modelFile)
        let source = try ModelSource(url: model)
        if `static` {
            guard let artifacts else { throw ValidationError("--artifacts DIRECTORY is required with --static") }
            let results = try compiler.compile(
                source, as: .assembly, outputDirectory: URL(fileURLWithPath: artifacts),
                headerDirectory: headerDirectory.map { URL(fileURLWithPath: $0) }, tracer: tracer)
            KilnCommand.report(results.flatMap(\.warnings))
            return
        }
        guard let swiftOutput, let artifact else {
            throw ValidationError("--artifact FILE and --swift-output FILE are required without --static")
        }
        let bundle = URL(fileURLWithPath: artifact)
        let results = try compiler.compileBundle(source, to: bundle, tracer: tracer)
        KilnCommand.report(results.flatMap(\.warnings))
        // Progress for the build log: each model with the time of each phase.
        for result in results {
            let phases = result.timings.map { "\($0.phase) \(String(format: "%.2f", $0.seconds)) s" }
            print("\(model.lastPathComponent): \(result.metadata.modelName) [\(phases.joined(separator: ", "))]")
        }
        let text = try String(contentsOf: model, encoding: .utf8)
        let api = SwiftAPIGenerator.source(
            for: results.map(\.metadata), modelFile: model.lastPathComponent,
            resource: bundle.deletingPathExtension().lastPathComponent,
            accessLevels: SwiftAPIGenerator.accessLevels(in: text, models: results.map(\.metadata.modelName)))
        try OutputFile.write(Array(api.utf8), to: URL(fileURLWithPath: swiftOutput))
    }
}
