import Foundation
import KilnCodegen
import KilnIR
import KilnRuntime

/// What KilnPlugin runs for each model file during `swift build`, through the `kiln-build` tool:
/// every model of the file compiled into one artifact (`FILE.kiln`) plus the Swift API that
/// loads them, or, for a C target, `NAME.S` assembly and `NAME.h` headers.
///
/// The tool is separate from `kiln` so that SwiftPM, which builds a plugin's tool before the
/// app (twice in release builds), builds only the compiler and not the command line's
/// argument parser and subcommands.
///
/// ```swift
/// let build = try ModelFileBuild(arguments: ["Model.swift", "--artifact", "Model.kiln", "--swift-output", "Model+Kiln.swift"])
/// let report = try build.run()
/// ```
public struct ModelFileBuild: Sendable {
    /// What the build writes.
    public enum Output: Hashable, Sendable {
        /// One loadable artifact holding every model, and the generated Swift API.
        case bundle(artifact: URL, swiftAPI: URL)
        /// `NAME.S` in `directory` and `NAME.h` in `headers` (or `directory`), for a C target.
        case assembly(directory: URL, headers: URL?)
    }

    /// The Swift file declaring the models.
    public var modelFile: URL
    /// What to write.
    public var output: Output
    /// The Swift compiler that traces the models; found on the `PATH` when `nil`.
    public var swiftc: URL?
    /// The `ld.lld` that links generated code; found on first use when `nil`.
    public var linker: URL?
    /// Kiln's `Sources` directory (holding Kiln and KilnIR), for tracing; located when `nil`.
    public var dslSources: URL?
    /// Where the compiled DSL is cached between builds.
    public var cache: URL?

    /// Creates a build of `modelFile` writing `output`.
    public init(
        modelFile: URL, output: Output, swiftc: URL? = nil, linker: URL? = nil, dslSources: URL? = nil, cache: URL? = nil
    ) {
        (self.modelFile, self.output, self.swiftc, self.linker, self.dslSources, self.cache) =
            (modelFile, output, swiftc, linker, dslSources, cache)
    }

    /// What a build reports besides its files.
    public struct Report: Sendable {
        /// Likely mistakes in the models, each at its line.
        public var warnings: [Diagnostic]
        /// One line per model with the seconds of each phase, for the build log.
        public var progress: [String]
    }

    /// Compiles every model of the file and writes the outputs: all of them or none.
    public func run() throws -> Report {
        let tracer = try ModelSourceTracer(
            sources: dslSources.map { DSLSources(sourcesDirectory: $0) }, cacheDirectory: cache, swiftc: swiftc)
        let compiler = Compiler(linker: linker.map { SharedLibraryLinker(executable: $0) })
        let source = ModelSource.swiftFile(modelFile)
        switch output {
        case .assembly(let directory, let headers):
            let results = try compiler.compile(
                source, as: .assembly, outputDirectory: directory, headerDirectory: headers, tracer: tracer)
            return Report(warnings: results.flatMap(\.warnings), progress: progress(results))
        case .bundle(let artifact, let swiftAPI):
            let results = try compiler.compileBundle(source, to: artifact, tracer: tracer)
            let text = try String(contentsOf: modelFile, encoding: .utf8)
            let api = SwiftAPIGenerator.source(
                for: results.map(\.metadata), modelFile: modelFile.lastPathComponent,
                resource: artifact.deletingPathExtension().lastPathComponent,
                accessLevels: SwiftAPIGenerator.accessLevels(in: text, models: results.map(\.metadata.modelName)))
            try OutputFile.write(Array(api.utf8), to: swiftAPI)
            return Report(warnings: results.flatMap(\.warnings), progress: progress(results))
        }
    }

    private func progress(_ results: [Compiler.Result]) -> [String] {
        results.map { result in
            let phases = result.timings.map { "\($0.phase) \(String(format: "%.2f", $0.seconds)) s" }
            return "\(modelFile.lastPathComponent): \(result.metadata.modelName) [\(phases.joined(separator: ", "))]"
        }
    }
}

extension ModelFileBuild {
    /// The command line `kiln-build` takes (KilnPlugin writes it).
    public static let usage = """
        usage: kiln-build MODEL.swift --artifact FILE.kiln --swift-output FILE.swift [options]
               kiln-build MODEL.swift --static --artifacts DIRECTORY [--header-directory DIRECTORY] [options]
        options: --swiftc PATH  --linker PATH  --dsl-sources DIRECTORY  --cache DIRECTORY
        """

    /// A command line `kiln-build` cannot use.
    public struct UsageError: LocalizedError, CustomStringConvertible {
        /// What is wrong, followed by the usage.
        public var description: String
        public var errorDescription: String? { description }
    }

    /// The build a `kiln-build` command line asks for (`arguments` without the program name).
    public init(arguments: [String]) throws {
        func fail(_ problem: String) -> UsageError { UsageError(description: "error: \(problem)\n\(Self.usage)") }
        let valued = ["--artifact", "--swift-output", "--artifacts", "--header-directory", "--swiftc", "--linker", "--dsl-sources", "--cache"]
        var values: [String: String] = [:]
        var files: [String] = []
        var isStatic = false
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            if argument == "--static" {
                isStatic = true
            } else if valued.contains(argument) {
                guard let value = remaining.popFirst() else { throw fail("\(argument) needs a value") }
                guard values.updateValue(value, forKey: argument) == nil else { throw fail("\(argument) is given twice") }
            } else if argument.hasPrefix("-") {
                throw fail("unknown option '\(argument)'")
            } else {
                files.append(argument)
            }
        }
        guard files.count == 1 else { throw fail(files.isEmpty ? "no model file given" : "give one model file, not \(files.count)") }
        let url = { (option: String) in values[option].map { URL(fileURLWithPath: $0) } }
        let output: Output
        if isStatic {
            guard let directory = url("--artifacts") else { throw fail("--artifacts DIRECTORY is required with --static") }
            guard values["--artifact"] == nil, values["--swift-output"] == nil else {
                throw fail("--artifact and --swift-output are not used with --static")
            }
            output = .assembly(directory: directory, headers: url("--header-directory"))
        } else {
            guard let artifact = url("--artifact"), let swiftAPI = url("--swift-output") else {
                throw fail("--artifact FILE and --swift-output FILE are required without --static")
            }
            guard values["--artifacts"] == nil, values["--header-directory"] == nil else {
                throw fail("--artifacts and --header-directory are used only with --static")
            }
            output = .bundle(artifact: artifact, swiftAPI: swiftAPI)
        }
        self.init(
            modelFile: URL(fileURLWithPath: files[0]), output: output, swiftc: url("--swiftc"), linker: url("--linker"),
            dslSources: url("--dsl-sources"), cache: url("--cache"))
    }
}
