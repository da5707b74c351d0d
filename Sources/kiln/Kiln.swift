import ArgumentParser
import KilnCompiler
import KilnRuntime

/// The `kiln` command: compile, inspect and run Kiln models outside SwiftPM.
@main
struct KilnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Compile machine-learning models ahead of time to native code.",
        version: "kiln \(KilnVersion.current)\n" + dslSourcesLine,
        subcommands: [CompileCommand.self, InspectCommand.self, RunCommand.self, ImportCommand.self, BenchCommand.self])
}

extension KilnCommand {
    /// Where tracing finds the DSL sources, for `kiln --version`: what to check when a moved or
    /// installed `kiln` cannot compile model files.
    static var dslSourcesLine: String {
        do {
            return "DSL sources: \(try DSLSources.locate().dsl.deletingLastPathComponent().path)"
        } catch {
            return "DSL sources: not found (\(error.localizedDescription))"
        }
    }
}
