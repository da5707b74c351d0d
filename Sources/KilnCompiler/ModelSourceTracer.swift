import Foundation
import Kiln
import KilnIR

/// Traces the models in a Swift source file by compiling the file against the
/// Kiln DSL and running it.
///
/// The DSL (`KilnIR` and `Kiln` sources) is compiled once into static
/// libraries cached by a hash of its sources; each trace then compiles only
/// the model file plus a generated `main.swift` that prints every model's
/// ``TraceResult``. Model files are therefore compiled on their own: they may
/// import only `Kiln` and `Foundation`.
public struct ModelSourceTracer: Sendable {
    /// Where the DSL's sources are.
    public var sources: DSLSources
    /// Where the compiled DSL is cached.
    public var cacheDirectory: URL
    /// The Swift compiler.
    public var swiftc: URL
    /// How many seconds the models' bodies may run before tracing is stopped.
    public var timeout: Double

    /// Creates a tracer; by default it finds the DSL sources, `swiftc` and a cache directory itself.
    ///
    /// The time limit defaults to `KILN_TRACE_TIMEOUT` seconds, or 60.
    public init(sources: DSLSources? = nil, cacheDirectory: URL? = nil, swiftc: URL? = nil, timeout: Double? = nil) throws {
        self.sources = try sources ?? DSLSources.locate()
        self.cacheDirectory = cacheDirectory ?? Self.defaultCacheDirectory
        self.timeout = try timeout ?? Self.defaultTimeout()
        guard
            let compiler = swiftc
                ?? Subprocess.findExecutable(
                    "swiftc", environmentKey: "KILN_SWIFTC", fallbacks: ["/opt/swift/usr/bin/swiftc", "/usr/bin/swiftc"])
        else {
            throw CompilerError("swiftc was not found; put the Swift toolchain on PATH or set KILN_SWIFTC")
        }
        self.swiftc = compiler
    }

    /// `KILN_TRACE_TIMEOUT` in seconds, or 60.
    static func defaultTimeout() throws -> Double {
        guard let text = ProcessInfo.processInfo.environment["KILN_TRACE_TIMEOUT"] else { return 60 }
        guard let seconds = Double(text), seconds.isFinite, seconds > 0 else {
            throw CompilerError("KILN_TRACE_TIMEOUT must be a positive number of seconds, got '\(text)'")
        }
        return seconds
    }

    /// `$XDG_CACHE_HOME/kiln` or `~/.cache/kiln`.
    public static var defaultCacheDirectory: URL {
        let environment = ProcessInfo.processInfo.environment
        if let cache = environment["XDG_CACHE_HOME"], !cache.isEmpty {
            return URL(fileURLWithPath: cache).appendingPathComponent("kiln")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/kiln")
    }

    /// The names of the types in `source` that conform to `Model`.
    public static func modelTypeNames(in source: String) -> [String] {
        let pattern = #"(?m)^[ \t]*(?:(?:public|internal|fileprivate|final)\s+)*(?:struct|class|enum)\s+(\w+)\s*:\s*([^{]+)\{"#
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return [] }
        let text = source as NSString
        return expression.matches(in: source, range: NSRange(location: 0, length: text.length)).compactMap { match in
            let conformances = text.substring(with: match.range(at: 2))
                .split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
            guard conformances.contains("Model") || conformances.contains("Kiln.Model") else { return nil }
            return text.substring(with: match.range(at: 1))
        }
    }

    /// The 1-based line on which type `name` is declared in `source`.
    static func declarationLine(of name: String, in source: String) -> Int? {
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let declaration = try? Regex("^[ \\t]*(?:(?:public|package|internal|fileprivate|final)\\s+)*(?:struct|class|enum)\\s+\(name)\\b")
        guard let declaration else { return nil }
        return lines.firstIndex { $0.firstMatch(of: declaration) != nil }.map { $0 + 1 }
    }

