import Foundation
import Testing

/// The runtime's thread pool under ThreadSanitizer: a stress program built from
/// `Sources/KilnRuntime/ThreadPool.swift` with `-sanitize=thread` runs jobs of every shape on
/// pools of 2–4 threads, with parked workers and a shared pool, and must report no data race.
@Suite struct ThreadPoolSanitizerTests {
    static let swiftc = ["/opt/swift/usr/bin/swiftc", "/usr/bin/swiftc"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// `Tests/KilnTests/Fixtures/ThreadPoolStress/main.swift` and the pool's source.
    static let sources: [URL] = {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let root = tests.deletingLastPathComponent().deletingLastPathComponent()
        return [
            tests.appendingPathComponent("Fixtures/ThreadPoolStress/main.swift"),
            root.appendingPathComponent("Sources/KilnRuntime/ThreadPool.swift"),
        ]
    }()

    #if os(Linux) && arch(x86_64)
        static let supported = swiftc != nil
    #else
        static let supported = false
    #endif

    @Test(.enabled(if: supported, "needs swiftc with ThreadSanitizer on x86-64 Linux"))
    func thePoolHasNoDataRaces() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let executable = directory.appendingPathComponent("stress")
        let compile = try CommandLineTool.run(
            URL(fileURLWithPath: try #require(Self.swiftc)),
            ["-sanitize=thread", "-O", "-module-name", "ThreadPoolStress"] + Self.sources.map(\.path) + ["-o", executable.path])
        try #require(compile.status == 0, "\(compile.output)")
        let run = try CommandLineTool.run(executable, [])
        #expect(run.status == 0, "\(run.output)")
        #expect(!run.output.contains("ThreadSanitizer"), "\(run.output)")
        #expect(run.output.contains("thread pool stress: ok"), "\(run.output)")
    }
}
