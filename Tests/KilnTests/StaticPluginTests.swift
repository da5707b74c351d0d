import Foundation
import KilnCompiler
import KilnIR
import KilnReference
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
        let outputs = run.output.split(separator: "\n").map { line in
            line.split(separator: " ").compactMap { UInt32($0) }.map(Float.init(bitPattern:))
        }
        #expect(outputs.count == 3)

        let modelFile = Self.example.appendingPathComponent("Sources/ClassifierModels/Classifier.swift")
        let trace = try #require(try ModelSourceTracer().trace(modelFile: modelFile).first)
        let graph = try Compiler().optimize(try #require(trace.graph), options: trace.options)
        let interpreter = try ReferenceInterpreter(graph)
        let shape = graph.type(of: graph.inputs[0]).shape
        for (sample, output) in outputs.enumerated() {
            let input = (0..<shape.elementCount).map { Float(sin(Double($0 * (sample + 1)) * 0.37)) }
            let expected = try interpreter.run([TensorData(input, shape: shape)])[0].floats()
            expectClose(output, expected, tolerance: 1e-5, "statically linked Classifier sample \(sample)")
        }
    }
}
