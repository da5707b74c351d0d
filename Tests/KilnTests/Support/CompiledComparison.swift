import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnReference
import KilnRuntime
import Testing

/// Deterministic uniform values in `range`.
func uniformValues(_ count: Int, in range: ClosedRange<Float> = -1...1, seed: UInt64 = 1) -> [Float] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        let unit = Float(state >> 40) / Float(1 << 24)
        return range.lowerBound + unit * (range.upperBound - range.lowerBound)
    }
}

/// A fresh directory for one test's files.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Asserts `actual` equals `expected` element by element, within `tolerance`
/// relative to the element or, for elements near zero, to the tensor's largest
/// finite magnitude; NaN must meet NaN and an infinity the same infinity.
func expectClose(
    _ actual: [Float], _ expected: [Float], tolerance: Float, _ context: String,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    #expect(actual.count == expected.count, "\(context): element count", sourceLocation: sourceLocation)
    let scale = max(expected.filter(\.isFinite).map(abs).max() ?? 0, 1e-30)
    var failures = 0
    for (index, (a, e)) in zip(actual, expected).enumerated()
    where !(a == e || (a.isNaN && e.isNaN) || abs(a - e) <= tolerance * max(abs(e), scale * 0.1)) {
        failures += 1
        if failures <= 3 {
            Issue.record("\(context): element \(index) is \(a), expected \(e)", sourceLocation: sourceLocation)
        }
    }
}

/// Compiles `graph` with the full pipeline and checks the native code against
/// the reference interpreter on random inputs.
func expectCompiledMatchesReference(
    _ graph: Graph, options: CompileOptions = .thisMachine, compiler: Compiler = Compiler(),
    inputRange: ClosedRange<Float> = -1...1, tolerance: Float = 1e-5, _ context: String,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let inputs = graph.inputs.enumerated().map { index, id in
        uniformValues(graph.type(of: id).elementCount, in: inputRange, seed: UInt64(index + 11))
    }
    // The oracle runs the graph after the same passes, so quantized or pruned
    // weights are compared like for like.
    let optimized = try compiler.optimize(graph, options: options)
    let expected = try ReferenceInterpreter(optimized).run(
        zip(optimized.inputs, inputs).map { TensorData($1, shape: optimized.type(of: $0).shape) })
    let model = try NativeRunner(graph, options: options, directory: directory, compiler: compiler)
    let actual = try model.run(
        zip(graph.inputs, inputs).map { TensorData($1, shape: graph.type(of: $0).shape) },
        outputByteCounts: expected.map { $0.bytes.count })
    for (index, output) in expected.enumerated() {
        let produced = TensorData(dtype: .float32, shape: output.shape, bytes: actual[index])
        expectClose(
            produced.floats(), output.floats(), tolerance: tolerance, "\(context) output \(index)",
            sourceLocation: sourceLocation)
    }
}
