import Kiln
import KilnIR
import Testing

/// The newer float ops' native code (depthwise convolution, concatenation,
/// pad, mean, and layers with int8 weights on float activations) against the
/// reference interpreter, element by element, over vector remainders, strides,
/// dilations and both paddings.
@Suite struct FloatOpTests {
    static func weights(_ shape: Shape, seed: UInt64) -> TensorData {
        TensorData(uniformValues(shape.elementCount, in: -0.5...0.5, seed: seed), shape: shape)
    }

    struct DepthwiseCase: Sendable, CustomTestStringConvertible {
        var input: Shape
        var multiplier: Int
        var kernel: (Int, Int)
        var strides: [Int] = [1, 1]
        var dilations: [Int] = [1, 1]
        var padding: Padding
        var testDescription: String {
            "\(input) ×\(multiplier) k\(kernel.0)x\(kernel.1) s\(strides) d\(dilations) \(padding)"
        }
    }

    static let depthwiseCases: [DepthwiseCase] = [
        DepthwiseCase(input: [1, 5, 5, 1], multiplier: 1, kernel: (3, 3), padding: .same),
        DepthwiseCase(input: [1, 6, 6, 1], multiplier: 2, kernel: (3, 3), strides: [2, 2], padding: .valid),
        DepthwiseCase(input: [1, 8, 8, 3], multiplier: 1, kernel: (3, 3), strides: [2, 2], padding: .same),
        DepthwiseCase(input: [1, 9, 9, 3], multiplier: 2, kernel: (3, 3), dilations: [2, 2], padding: .valid),
        DepthwiseCase(input: [2, 7, 6, 17], multiplier: 1, kernel: (5, 3), dilations: [2, 2], padding: .same),
        DepthwiseCase(input: [1, 7, 7, 17], multiplier: 2, kernel: (3, 3), strides: [2, 2], padding: .same),
        DepthwiseCase(input: [1, 25, 5, 64], multiplier: 1, kernel: (3, 3), padding: .same),
        DepthwiseCase(input: [1, 8, 6, 64], multiplier: 2, kernel: (3, 3), strides: [2, 1], dilations: [1, 2], padding: .valid),
        DepthwiseCase(input: [1, 4, 4, 65], multiplier: 1, kernel: (2, 2), strides: [2, 2], padding: .valid),
        // Interior pixel blocks with rows ending mid-block, border-only layers, wide rows.
        DepthwiseCase(input: [1, 17, 17, 32], multiplier: 1, kernel: (3, 3), padding: .same),
        DepthwiseCase(input: [1, 9, 65, 24], multiplier: 1, kernel: (3, 3), strides: [2, 2], padding: .same),
        DepthwiseCase(input: [1, 1, 1, 17], multiplier: 1, kernel: (3, 3), padding: .same),
        // Fewer channels than a vector, stride 1 along rows: pixels merged into vectors, staged
        // rows, narrower tails.
        DepthwiseCase(input: [1, 6, 20, 4], multiplier: 1, kernel: (3, 3), padding: .same),
        DepthwiseCase(input: [2, 5, 9, 8], multiplier: 1, kernel: (3, 3), dilations: [1, 2], padding: .valid),
        DepthwiseCase(input: [1, 9, 40, 1], multiplier: 1, kernel: (5, 5), strides: [2, 1], padding: .same),
        DepthwiseCase(input: [1, 7, 21, 2], multiplier: 1, kernel: (3, 3), padding: .same),
    ]

    /// Without bias, with bias, and with bias and ReLU6, in one graph.
    @Test(arguments: depthwiseCases)
    func depthwiseConvolution(_ c: DepthwiseCase) throws { try Self.checkDepthwise(c) }

