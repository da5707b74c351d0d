import ArgumentParser
import KilnRuntime

/// The `kiln` command: compile, inspect and run Kiln models outside SwiftPM.
@main
struct KilnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Compile machine-learning models ahead of time to native code.",
        version: "kiln \(KilnVersion.current)",
        subcommands: [CompileCommand.self, InspectCommand.self, RunCommand.self, ImportCommand.self, BenchCommand.self, BuildCommand.self])
}
