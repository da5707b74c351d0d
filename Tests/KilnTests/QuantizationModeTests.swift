import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnReference
import Testing

/// The calibration-free modes: dynamic range (int8 weights, inputs quantized at run time) and
/// float16 weights. Each runs natively as the reference interpreter runs its graph, stays close
/// to the float model, and shrinks the weights.
@Suite struct QuantizationModeTests {
    struct Mode: CustomTestStringConvertible, Sendable {
        var quantization: CompileOptions.Quantization
        /// The largest difference from the float model's probabilities allowed.
        var tolerance: Float
        /// Weight bytes against float32's, as a range.
        var weightRatio: ClosedRange<Double>
        var testDescription: String { "\(quantization)" }
    }

    static let modes = [
        // Biases, the depthwise filter and the batch normalization stay float32 under dynamic range.
        Mode(quantization: .dynamicRange, tolerance: 0.03, weightRatio: 0.4...0.48),
        Mode(quantization: .float16Weights, tolerance: 0.002, weightRatio: 0.5...0.56),
    ]

    @Test(arguments: modes)
    func runsAsTheReferenceAndStaysNearFloat(_ mode: Mode) throws {
        let graph = try QuantizeInt8Tests.network()
        let options = CompileOptions(quantization: mode.quantization)
        try expectCompiledMatchesReference(graph, options: options, tolerance: 1e-5, "\(mode.quantization)")
        let quantized = try Compiler().optimize(graph, options: options)
        let float = try Compiler().optimize(graph, options: CompileOptions())
        for seed in 0..<4 {
            let input = TensorData(uniformValues(12 * 12 * 3, in: -1...1, seed: UInt64(20 + seed)), shape: [1, 12, 12, 3])
            let expected = try ReferenceInterpreter(float).run([input])[0].floats()
            let actual = try ReferenceInterpreter(quantized).run([input])[0].floats()
            let largest = zip(actual, expected).map { abs($0 - $1) }.max() ?? .infinity
            #expect(largest <= mode.tolerance, "\(actual) vs \(expected)")
        }
        let ratio = Double(ModelReport(quantized).weightByteCount) / Double(ModelReport(float).weightByteCount)
        #expect(mode.weightRatio.contains(ratio), "weights are \(ratio) of float32's")
    }

    @Test func dynamicRangeQuantizesEachLayersInput() throws {
        let graph = try Compiler().optimize(QuantizeInt8Tests.network(), options: CompileOptions(quantization: .dynamicRange))
        let kinds = graph.nodes.map(\.op.kindName)
        // The stem and depthwise convolutions' filters stay float (depthwise has no hybrid kernel); the
        // pointwise projection and the fully-connected layer read rows quantized at run time.
        #expect(kinds.filter { $0 == "dynamic_range_quantize" }.count == 3, "\(kinds)")
        #expect(graph.nodes.contains { $0.op == .dynamicRangeQuantize(.perRow) && $0.name == "logits.input_quantize" })
        #expect(graph.nodes.contains { $0.op == .dynamicRangeQuantize(.perBatch) && $0.name == "stem.input_quantize" })
    }

    /// A dynamic-range layer that rounds its input itself (the fused VNNI kernel) reads the
    /// rounding node's input, so that input must not share bytes with the layer's result:
    /// a pointwise layer followed by pooling once computed from its own half-written output.
    @Test func aFusedDynamicRangeLayerKeepsItsInputLive() throws {
        var graph = Graph(name: "pointwise_pool")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 7, 7, 32]))
        let depthwise = try graph.addNode(
            .depthwiseConv2D(Conv2DAttributes(padding: .same, activation: .relu)),
            inputs: [x, graph.addConstant(name: "dw", data: TensorData(uniformValues(288, seed: 3), shape: [1, 3, 3, 32]))],
            name: "depthwise")
        let pointwise = try graph.addNode(
            .conv2D(Conv2DAttributes(padding: .valid, activation: .relu)),
            inputs: [depthwise, graph.addConstant(name: "pw", data: TensorData(uniformValues(64 * 32, seed: 4), shape: [64, 1, 1, 32]))],
            name: "pointwise")
        let pooled = try graph.addNode(
            .maxPool2D(Pool2DAttributes(window: [2, 2], strides: [2, 2], padding: .valid)), inputs: [pointwise], name: "pool")
        graph.outputs = [try graph.addNode(.reshape([1, 576]), inputs: [pooled], name: "flatten")]
        let options = CompileOptions(quantization: .dynamicRange)
        let optimized = try Compiler().optimize(graph, options: options)
        let lifetimes = optimized.lifetimes()
        let rounding = try #require(optimized.nodes.firstIndex { $0.name == "pointwise.input_quantize" })
        let layer = try #require(optimized.nodes.firstIndex { $0.name == "pointwise" })
        #expect(lifetimes[optimized.nodes[rounding].inputs[0]]?.contains(layer) == true)
        try expectCompiledMatchesReference(graph, options: options, tolerance: 1e-5, "pointwise then pool")
    }
}
