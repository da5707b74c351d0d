import Foundation
import KilnIR
import KilnImport
import Testing

/// Every file that once crashed or hung `kiln` (`Fixtures/Repro`), run the
/// way its report ran it: each now gives a clear error or the right result.
@Suite(.serialized) struct ReproducerTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/Repro")

    static func file(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A model file and the words its compile error must contain.
    struct Rejected: CustomTestStringConvertible, Sendable {
        var file: String
        var message: String
        var testDescription: String { file }
    }

    static let rejected: [Rejected] = [
        Rejected(file: "shape_overflow.tflite", message: "has more than 2147483647 elements"),
        Rejected(file: "zeropoint_intmin.tflite", message: "int8 zero point -2147483648 is outside -128…127"),
        Rejected(file: "fc_zeropoint_1000.tflite", message: "int8 zero point 1000 is outside -128…127"),
        Rejected(
            file: "dsl_input_shape_overflow.swift",
            message: "dsl_input_shape_overflow.swift:4:14: error: Input: shape [2147483647x2147483647x2147483647x2147483647] has more than"),
        Rejected(
            file: "dsl_zeropoint_intmin.swift",
            message: "dsl_zeropoint_intmin.swift:6:13: error: layer 'relu_0' (relu): its result: int8 zero point -2147483648"),
        Rejected(file: "Crash.swift", message: "Crash.swift:7:20: error: the model's body crashed while tracing: Fatal error: Index out of range"),
    ]

    @Test(arguments: rejected) func compileFailsWithAClearError(_ case: Rejected) throws {
        let kiln = try #require(CommandLineTool.kiln)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let compile = try CommandLineTool.run(kiln, ["compile", Self.file(`case`.file), "-o", directory.path])
        #expect(compile.status == 1, "\(compile.output)")
        #expect(compile.output.contains(`case`.message), "\(compile.output)")
        #expect(!compile.output.contains("Usage:") && !compile.output.contains("Backtrac"), "\(compile.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    /// A model whose output is its input or a constant, of a type other than float32.
    struct Passthrough: CustomTestStringConvertible, Sendable {
        var model: String
        var artifact: String
        var input: String
        /// The output's first elements, or `nil` if it must equal the input.
        var constant: [Int8]?
        var testDescription: String { model }
    }

    static let passthrough: [Passthrough] = [
        Passthrough(model: "identity_int8.tflite", artifact: "identity_int8", input: "x_int8.npy", constant: nil),
        Passthrough(model: "dsl_identity_int8.swift", artifact: "IdQ", input: "x_int8_4096.npy", constant: nil),
        Passthrough(model: "const_int8_output.tflite", artifact: "const_int8_output", input: "x_int8.npy", constant: []),
        Passthrough(model: "const_int8_output_64k.tflite", artifact: "const_int8_output_64k", input: "x_int8.npy", constant: []),
    ]

    /// These once wrote four times the output's bytes (a float32 copy of int8 data) and corrupted the heap.
    @Test(arguments: passthrough) func inputOrConstantOutputIsCopiedExactly(_ case: Passthrough) throws {
        let kiln = try #require(CommandLineTool.kiln)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let compile = try CommandLineTool.run(kiln, ["compile", Self.file(`case`.model), "-o", directory.path])
        #expect(compile.status == 0, "\(compile.output)")
        let artifact = directory.appendingPathComponent("\(`case`.artifact).kiln")
        let output = directory.appendingPathComponent("y.npy")
        let run = try CommandLineTool.run(
            kiln, ["run", artifact.path, "--inputs", Self.file(`case`.input), "--outputs", output.path])
        #expect(run.status == 0, "\(run.output)")
        let result = try NumPyArray.read(contentsOf: output)
        let input = try NumPyArray.read(contentsOf: URL(fileURLWithPath: Self.file(`case`.input)))
        #expect(result.dtype == .int8)
        if `case`.constant == nil {
            #expect(result.bytes == input.bytes, "the identity model changed its input")
        } else {
            // Both entries of the batch get the same constant, and nothing else is written.
            let half = result.bytes.count / 2
            #expect(result.bytes.count == 2 * half && Array(result.bytes[..<half]) == Array(result.bytes[half...]))
        }
    }

    /// A body that never returns is stopped after `KILN_TRACE_TIMEOUT` seconds, and nothing is left behind.
    @Test func endlessModelBodyTimesOut() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let scratch = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let started = Date()
        let compile = try CommandLineTool.run(
            kiln, ["compile", Self.file("dsl_infinite_loop.swift"), "-o", scratch.appendingPathComponent("out").path],
            environment: ["KILN_TRACE_TIMEOUT": "3", "TMPDIR": scratch.path])
        #expect(compile.status == 1, "\(compile.output)")
        #expect(compile.output.contains("dsl_infinite_loop.swift: error: tracing the models took longer than 3 s"), "\(compile.output)")
        #expect(Date().timeIntervalSince(started) < 60)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty, "temporary files were left")
        #expect(Self.processes(mentioning: scratch.path).isEmpty, "the tracer's child is still running")
    }

    /// SIGINT and SIGTERM end the tracer's child and remove its directory; the exit status says which signal.
    @Test(arguments: [SIGINT, SIGTERM]) func signalStopsTracingCleanly(_ signal: Int32) throws {
        let kiln = try #require(CommandLineTool.kiln)
        let scratch = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let process = Process()
        process.executableURL = kiln
        process.arguments = ["compile", Self.file("dsl_infinite_loop.swift"), "-o", scratch.appendingPathComponent("out").path]
        process.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": scratch.path]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait until the model's exporter runs (the first trace compiles the DSL first).
        let deadline = Date().addingTimeInterval(120)
        while Self.processes(mentioning: scratch.path).filter({ $0.hasSuffix("/exporter") }).isEmpty, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(!Self.processes(mentioning: scratch.path).isEmpty, "the exporter never started")
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 128 + signal)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(Self.processes(mentioning: scratch.path).isEmpty, "the tracer's child is still running")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty, "temporary files were left")
    }

    /// A /proc file's bytes, read through FileHandle: Foundation's whole-file reads leak the
    /// buffer of a file whose size reads as 0, as /proc files do.
    static func procFile(_ path: String) -> Data? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return try? handle.readToEnd()
    }

    /// The command lines of running processes that contain `text` (read from /proc).
    static func processes(mentioning text: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { $0.allSatisfy(\.isNumber) }.compactMap { pid in
            guard let data = procFile("/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
            let command = String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
                .trimmingCharacters(in: .whitespaces)
            guard command.contains(text) else { return nil }
            // A zombie has exited; its entry goes once it is reaped.
            let status = procFile("/proc/\(pid)/stat").map { String(decoding: $0, as: UTF8.self) } ?? ""
            return status.contains(") Z ") ? nil : command.split(separator: " ").first.map(String.init)
        }
    }

    /// A file whose second model fails to compile yields no artifact at all.
    @Test func multiModelFileWritesAllArtifactsOrNone() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let compile = try CommandLineTool.run(kiln, ["compile", Self.file("TwoModels.swift"), "-o", directory.path])
        #expect(compile.status == 1, "\(compile.output)")
        #expect(compile.output.contains("missing.safetensors"), "\(compile.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty, "an artifact was written")
    }
}
