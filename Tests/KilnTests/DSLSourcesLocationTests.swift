import Foundation
@testable import KilnCompiler
import Testing

/// `kiln` without its checkout (issue 11, item 4): tracing finds the DSL sources beside an
/// installed binary or in the checkout holding its `.build`, wherever that has moved.
@Suite struct DSLSourcesLocationTests {
    @Test func candidatesComeFromTheEnvironmentTheInstallPrefixAndTheMovedCheckout() {
        let builtFrom = URL(fileURLWithPath: "/original/kiln/Sources")
        let moved = DSLSources.candidateDirectories(
            environment: [:], executable: URL(fileURLWithPath: "/moved/kiln/.build/x86_64-unknown-linux-gnu/release/kiln"),
            builtFrom: builtFrom)
        #expect(
            moved.map(\.path) == [
                "/moved/kiln/.build/x86_64-unknown-linux-gnu/share/kiln/Sources", "/moved/kiln/Sources", "/original/kiln/Sources",
            ])
        let installed = DSLSources.candidateDirectories(
            environment: ["KILN_SOURCES": "/explicit"], executable: URL(fileURLWithPath: "/usr/local/bin/kiln"), builtFrom: builtFrom)
        #expect(installed.map(\.path) == ["/explicit", "/usr/local/share/kiln/Sources", "/original/kiln/Sources"])
    }

    /// The layout `scripts/install.sh` makes, with this build's `kiln` copied in: it reports and
    /// uses the installed sources, and traces a model file from another directory.
    @Test func anInstalledKilnTracesWithTheSourcesBesideIt() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let prefix = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: prefix) }
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let manager = FileManager.default
        try manager.createDirectory(at: prefix.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try manager.createDirectory(at: prefix.appendingPathComponent("share/kiln/Sources"), withIntermediateDirectories: true)
        try manager.copyItem(at: kiln, to: prefix.appendingPathComponent("bin/kiln"))
        for module in ["Kiln", "KilnIR"] {
            try manager.copyItem(
                at: checkout.appendingPathComponent("Sources/\(module)"), to: prefix.appendingPathComponent("share/kiln/Sources/\(module)"))
        }
        let installed = prefix.appendingPathComponent("bin/kiln")
        let version = try CommandLineTool.run(installed, ["--version"])
        #expect(version.output.contains("DSL sources: \(prefix.appendingPathComponent("share/kiln/Sources").resolvingSymlinksInPath().path)"), "\(version.output)")
        let model = prefix.appendingPathComponent("Tiny.swift")
        try """
            import Kiln

            struct Tiny: Model {
                var body: some Layer {
                    Input(shape: [1, 4])
                    Dense(2)
                }
            }
            """.write(to: model, atomically: true, encoding: .utf8)
        let inspect = try CommandLineTool.run(installed, ["inspect", model.path, "--target", "host"])
        #expect(inspect.status == 0 && inspect.output.contains("model Tiny"), "\(inspect.output)")
    }
}
