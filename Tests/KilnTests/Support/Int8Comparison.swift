import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnReference
import KilnRuntime
import Testing

/// Deterministic int8 values spread over `range` (the whole int8 range by default).
func randomInt8(_ count: Int, in range: ClosedRange<Int> = -128...127, seed: UInt64) -> [Int8] {
    let span = Float(range.upperBound - range.lowerBound + 1)
    return uniformValues(count, in: 0...1, seed: seed).map { unit in
        Int8(min(range.lowerBound + Int(unit * span), range.upperBound))
    }
}

/// Random inputs for every input of `graph`: int8 tensors over the whole int8
/// range, float32 tensors uniform in `floatRange`.
func randomInputs(_ graph: Graph, seed: UInt64, floatRange: ClosedRange<Float> = -1...1) -> [TensorData] {
    graph.inputs.enumerated().map { index, id in
        let type = graph.type(of: id)
        let inputSeed = seed &+ UInt64(index) &* 7919
        switch type.dtype {
        case .int8: return TensorData(int8: randomInt8(type.elementCount, seed: inputSeed), shape: type.shape)
        default: return TensorData(uniformValues(type.elementCount, in: floatRange, seed: inputSeed), shape: type.shape)
        }
    }
}

/// Runs a compiled model on raw input bytes and returns each output's raw bytes.
func runCompiled(_ model: CompiledModel, _ inputs: [TensorData], outputByteCounts: [Int]) throws -> [[UInt8]] {
    // Copy into 64-byte aligned buffers, as an app would hand them over.
    let inputBuffers = inputs.map { data in
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.bytes.count, 1), alignment: 64)
        data.bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return UnsafeRawBufferPointer(rebasing: buffer[0..<data.bytes.count])
    }
    let outputBuffers = outputByteCounts.map { count in
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 0xA5)
        return UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
    }
    defer {
        for buffer in inputBuffers { UnsafeMutableRawPointer(mutating: buffer.baseAddress)?.deallocate() }
        for buffer in outputBuffers { buffer.baseAddress?.deallocate() }
    }
    try inputBuffers.withUnsafeBufferPointer { inputs in
        try outputBuffers.withUnsafeBufferPointer { outputs in
            try model.run(inputs: inputs, outputs: outputs)
        }
    }
    return outputBuffers.map { Array($0) }
}

/// Describes up to three elements where `actual` and `expected` differ, or `nil` when they are identical.
func firstMismatches<T: Equatable>(_ actual: [T], _ expected: [T], limit: Int = 3) -> String? {
    guard actual.count == expected.count else { return "\(actual.count) elements, expected \(expected.count)" }
    let differing = actual.indices.filter { actual[$0] != expected[$0] }
    guard let first = differing.first else { return nil }
    let shown = differing.prefix(limit).map { "[\($0)] \(actual[$0]) ≠ \(expected[$0])" }
    return "\(differing.count) of \(actual.count) elements differ (first at \(first)): " + shown.joined(separator: ", ")
}

/// Compiles an int8 (or mixed int8/float32) graph, runs it natively on `inputs`
/// (random full-range int8 from `seed` when `nil`) and checks that every output
/// element equals the reference interpreter's bit for bit.
///
/// The reference runs the graph as built, before any pass, so the passes are
/// checked too. When `expectSpread` is set, each int8 output of 8 elements or
/// more must not be constant and must not be saturated everywhere: a test
/// whose scales push every result to -128 or 127 proves little. `labels` name
/// the outputs in messages, for graphs that check several cases at once.
///
/// With `runs` above 1 the compiled model runs again on fresh random inputs.
///
/// - Returns: the reference outputs of the first run.
@discardableResult
func expectCompiledInt8MatchesReference(
    _ graph: Graph, options: CompileOptions = .thisMachine, inputs: [TensorData]? = nil, seed: UInt64 = 1,
    runs: Int = 1, expectSpread: Bool = true, labels: [String] = [], _ context: String,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws -> [TensorData] {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let model = try NativeRunner(graph, options: options, directory: directory)
    var firstExpected: [TensorData] = []
    for run in 0..<runs {
        let runInputs = inputs ?? randomInputs(graph, seed: seed &+ UInt64(run) &* 1000)
        let expected = try ReferenceInterpreter(graph).run(runInputs)
        if run == 0 { firstExpected = expected }
        let actual = try model.run(runInputs, outputByteCounts: expected.map { $0.bytes.count })
        let context = runs > 1 ? "\(context), run \(run)" : context
        for (index, (bytes, reference)) in zip(actual, expected).enumerated() {
            let label = "\(context), output \(index)" + (index < labels.count ? " (\(labels[index]))" : "")
            let produced = TensorData(dtype: reference.dtype, shape: reference.shape, bytes: bytes)
            switch reference.dtype {
            case .int8:
                let (values, wanted) = (produced.int8s(), reference.int8s())
                if let mismatch = firstMismatches(values, wanted) {
                    Issue.record("\(label): \(mismatch)", sourceLocation: sourceLocation)
                }
                if expectSpread, wanted.count >= 8 {
                    #expect(Set(wanted).count > 1, "\(label): every result is \(wanted[0])", sourceLocation: sourceLocation)
                    #expect(
                        wanted.contains { $0 > -128 && $0 < 127 }, "\(label): every result is saturated",
                        sourceLocation: sourceLocation)
                }
            case .float32:
                // Compare bit patterns: exact equality, and NaN is not let off.
                let (values, wanted) = (produced.floats(), reference.floats())
                let differing = values.indices.filter { values[$0].bitPattern != wanted[$0].bitPattern }
                if !differing.isEmpty {
                    let shown = differing.prefix(3).map { "[\($0)] \(values[$0]) ≠ \(wanted[$0])" }
                    Issue.record(
                        "\(label): \(differing.count) of \(values.count) elements differ: \(shown.joined(separator: ", "))",
                        sourceLocation: sourceLocation)
                }
            default:
                #expect(bytes == reference.bytes, "\(label): \(reference.dtype) bytes differ", sourceLocation: sourceLocation)
            }
        }
    }
    return firstExpected
}

