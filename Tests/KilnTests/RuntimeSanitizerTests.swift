import Foundation
import Kiln
import KilnCompiler
import Testing

/// The runtime under ThreadSanitizer: a stress program built from every source of
/// `Sources/KilnRuntime` with `-sanitize=thread` runs thread-pool jobs of every shape on pools of
/// 2–4 threads, with parked workers and a shared pool, then one compiled model from 4 threads at
/// once, and must report no data race and no wrong result.
@Suite struct RuntimeSanitizerTests {
    static let swiftc = ["/opt/swift/usr/bin/swiftc", "/usr/bin/swiftc"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// `Tests/KilnTests/Fixtures/RuntimeStress/main.swift` and the runtime's sources, subfolders included.
    static func sources() throws -> [URL] {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let runtime = tests.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources/KilnRuntime")
        let files = (FileManager.default.enumerator(at: runtime, includingPropertiesForKeys: nil)?.allObjects ?? [])
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }.sorted { $0.path < $1.path }
        return [tests.appendingPathComponent("Fixtures/RuntimeStress/main.swift")] + files
    }

    #if os(Linux) && arch(x86_64)
        static let supported = swiftc != nil
    #else
        static let supported = false
    #endif

    @Test(.enabled(if: supported, "needs swiftc with ThreadSanitizer on x86-64 Linux"))
    func theRuntimeHasNoDataRaces() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let executable = directory.appendingPathComponent("stress")
        let compile = try CommandLineTool.run(
            URL(fileURLWithPath: try #require(Self.swiftc)),
            ["-sanitize=thread", "-O", "-module-name", "RuntimeStress"] + Self.sources().map(\.path) + ["-o", executable.path])
        try #require(compile.status == 0, "\(compile.output)")
        // A model with layers split among threads, so runs use the model's pool too.
        let model = try Compiler().compile(ThreadedRunTests.network(), options: CompileOptions(), outputDirectory: directory)
        #expect(model.metadata.parallelEntryPoint != nil)
        let run = try CommandLineTool.run(executable, [model.artifact.path])
        #expect(run.status == 0, "\(run.output)")
        #expect(!run.output.contains("ThreadSanitizer"), "\(run.output)")
        #expect(run.output.contains("thread pool stress: ok"), "\(run.output)")
        #expect(run.output.contains("concurrent runs on one model: ok"), "\(run.output)")
    }
}