    /// Traces every model declared in `modelFile`.
    ///
    /// - Throws: ``CompilerError`` with the Swift compiler's located errors
    ///   when the file does not compile.
    public func trace(modelFile: URL) throws -> [TraceResult] {
        let file = modelFile.standardizedFileURL
        guard let source = try? String(contentsOf: file, encoding: .utf8) else {
            throw CompilerError("\(file.path): cannot read the model file")
        }
        let names = Self.modelTypeNames(in: source)
        guard !names.isEmpty else {
            throw CompilerError("\(file.path): no type conforming to Model was found; declare one as `struct Name: Model { … }`")
        }
        if file.lastPathComponent == "main.swift" {
            // The tracer compiles the file beside a main.swift of its own, and an app's main.swift
            // holds top-level code that uses the generated API, which does not exist while tracing.
            let line = Self.declarationLine(of: names[0], in: source).map { ":\($0):1" } ?? ""
            throw CompilerError(
                "\(file.path)\(line): error: model '\(names[0])' is declared in main.swift; move it into a file of its"
                    + " own (such as \(names[0]).swift): model files are compiled on their own at build time, and main.swift"
                    + " is the app's entry point")
        }
        let library = try compiledDSL()
        let work = try Cleanup.makeTemporaryDirectory(prefix: "kiln-trace")
        defer { Cleanup.removeDirectory(work) }
        let main = work.appendingPathComponent("main.swift")
        let mainSource = """
            // Generated by kiln to trace \(file.lastPathComponent); not to be edited.
            import Kiln
            TraceExporter.run([\(names.map { "\($0).self" }.joined(separator: ", "))])

            """
        try Data(mainSource.utf8).write(to: main)
        let exporter = work.appendingPathComponent("exporter")
        let compile = try Subprocess.run(
            swiftc,
            [
                // -g: a crash in a model's body is then reported at its line.
                "-module-name", "KilnTrace", "-Onone", "-g", "-I", library.path, "-L", library.path, "-lKiln", "-lKilnIR",
                file.path, main.path, "-o", exporter.path,
            ])
        guard compile.status == 0 else { throw Self.compileError(compile.standardError, modelFile: file) }
        let run = try Subprocess.run(exporter, [], timeout: timeout)
        guard !run.timedOut else {
            throw CompilerError(
                "\(file.path): error: tracing the models took longer than \(Self.seconds(timeout)) and was stopped; "
                    + "does a model's body loop forever? (KILN_TRACE_TIMEOUT=SECONDS allows longer)")
        }
        guard run.status == 0 else { throw Self.crashError(run.standardError, status: run.status, modelFile: file) }
        do {
            return try JSONDecoder().decode([TraceResult].self, from: run.standardOutput)
        } catch {
            throw CompilerError("\(file.path): the tracer's output could not be read: \(error)")
        }
    }

    /// A crash in a model's body, located at the first line of the model file
    /// on the crashing thread's backtrace.
    static func crashError(_ output: String, status: Int32, modelFile: URL) -> CompilerError {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // The runtime's message, e.g. `Swift/ContiguousArrayBuffer.swift:692: Fatal error: Index out of range`,
        // names the module-relative path (`KilnTrace/Model.swift`) rather than the file's.
        let message = lines.first { !$0.isEmpty && !$0.hasPrefix("***") }.map { line -> String in
            guard let range = line.range(of: #"^\S+\.swift:\d+: "#, options: .regularExpression) else { return line }
            return String(line[range.upperBound...])
        }
        let frame = " at \(modelFile.path):"
        let location = lines.lazy.compactMap { line -> String? in
            guard let range = line.range(of: frame) else { return nil }
            let position = line[range.upperBound...].prefix { $0.isNumber || $0 == ":" }
            return position.isEmpty ? nil : modelFile.path + ":" + position.trimmingCharacters(in: CharacterSet(charactersIn: ":"))
        }.first
        guard let message else {
            return CompilerError("\(modelFile.path): error: tracing the models failed (exit \(status)) without a message")
        }
        return CompilerError("\(location ?? modelFile.path): error: the model's body crashed while tracing: \(message)")
    }

    /// `60 s`, `1.5 s`.
    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }

    /// The graph, options and warnings of every model in `modelFile`, or every diagnostic
    /// tracing found if any is an error.
    public func tracedGraphs(modelFile: URL) throws -> [(graph: Graph, options: CompileOptions, warnings: [Diagnostic])] {
        let traces = try trace(modelFile: modelFile)
        let diagnostics = traces.flatMap(\.diagnostics)
        if diagnostics.contains(where: { $0.severity == .error }) { throw DiagnosticError(diagnostics) }
        return try traces.map { trace in
            guard let graph = trace.graph else { throw CompilerError("\(trace.modelName): tracing produced no graph") }
            return (graph, trace.options, trace.diagnostics)
        }
    }

    /// The compiler's errors, with a hint when the model file used code it cannot see.
    static func compileError(_ output: String, modelFile: URL) -> CompilerError {
        let errors = output.split(separator: "\n").filter { $0.contains("error:") }
        var message = errors.isEmpty ? output : errors.joined(separator: "\n")
        let unresolved = ["cannot find", "no such module", "is not a member type", "cannot find type"]
        if errors.contains(where: { line in unresolved.contains { line.contains($0) } }) {
            message += """

                \(modelFile.path): note: model files are compiled on their own at build time, with only the Kiln \
                DSL and Foundation; they must be self-contained (import only Kiln and Foundation, and use no \
                types or functions from the rest of the app)
                """
        }
        if errors.contains(where: { $0.contains("inaccessible due to 'private'") || $0.contains("fileprivate") }) {
            message += "\n\(modelFile.path): note: model types must not be private or fileprivate"
        }
        return CompilerError(message)
    }

