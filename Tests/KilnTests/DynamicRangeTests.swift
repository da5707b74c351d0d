import Kiln
import KilnIR
import Testing

/// Dynamic-range ("hybrid") layers: float inputs rounded to their own int8 grid,
/// int8 weights. Natively the rounding and the layer fuse into one integer
/// kernel (VNNI) when possible; either way the result must match the reference.
@Suite struct DynamicRangeTests {
    static let cases: [(rows: Int, depth: Int, units: Int, pointwise: Bool)] = [
        (1, 640, 128, false), (6, 37, 32, false), (3, 5, 7, false), (1, 1, 16, false), (2, 64, 64, true),
        (1, 3, 16, true),
    ]

    @Test(arguments: cases)
    func roundedInputLayerMatchesReference(rows: Int, depth: Int, units: Int, pointwise: Bool) throws {
        try Self.checkRoundedInputLayer(rows: rows, depth: depth, units: units, pointwise: pointwise)
    }

    /// One hybrid layer after its input's rounding, compiled with `options`, against the reference.
    static func checkRoundedInputLayer(
        rows: Int, depth: Int, units: Int, pointwise: Bool, options: CompileOptions = .thisMachine
    ) throws {
        var graph = Graph(name: "hybrid")
        let inputShape: Shape = pointwise ? [1, rows, 3, depth] : [rows, depth]
        let x = graph.addInput(name: "x", type: TensorType(.float32, inputShape))
        let weights = uniformValues(units * depth, in: -100...100, seed: 3).map { Int8($0.rounded()) }
        let scales = uniformValues(units, in: 0.001...0.02, seed: 4)
        let filterShape: Shape = pointwise ? [units, 1, 1, depth] : [units, depth]
        let filter = graph.addConstant(
            name: "w", data: TensorData(int8: weights, shape: filterShape), quantization: .symmetric(scales: scales, axis: 0))
        let bias = graph.addConstant(name: "b", data: TensorData(uniformValues(units, seed: 5), shape: [units]))
        let rounded = try graph.addNode(.dynamicRangeQuantize(.perRow), inputs: [x], name: "round")
        let op: Op = pointwise ? .conv2D(Conv2DAttributes(padding: .same, activation: .relu)) : .fullyConnected(activation: .relu)
        graph.outputs = [try graph.addNode(op, inputs: [rounded, filter, bias], name: "layer")]
        try expectCompiledMatchesReference(
            graph, options: options, inputRange: -3...3, tolerance: 1e-5, "dynamic-range \(pointwise ? "1x1 conv" : "fc") \(rows)x\(depth)→\(units)")
    }

    @Test func perBatchRoundingMatchesReference() throws { try Self.checkPerBatchRounding() }

    /// Per-batch rounding alone, compiled with `options`: exactly the reference's values.
    static func checkPerBatchRounding(options: CompileOptions = .thisMachine) throws {
        var graph = Graph(name: "rounding")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [2, 5, 7, 3]))
        graph.outputs = [try graph.addNode(.dynamicRangeQuantize(.perBatch), inputs: [x], name: "round")]
        try expectCompiledMatchesReference(graph, options: options, inputRange: -2...5, tolerance: 0, "per-batch rounding")
    }
}