    /// Checks one float depthwise case compiled with `options` (the host by default).
    static func checkDepthwise(_ c: DepthwiseCase, options: CompileOptions = .thisMachine) throws {
        var graph = Graph(name: "depthwise")
        let x = graph.addInput(name: "x", type: TensorType(.float32, c.input))
        let channels = c.input[3] * c.multiplier
        let filter = graph.addConstant(name: "w", data: Self.weights([1, c.kernel.0, c.kernel.1, channels], seed: 3))
        let bias = graph.addConstant(name: "b", data: Self.weights([channels], seed: 4))
        let layers: [([ValueID], Activation?)] = [([x, filter], nil), ([x, filter, bias], nil), ([x, filter, bias], .relu6)]
        for (index, (operands, activation)) in layers.enumerated() {
            let attributes = Conv2DAttributes(
                strides: c.strides, dilations: c.dilations, padding: c.padding, activation: activation)
            graph.outputs.append(try graph.addNode(.depthwiseConv2D(attributes), inputs: operands, name: "dw\(index)"))
        }
        try expectCompiledMatchesReference(graph, options: options, inputRange: -3...3, "depthwise \(c.testDescription)")
    }

    struct ConcatenationCase: Sendable, CustomTestStringConvertible {
        var shapes: [Shape]
        var axis: Int
        var testDescription: String { "\(shapes) axis \(axis)" }
    }

    static let concatenationCases: [ConcatenationCase] = [
        ConcatenationCase(shapes: [[1, 4, 4, 3], [1, 4, 4, 17]], axis: -1),
        ConcatenationCase(shapes: [[1, 2, 2, 1], [1, 2, 2, 1], [1, 2, 2, 63]], axis: 3),
        ConcatenationCase(shapes: [[2, 3, 5], [2, 7, 5], [2, 1, 5]], axis: 1),
        ConcatenationCase(shapes: [[1, 3, 3, 16], [1, 2, 3, 16]], axis: 1),
        ConcatenationCase(shapes: [[65], [65]], axis: 0),
        ConcatenationCase(shapes: [[3, 130], [4, 130]], axis: -2),
        ConcatenationCase(shapes: [[7, 1]], axis: 1),
    ]

    /// Plain and with a fused ReLU.
    @Test(arguments: concatenationCases)
    func concatenation(_ c: ConcatenationCase) throws {
        var graph = Graph(name: "concat")
        let operands = c.shapes.enumerated().map { graph.addInput(name: "x\($0)", type: TensorType(.float32, $1)) }
        graph.outputs = [
            try graph.addNode(.concatenation(axis: c.axis, activation: nil), inputs: operands, name: "concat"),
            try graph.addNode(.concatenation(axis: c.axis, activation: .relu), inputs: operands, name: "concat_relu"),
        ]
        try expectCompiledMatchesReference(graph, tolerance: 0, "concatenation \(c.testDescription)")
    }

    static let padCases: [(input: Shape, paddings: [[Int]])] = [
        ([1, 5, 5, 3], [[0, 0], [1, 1], [2, 0], [0, 0]]),
        ([1, 4, 4, 17], [[0, 0], [0, 1], [3, 2], [0, 0]]),
        ([2, 7], [[1, 0], [0, 3]]),
        ([1, 2, 2, 3], [[0, 0], [0, 0], [0, 0], [1, 62]]),
        ([65], [[0, 65]]),
        ([1, 3, 3, 64], [[1, 0], [1, 1], [1, 1], [0, 0]]),
        ([4], [[0, 0]]),
    ]

    @Test(arguments: padCases)
    func pad(input: Shape, paddings: [[Int]]) throws {
        var graph = Graph(name: "pad")
        let x = graph.addInput(name: "x", type: TensorType(.float32, input))
        graph.outputs = [try graph.addNode(.pad(paddings: paddings), inputs: [x], name: "pad")]
        try expectCompiledMatchesReference(graph, tolerance: 0, "pad \(input) \(paddings)")
    }

    static let meanCases: [(input: Shape, axes: [Int], keep: Bool)] = [
        ([1, 5, 5, 17], [1, 2], true), ([2, 3, 65], [-1], false), ([1, 7, 7, 130], [1, 2], true),
        ([1, 25, 5, 64], [1, 2], false), ([3, 1], [-1], false), ([4, 16], [0], true), ([2, 3, 4, 5], [0, 2], false),
        ([1, 49, 10, 1], [1, 2], true),
    ]

