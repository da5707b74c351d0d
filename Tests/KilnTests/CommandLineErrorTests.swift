import Foundation
import KilnIR
import KilnImport
import KilnRuntime
import Testing

/// `kiln` reports what went wrong in plain words with the path, prints the
/// usage only when the command line itself was wrong, and never writes over
/// the files a command reads.
@Suite struct CommandLineErrorTests {
    static let repro = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/Repro")

    /// Compiles the int8 identity model into a fresh directory.
    func compiledIdentity() throws -> (kiln: URL, directory: URL, artifact: URL, input: URL) {
        let kiln = try #require(CommandLineTool.kiln)
        let directory = try temporaryDirectory()
        let compile = try CommandLineTool.run(
            kiln, ["compile", Self.repro.appendingPathComponent("identity_int8.tflite").path, "-o", directory.path])
        #expect(compile.status == 0, "\(compile.output)")
        let input = directory.appendingPathComponent("x.npy")
        try FileManager.default.copyItem(at: Self.repro.appendingPathComponent("x_int8.npy"), to: input)
        return (kiln, directory, directory.appendingPathComponent("identity_int8.kiln"), input)
    }

    /// A likely mistake is a warning at the model's line, and the model still compiles;
    /// `kiln --version` and `kiln run`'s summary line are there too.
    @Test func warningsVersionAndRunSummary() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("Unflattened.swift")
        try "import Kiln\n\nstruct Unflattened: Model {\n    var body: some Layer {\n        Input(shape: [1, 4, 4, 2])\n        Dense(3)\n    }\n}\n"
            .write(to: model, atomically: true, encoding: .utf8)
        let compile = try CommandLineTool.run(kiln, ["compile", model.path, "-o", directory.path])
        #expect(compile.status == 0, "\(compile.output)")
        #expect(compile.output.contains("Unflattened.swift:6:14: warning: Dense(3) applies to the last axis"), "\(compile.output)")
        let version = try CommandLineTool.run(kiln, ["--version"])
        #expect(version.status == 0 && version.output.hasPrefix("kiln \(KilnVersion.current)"), "\(version.output)")
        let (_, identity, artifact, input) = try compiledIdentity()
        defer { try? FileManager.default.removeItem(at: identity) }
        let output = identity.appendingPathComponent("y.npy")
        let run = try CommandLineTool.run(kiln, ["run", artifact.path, "--inputs", input.path, "--outputs", output.path])
        #expect(run.status == 0 && run.output.contains("through '") && run.output.contains("µs each"), "\(run.output)")
    }

    @Test func runRefusesToOverwriteItsInputsOrArtifact() throws {
        let (kiln, directory, artifact, input) = try compiledIdentity()
        defer { try? FileManager.default.removeItem(at: directory) }
        let before = (try Data(contentsOf: artifact), try Data(contentsOf: input))
        for target in [input, artifact] {
            let run = try CommandLineTool.run(
                kiln, ["run", artifact.path, "--inputs", input.path, "--outputs", target.path])
            #expect(run.status == 1, "\(run.output)")
            #expect(run.output.contains("refusing to overwrite"), "\(run.output)")
        }
        #expect(try Data(contentsOf: artifact) == before.0 && Data(contentsOf: input) == before.1)
    }

    /// Help is printed, not reported as an error, however it is asked for.
    @Test(arguments: [["--help"], ["compile", "--help"], ["help", "run"], ["import", "-h"]])
    func helpIsPrintedWithStatusZero(_ arguments: [String]) throws {
        let kiln = try #require(CommandLineTool.kiln)
        let help = try CommandLineTool.run(kiln, arguments)
        #expect(help.status == 0, "\(help.output)")
        #expect(help.output.contains("USAGE: kiln"), "\(help.output)")
        // Not reported as an error (an option may still name one, as --output-error-budget does).
        #expect(!help.output.lowercased().contains("error:"), "\(help.output)")
    }

    /// Errors that are not about the command line's syntax.
    struct Failure: CustomTestStringConvertible, Sendable {
        var name: String
        /// The arguments after `kiln`; `DIR` stands for the test's directory.
        var arguments: [String]
        var message: String
        var testDescription: String { name }
    }

    static let failures: [Failure] = [
        Failure(
            name: "missing artifact", arguments: ["run", "DIR/nope.kiln", "--inputs", "DIR/x.npy", "--outputs", "DIR/y.npy"],
            message: "error: DIR/nope.kiln: no such file"),
        Failure(
            name: "missing inputs", arguments: ["run", "DIR/identity_int8.kiln", "--inputs", "DIR/none.npy", "--outputs", "DIR/y.npy"],
            message: "error: DIR/none.npy: no such file"),
        Failure(
            name: "output directory is a file", arguments: ["compile", "REPRO/identity_int8.tflite", "-o", "DIR/x.npy"],
            message: "error: DIR/x.npy: is a file, not a directory"),
        Failure(
            name: "inputs of the wrong shape",
            arguments: ["run", "DIR/identity_int8.kiln", "--inputs", "REPRO/x_int8_4096.npy", "--outputs", "DIR/y.npy"],
            message: "has shape [2x1x4096]; for input"),
    ]

    @Test(arguments: failures) func failureIsReportedWithoutUsage(_ failure: Failure) throws {
        let (kiln, directory, _, _) = try compiledIdentity()
        defer { try? FileManager.default.removeItem(at: directory) }
        func expand(_ text: String) -> String {
            text.replacingOccurrences(of: "DIR", with: directory.path).replacingOccurrences(of: "REPRO", with: Self.repro.path)
        }
        let run = try CommandLineTool.run(kiln, failure.arguments.map(expand))
        #expect(run.status == 1, "\(run.output)")
        #expect(run.output.contains(expand(failure.message)), "\(run.output)")
        #expect(!run.output.contains("Usage:") && !run.output.contains("NSCocoaErrorDomain"), "\(run.output)")
    }

    @Test(arguments: [
        (["--prune", "1.5"], "--prune must be a fraction from 0 to 1, got 1.5"),
        (["--prune", "0.5", "--prune-method", "5:4"], "--prune-method must be magnitude, block, channel, wanda or N:M"),
        (["--prune", "0.5", "--prune-method", "wanda"], "--prune-method wanda needs --calibration FILE.npy"),
        (["--prune-method", "block"], "--prune-method and --prune-scope need --prune FRACTION"),
        (["--prune", "0.5", "--prune-scope", "model"], "--prune-scope must be 'layer', 'global' or 'unit', got 'model'"),
        (["--share-weights", "300"], "--share-weights must be from 2 to 256, got 300"),
        (["--optimize", "fast"], "unknown --optimize 'fast'; use speed or size"),
    ])
    func badPruningFlagsAreNamed(_ flags: [String], _ message: String) throws {
        let kiln = try #require(CommandLineTool.kiln)
        let run = try CommandLineTool.run(kiln, ["inspect", Self.repro.appendingPathComponent("identity_int8.tflite").path] + flags)
        #expect(run.status != 0, "\(run.output)")
        #expect(run.output.contains(message), "\(run.output)")
    }

    @Test func wrongCommandLinePrintsUsage() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let run = try CommandLineTool.run(kiln, ["run", "model.kiln"])
        #expect(run.status == 64, "\(run.output)")
        #expect(run.output.contains("Usage:"), "\(run.output)")
    }
}