    /// The DSL compiled into static libraries, built once per version of its sources.
    func compiledDSL() throws -> URL {
        let directory = cacheDirectory.appendingPathComponent("dsl-\(try sources.fingerprint())")
        let manager = FileManager.default
        if manager.fileExists(atPath: directory.appendingPathComponent("libKiln.a").path) { return directory }
        let staging = try Cleanup.makeTemporaryDirectory(prefix: "staging", in: cacheDirectory)
        defer { Cleanup.removeDirectory(staging) }
        for (module, sourceDirectory) in [("KilnIR", sources.ir), ("Kiln", sources.dsl)] {
            let files = try DSLSources.swiftFiles(in: sourceDirectory).map(\.path)
            let result = try Subprocess.run(
                swiftc,
                [
                    "-parse-as-library", "-emit-library", "-static", "-emit-module", "-module-name", module, "-Onone",
                    "-I", staging.path, "-emit-module-path", staging.appendingPathComponent("\(module).swiftmodule").path,
                    "-o", staging.appendingPathComponent("lib\(module).a").path,
                ] + files, in: staging)
            guard result.status == 0 else {
                throw CompilerError("compiling the Kiln DSL module \(module) for tracing failed:\n\(result.standardError)")
            }
        }
        // Publish atomically; if another process won the race its copy is identical.
        do {
            try manager.moveItem(at: staging, to: directory)
        } catch where manager.fileExists(atPath: directory.appendingPathComponent("libKiln.a").path) {
        }
        return directory
    }
}

/// The locations of the DSL's source directories (`Sources/KilnIR`, `Sources/Kiln`).
public struct DSLSources: Hashable, Sendable {
    /// `Sources/KilnIR`.
    public var ir: URL
    /// `Sources/Kiln`.
    public var dsl: URL

    /// Creates source locations from a package's `Sources` directory.
    public init(sourcesDirectory: URL) {
        ir = sourcesDirectory.appendingPathComponent("KilnIR")
        dsl = sourcesDirectory.appendingPathComponent("Kiln")
    }

    /// The DSL sources tracing compiles a model file against, from the first of
    /// ``candidateDirectories(environment:executable:builtFrom:)`` that holds them.
    public static func locate() throws -> DSLSources {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let candidates = candidateDirectories(
            environment: ProcessInfo.processInfo.environment,
            executable: FileManager.default.fileExists(atPath: executable.path)
                ? executable : URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath(),
            builtFrom: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent())
        for directory in candidates {
            let sources = DSLSources(sourcesDirectory: directory)
            if FileManager.default.fileExists(atPath: sources.dsl.appendingPathComponent("Model.swift").path) {
                return sources
            }
        }
        throw CompilerError(
            "the Kiln DSL sources were not found (looked in \(candidates.map(\.path).joined(separator: ", ")));"
                + " set KILN_SOURCES to Kiln's Sources directory, or install kiln with scripts/install.sh")
    }

    /// Where the `Sources` directory may be, in order: `KILN_SOURCES`; `share/kiln/Sources` beside
    /// an installed `bin/kiln` (`scripts/install.sh`); the checkout holding the executable's
    /// `.build` directory, wherever the checkout has moved; the directory the compiler was built from.
    static func candidateDirectories(environment: [String: String], executable: URL, builtFrom: URL) -> [URL] {
        var candidates = environment["KILN_SOURCES"].map { [URL(fileURLWithPath: $0)] } ?? []
        let binary = executable.deletingLastPathComponent()
        candidates.append(binary.deletingLastPathComponent().appendingPathComponent("share/kiln/Sources"))
        var directory = binary
        while directory.path != "/" && !directory.path.isEmpty {
            if directory.lastPathComponent.hasPrefix(".build") {
                candidates.append(directory.deletingLastPathComponent().appendingPathComponent("Sources"))
                break
            }
            directory = directory.deletingLastPathComponent()
        }
        candidates.append(builtFrom)
        return candidates
    }

    /// A hash of every DSL source file's name and contents.
    func fingerprint() throws -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for file in try Self.swiftFiles(in: ir) + Self.swiftFiles(in: dsl) {
            for byte in Array(file.lastPathComponent.utf8) + Array(try Data(contentsOf: file)) {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
        }
        return String(hash, radix: 16)
    }

    static func swiftFiles(in directory: URL) throws -> [URL] {
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else {
            throw CompilerError("cannot list \(directory.path)")
        }
        return enumerator.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
            .sorted { $0.path < $1.path }
    }
}