    @Test(arguments: meanCases)
    func mean(input: Shape, axes: [Int], keep: Bool) throws {
        var graph = Graph(name: "mean")
        let x = graph.addInput(name: "x", type: TensorType(.float32, input))
        graph.outputs = [try graph.addNode(.mean(axes: axes, keepDimensions: keep), inputs: [x], name: "mean")]
        try expectCompiledMatchesReference(graph, "mean \(input) axes \(axes) keep \(keep)")
    }

    /// An int8 filter with its quantization, as TFLite stores weight-only quantized layers.
    static func int8Filter(_ shape: Shape, axis: Int?, seed: UInt64) -> (TensorData, QuantizationParameters) {
        let data = TensorData(int8: randomInt8(shape.elementCount, in: -127...127, seed: seed), shape: shape)
        guard let axis else { return (data, .perTensor(scale: 0.004, zeroPoint: 0)) }
        return (data, .symmetric(scales: uniformValues(shape[axis], in: 0.002...0.006, seed: seed + 1), axis: axis))
    }

    /// Fully connected, convolution and depthwise layers whose filters are int8
    /// (per-tensor, and per-channel) with float activations and biases: the kernel dequantizes the weights.
    @Test(arguments: [false, true])
    func layersWithInt8Weights(perChannel: Bool) throws {
        let granularity = perChannel ? "per-channel" : "per-tensor"
        for (rows, depth, units) in [(1, 17, 16), (3, 7, 65), (1, 64, 63), (2, 130, 1), (1, 640, 128)] {
            var graph = Graph(name: "fc")
            let x = graph.addInput(name: "x", type: TensorType(.float32, [rows, depth]))
            let (filter, quantization) = Self.int8Filter([units, depth], axis: perChannel ? 0 : nil, seed: 5)
            let w = graph.addConstant(name: "w", data: filter, quantization: quantization)
            let b = graph.addConstant(name: "b", data: Self.weights([units], seed: 6))
            graph.outputs = [
                try graph.addNode(.fullyConnected(activation: nil), inputs: [x, w, b], name: "fc"),
                try graph.addNode(.fullyConnected(activation: .relu), inputs: [x, w], name: "fc_relu"),
            ]
            try expectCompiledMatchesReference(graph, "\(granularity) int8 fc \(rows)x\(depth)→\(units)")
        }
        for c in KernelTests.convolutionCases.prefix(6) {
            var graph = Graph(name: "conv")
            let x = graph.addInput(name: "x", type: TensorType(.float32, c.input))
            let (filter, quantization) = Self.int8Filter(
                [c.filters, c.kernel.0, c.kernel.1, c.input[3]], axis: perChannel ? 0 : nil, seed: 8)
            let w = graph.addConstant(name: "w", data: filter, quantization: quantization)
            let b = graph.addConstant(name: "b", data: Self.weights([c.filters], seed: 9))
            let attributes = Conv2DAttributes(strides: c.strides, dilations: c.dilations, padding: c.padding, activation: .relu6)
            graph.outputs = [try graph.addNode(.conv2D(attributes), inputs: [x, w, b], name: "conv")]
            try expectCompiledMatchesReference(graph, inputRange: -3...3, "\(granularity) int8 conv \(c.testDescription)")
        }
        for c in Self.depthwiseCases {
            var graph = Graph(name: "depthwise")
            let x = graph.addInput(name: "x", type: TensorType(.float32, c.input))
            let channels = c.input[3] * c.multiplier
            let (filter, quantization) = Self.int8Filter(
                [1, c.kernel.0, c.kernel.1, channels], axis: perChannel ? 3 : nil, seed: 10)
            let w = graph.addConstant(name: "w", data: filter, quantization: quantization)
            let b = graph.addConstant(name: "b", data: Self.weights([channels], seed: 11))
            let attributes = Conv2DAttributes(strides: c.strides, dilations: c.dilations, padding: c.padding, activation: .relu)
            graph.outputs = [try graph.addNode(.depthwiseConv2D(attributes), inputs: [x, w, b], name: "depthwise")]
            try expectCompiledMatchesReference(graph, inputRange: -3...3, "\(granularity) int8 depthwise \(c.testDescription)")
        }
    }
}