/// Builders for int8 test graphs with realistic quantization parameters.
enum Int8Graphs {
    /// Symmetric int8 filter values, -127…127 as TFLite's converter writes them.
    static func filter(_ shape: Shape, seed: UInt64) -> TensorData {
        TensorData(int8: randomInt8(shape.elementCount, in: -127...127, seed: seed), shape: shape)
    }

    /// `count` filter scales for a layer summing `depth` taps, in 0.001…0.02.
    ///
    /// Like a trained layer's: real weights of standard deviation about
    /// `√(2 / depth)` (He initialization) over int8 steps of standard deviation 73,
    /// varied by ±40 % between channels.
    static func filterScales(_ count: Int, depth: Int, seed: UInt64) -> [Float] {
        let base = min(max((2 / Float(depth)).squareRoot() / 73, 0.001), 0.02)
        return uniformValues(count, in: 0.6...1.4, seed: seed).map { base * $0 }
    }

    /// A per-tensor input type with scale `scale` and zero point `zeroPoint`.
    static func input(_ shape: Shape, scale: Float = 0.05, zeroPoint: Int32 = -3) -> TensorType {
        TensorType(.int8, shape, quantization: .perTensor(scale: scale, zeroPoint: zeroPoint))
    }

    /// The output scale that puts a dot product of `depth` full-range taps at
    /// about ±40 steps (one standard deviation), so results span the int8 range
    /// without saturating everywhere.
    static func outputScale(inputScale: Float, filterScale: Float, depth: Int) -> Float {
        // A centred full-range int8 times a filter tap has a standard deviation near 74 · 73.
        inputScale * filterScale * 74 * 73 * Float(depth).squareRoot() / 40
    }

    /// An int32 bias of `count` values with scale `inputScale · filterScale[c]`,
    /// each about one accumulator standard deviation.
    static func bias(_ count: Int, depth: Int, seed: UInt64) -> TensorData {
        let limit = 74 * 73 * Float(depth).squareRoot()
        return TensorData(
            int32: uniformValues(count, in: -limit...limit, seed: seed).map { Int32($0) }, shape: [count])
    }

    /// Adds a filter (per-channel along `axis` when `perChannel`, else per-tensor)
    /// and its matching bias; returns the constants and the mean filter scale.
    static func addFilterAndBias(
        to graph: inout Graph, filterShape: Shape, channelAxis: Int, perChannel: Bool, inputScale: Float, depth: Int,
        withBias: Bool = true, seed: UInt64
    ) -> (constants: [ValueID], meanScale: Float) {
        let channels = filterShape[channelAxis]
        let scales = filterScales(perChannel ? channels : 1, depth: depth, seed: seed)
        let filterQuantization: QuantizationParameters =
            perChannel ? .symmetric(scales: scales, axis: channelAxis) : .perTensor(scale: scales[0], zeroPoint: 0)
        let w = graph.addConstant(name: "filter", data: filter(filterShape, seed: seed + 1), quantization: filterQuantization)
        var constants = [w]
        if withBias {
            let biasScales = perChannel ? scales.map { inputScale * $0 } : [inputScale * scales[0]]
            let biasQuantization: QuantizationParameters =
                perChannel ? .symmetric(scales: biasScales, axis: 0) : .perTensor(scale: biasScales[0], zeroPoint: 0)
            constants.append(
                graph.addConstant(
                    name: "bias", data: bias(channels, depth: depth, seed: seed + 2), quantization: biasQuantization))
        }
        return (constants, scales.reduce(0, +) / Float(scales.count))
    }
}
