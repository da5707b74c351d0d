import Foundation
import Testing

/// Static mode end to end: `Examples/StaticClassifier` (an `experimentalCGen`
/// package) has KilnPlugin compile its model into assembly in a C target,
/// links it into the executable, and runs it with no loader; its outputs must
/// match the reference interpreter.
@Suite(.serialized) struct StaticPluginTests {
    static let example = PluginTests.repository.appendingPathComponent("Examples/StaticClassifier")
    static let scratch = PluginTests.repository.appendingPathComponent(".build-static")

    @Test func staticallyLinkedModelMatchesTheReference() throws {
        let swift = try #require(PluginTests.swift, "swift must be on PATH")
        let build = try PluginTests.swiftBuild(swift, ["--package-path", Self.example.path, "--scratch-path", Self.scratch.path])
        try #require(build.status == 0, "\(build.output)")
        let run = try CommandLineTool.run(Self.scratch.appendingPathComponent("debug/StaticClassifier"), [])
        try #require(run.status == 0, "\(run.output)")
        try PluginTests.expectOutputsMatchReference(
            run.output, modelFile: Self.example.appendingPathComponent("Sources/ClassifierModels/Classifier.swift"),
            tolerance: 1e-5, "statically linked Classifier")
    }
}
