import Foundation
import PackagePlugin

/// Compiles the Kiln models of a target at build time.
///
/// For each Swift file that imports Kiln and declares a `Model`, one build
/// command runs `kiln build`, producing `NAME.kiln` artifacts (resources of
/// the target) and `FILE+Kiln.swift` (the typed API). Its inputs are the model
/// file, the weight files it names and the DSL's sources, so editing any of
/// them rebuilds the model and nothing else does.
@main
struct KilnPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        guard let dsl = target.recursiveTargetDependencies.first(where: { $0.name == "Kiln" }) as? SourceModuleTarget,
            let ir = target.recursiveTargetDependencies.first(where: { $0.name == "KilnIR" }) as? SourceModuleTarget
        else { throw KilnPluginError("target '\(target.name)' must depend on the Kiln product to use KilnPlugin") }
        let kiln = try context.tool(named: "kiln").url
        let swiftc = try context.tool(named: "swiftc").url
        let linker = try context.tool(named: "ld.lld").url
        let dslSources = Array(dsl.sourceFiles(withSuffix: "swift").map(\.url)) + ir.sourceFiles(withSuffix: "swift").map(\.url)
        let work = context.pluginWorkDirectoryURL
        // Kiln's `Sources` directory: the parent of the DSL target's directory.
        guard let modelProtocol = dslSources.first(where: { $0.lastPathComponent == "Model.swift" }) else {
            throw KilnPluginError("the Kiln DSL's sources were not found")
        }
        let sourcesDirectory = modelProtocol.deletingLastPathComponent().deletingLastPathComponent()

        return try target.sourceFiles(withSuffix: "swift").compactMap { file -> Command? in
            let source = try String(contentsOf: file.url, encoding: .utf8)
            let models = modelNames(in: source)
            guard source.contains("import Kiln"), !models.isEmpty else { return nil }
            let stem = file.url.deletingPathExtension().lastPathComponent
            let artifacts = work.appendingPathComponent("Artifacts")
            let generated = work.appendingPathComponent("\(stem)+Kiln.swift")
            let weights = weightPaths(in: source).map { file.url.deletingLastPathComponent().appendingPathComponent($0) }
            return .buildCommand(
                displayName: "Compiling Kiln model \(file.url.lastPathComponent)",
                executable: kiln,
                arguments: [
                    "build", file.url.path, "--artifacts", artifacts.path, "--swift-output", generated.path,
                    "--swiftc", swiftc.path, "--linker", linker.path,
                    "--dsl-sources", sourcesDirectory.path,
                    "--cache", work.appendingPathComponent("Cache").path,
                ],
                inputFiles: [file.url] + weights + dslSources,
                outputFiles: [generated] + models.map { artifacts.appendingPathComponent("\($0).kiln") })
        }
    }

    /// Types declared as conforming to `Model` (the same rule `kiln` applies when tracing).
    func modelNames(in source: String) -> [String] {
        let declaration = /(?m)^[ \t]*(?:(?:public|internal|final)\s+)*(?:struct|class|enum)\s+(\w+)\s*:\s*([^{]+)\{/
        return source.matches(of: declaration).compactMap { match in
            let conformances = match.2.split(whereSeparator: { $0 == "," || $0.isWhitespace })
            return conformances.contains("Model") || conformances.contains("Kiln.Model") ? String(match.1) : nil
        }
    }

    /// Relative weight-file paths named by `.safetensors("…")`, `.npz("…")` or `.npy(directory: "…")`.
    func weightPaths(in source: String) -> [String] {
        source.matches(of: /\.(?:safetensors|npz)\(\s*"([^"]+)"|\.npy\(\s*directory:\s*"([^"]+)"/).compactMap {
            String($0.1 ?? $0.2 ?? "")
        }.filter { !$0.isEmpty }
    }
}

/// Why KilnPlugin cannot set up a target's build.
struct KilnPluginError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
