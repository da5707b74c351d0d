import Foundation
import Kiln
import KilnIR
import Testing

/// Every int8 op's native code equals the reference interpreter's integer
/// arithmetic bit for bit, over shapes that hit vector remainders, strides,
/// dilations, both paddings, per-channel and per-tensor filters and fused activations.
@Suite struct IntegerKernelTests {
    /// The fused activations an int8 layer takes.
    static let fusedActivations: [Activation?] = [nil, .relu, .relu6]

    static func name(_ activation: Activation?) -> String { activation?.rawValue ?? "none" }

    // MARK: Fully connected

    struct FullyConnectedCase: Sendable, CustomTestStringConvertible {
        var rows: Int
        var depth: Int
        var units: Int
        var inputScale: Float
        var inputZeroPoint: Int32
        var testDescription: String { "\(rows)x\(depth)→\(units) x(\(inputScale), \(inputZeroPoint))" }
    }

    static let fullyConnectedCases: [FullyConnectedCase] = [
        FullyConnectedCase(rows: 1, depth: 1, units: 1, inputScale: 0.02, inputZeroPoint: 0),
        FullyConnectedCase(rows: 5, depth: 3, units: 7, inputScale: 0.1, inputZeroPoint: -128),
        FullyConnectedCase(rows: 1, depth: 17, units: 16, inputScale: 0.05, inputZeroPoint: 12),
        FullyConnectedCase(rows: 3, depth: 64, units: 63, inputScale: 0.03, inputZeroPoint: -7),
        FullyConnectedCase(rows: 1, depth: 65, units: 65, inputScale: 0.08, inputZeroPoint: 89),
        FullyConnectedCase(rows: 2, depth: 33, units: 130, inputScale: 0.04, inputZeroPoint: -1),
        FullyConnectedCase(rows: 4, depth: 16, units: 17, inputScale: 0.06, inputZeroPoint: 127),
        FullyConnectedCase(rows: 1, depth: 640, units: 128, inputScale: 0.39, inputZeroPoint: 89),
        // VNNI cases where the target has it: row blocks, leftover rows, partial depth groups.
        FullyConnectedCase(rows: 6, depth: 6, units: 32, inputScale: 0.07, inputZeroPoint: -30),
        FullyConnectedCase(rows: 9, depth: 40, units: 80, inputScale: 0.05, inputZeroPoint: 3),
        // Blocks of rows too large to stage on the stack (9 rows × 4201 bytes): VNNI reads them in place.
        FullyConnectedCase(rows: 9, depth: 4201, units: 16, inputScale: 0.01, inputZeroPoint: -9),
    ]

    /// Per-channel and per-tensor filters with each fused activation, plus a layer without bias, in one graph.
    @Test(arguments: fullyConnectedCases)
    func fullyConnected(_ c: FullyConnectedCase) throws { try Self.checkFullyConnected(c) }

    /// Checks one fully-connected case compiled with `options` (the host by default).
    static func checkFullyConnected(_ c: FullyConnectedCase, options: CompileOptions = .thisMachine) throws {
        var graph = Graph(name: "fc")
        let x = graph.addInput(
            name: "x", type: Int8Graphs.input([c.rows, c.depth], scale: c.inputScale, zeroPoint: c.inputZeroPoint))
        var labels: [String] = []
        for (variant, (perChannel, activation, withBias)) in Self.layerVariants.enumerated() {
            let (constants, meanScale) = Int8Graphs.addFilterAndBias(
                to: &graph, filterShape: [c.units, c.depth], channelAxis: 0, perChannel: perChannel,
                inputScale: c.inputScale, depth: c.depth, withBias: withBias, seed: UInt64(10 * variant + 100))
            let outputScale = Int8Graphs.outputScale(inputScale: c.inputScale, filterScale: meanScale, depth: c.depth)
            graph.outputs.append(
                try graph.addNode(
                    .fullyConnected(activation: activation), inputs: [x] + constants, name: "fc\(variant)",
                    quantization: .perTensor(scale: outputScale, zeroPoint: Int32(variant * 9 - 20))))
            labels.append(Self.describe(perChannel, activation, withBias))
        }
        try expectCompiledInt8MatchesReference(
            graph, options: options, seed: 7, labels: labels, "int8 fc \(c.testDescription)")
    }

    /// Filter granularity, fused activation and whether there is a bias, for each layer of a test graph.
    static let layerVariants: [(perChannel: Bool, activation: Activation?, bias: Bool)] =
        [true, false].flatMap { perChannel in fusedActivations.map { (perChannel, $0, true) } } + [(true, nil, false)]

    static func describe(_ perChannel: Bool, _ activation: Activation?, _ withBias: Bool) -> String {
        "\(perChannel ? "per-channel" : "per-tensor") \(name(activation))\(withBias ? "" : " no bias")"
    }

    // MARK: Convolutions

    struct ConvCase: Sendable, CustomTestStringConvertible {
        var input: Shape
        var channels: Int
        var kernel: (Int, Int)
        var strides: [Int] = [1, 1]
        var dilations: [Int] = [1, 1]
        var padding: Padding
        var explicitPadding: [[Int]]? = nil
        var inputZeroPoint: Int32 = -3
        var testDescription: String {
            "\(input) k\(kernel.0)x\(kernel.1) c\(channels) s\(strides) d\(dilations) \(explicitPadding.map { "\($0)" } ?? padding.rawValue) zp\(inputZeroPoint)"
        }
    }

    static let convolutionCases: [ConvCase] = [
        ConvCase(input: [1, 7, 7, 1], channels: 3, kernel: (3, 3), padding: .same, inputZeroPoint: 20),
        ConvCase(input: [1, 8, 8, 3], channels: 17, kernel: (3, 3), strides: [2, 2], padding: .same, inputZeroPoint: -128),
        ConvCase(input: [1, 9, 7, 5], channels: 16, kernel: (3, 3), dilations: [2, 2], padding: .valid),
        ConvCase(input: [1, 5, 5, 2], channels: 65, kernel: (1, 1), padding: .valid, inputZeroPoint: 0),
        ConvCase(input: [2, 6, 6, 4], channels: 7, kernel: (5, 5), strides: [2, 2], padding: .same, inputZeroPoint: 101),
        ConvCase(input: [1, 10, 4, 7], channels: 63, kernel: (3, 1), strides: [2, 1], padding: .same),
        ConvCase(input: [1, 6, 6, 16], channels: 130, kernel: (2, 2), strides: [2, 2], dilations: [1, 2], padding: .valid),
        ConvCase(input: [1, 5, 6, 17], channels: 1, kernel: (3, 3), dilations: [2, 2], padding: .same, inputZeroPoint: -60),
        ConvCase(input: [1, 49, 10, 1], channels: 64, kernel: (10, 4), strides: [2, 2], padding: .same, inputZeroPoint: 83),
        // VNNI cases where the target has it: first layers with 1–4 channels,
        // whole and partial groups of four channels, row ends shorter than a pixel block, both paddings.
        ConvCase(input: [1, 17, 17, 3], channels: 32, kernel: (3, 3), strides: [2, 2], padding: .same, inputZeroPoint: -128),
        ConvCase(input: [1, 7, 7, 8], channels: 16, kernel: (3, 3), padding: .same, inputZeroPoint: 17),
        ConvCase(input: [1, 3, 63, 1], channels: 48, kernel: (3, 3), padding: .same, inputZeroPoint: 90),
        ConvCase(input: [2, 5, 65, 17], channels: 64, kernel: (3, 3), strides: [2, 2], padding: .valid, inputZeroPoint: -5),
        ConvCase(input: [1, 9, 9, 4], channels: 80, kernel: (3, 3), dilations: [2, 2], padding: .same, inputZeroPoint: 0),
        ConvCase(input: [1, 1, 1, 2], channels: 16, kernel: (3, 3), padding: .same, inputZeroPoint: 33),
        // Windows too wide to stage on the stack (3 rows of 14 columns × 1100 channels): VNNI reads the input in place.
        ConvCase(input: [1, 3, 9, 1100], channels: 16, kernel: (3, 3), padding: .same, inputZeroPoint: -7),
        // Explicit padding, as ONNX states it: symmetric with stride 2 (not TensorFlow's `same`), and lopsided.
        ConvCase(
            input: [1, 16, 16, 4], channels: 8, kernel: (3, 3), strides: [2, 2], padding: .valid,
            explicitPadding: [[1, 1], [1, 1]], inputZeroPoint: -50),
        ConvCase(
            input: [1, 7, 9, 3], channels: 5, kernel: (3, 3), padding: .valid, explicitPadding: [[2, 0], [0, 1]],
            inputZeroPoint: 30),
    ]

    @Test(arguments: convolutionCases)
    func convolution(_ c: ConvCase) throws { try Self.checkConvolution(c) }

    /// Checks one convolution case compiled with `options` (the host by default).
    static func checkConvolution(_ c: ConvCase, options: CompileOptions = .thisMachine) throws {
        var graph = Graph(name: "conv")
        let inputScale: Float = 0.04
        let x = graph.addInput(name: "x", type: Int8Graphs.input(c.input, scale: inputScale, zeroPoint: c.inputZeroPoint))
        let depth = c.kernel.0 * c.kernel.1 * c.input[3]
        var labels: [String] = []
        for (variant, (perChannel, activation, withBias)) in Self.layerVariants.enumerated() {
            let (constants, meanScale) = Int8Graphs.addFilterAndBias(
                to: &graph, filterShape: [c.channels, c.kernel.0, c.kernel.1, c.input[3]], channelAxis: 0,
                perChannel: perChannel, inputScale: inputScale, depth: depth, withBias: withBias,
                seed: UInt64(10 * variant + 200))
            let attributes = Conv2DAttributes(
                strides: c.strides, dilations: c.dilations, padding: c.padding, explicitPadding: c.explicitPadding,
                activation: activation)
            graph.outputs.append(
                try graph.addNode(
                    .conv2D(attributes), inputs: [x] + constants, name: "conv\(variant)",
                    quantization: .perTensor(
                        scale: Int8Graphs.outputScale(inputScale: inputScale, filterScale: meanScale, depth: depth),
                        zeroPoint: Int32(15 - variant * 7))))
            labels.append(Self.describe(perChannel, activation, withBias))
        }
        try expectCompiledInt8MatchesReference(
            graph, options: options, seed: 11, labels: labels, "int8 conv \(c.testDescription)")
    }

    struct DepthwiseCase: Sendable, CustomTestStringConvertible {
        var input: Shape
        var multiplier: Int
        var kernel: (Int, Int)
        var strides: [Int] = [1, 1]
        var dilations: [Int] = [1, 1]
        var padding: Padding
        var explicitPadding: [[Int]]? = nil
        var inputZeroPoint: Int32 = 5
        var testDescription: String {
            "\(input) ×\(multiplier) k\(kernel.0)x\(kernel.1) s\(strides) d\(dilations) \(explicitPadding.map { "\($0)" } ?? padding.rawValue) zp\(inputZeroPoint)"
        }
    }

    static let depthwiseCases: [DepthwiseCase] = [
        DepthwiseCase(input: [1, 5, 5, 1], multiplier: 1, kernel: (3, 3), padding: .same, inputZeroPoint: 0),
        DepthwiseCase(input: [1, 8, 8, 3], multiplier: 2, kernel: (3, 3), strides: [2, 2], padding: .same, inputZeroPoint: -128),
        DepthwiseCase(input: [1, 9, 8, 7], multiplier: 1, kernel: (3, 3), dilations: [2, 2], padding: .valid),
        DepthwiseCase(input: [2, 6, 6, 16], multiplier: 2, kernel: (3, 3), padding: .same, inputZeroPoint: 60),
        DepthwiseCase(input: [1, 7, 7, 17], multiplier: 1, kernel: (5, 5), strides: [2, 2], padding: .same),
        DepthwiseCase(input: [1, 9, 5, 63], multiplier: 1, kernel: (3, 3), strides: [2, 1], padding: .valid),
        DepthwiseCase(
            input: [1, 10, 10, 12], multiplier: 1, kernel: (3, 3), strides: [2, 2], padding: .valid,
            explicitPadding: [[1, 1], [1, 1]], inputZeroPoint: -40),
        DepthwiseCase(input: [1, 6, 7, 65], multiplier: 2, kernel: (3, 3), dilations: [2, 2], padding: .same, inputZeroPoint: -9),
        DepthwiseCase(input: [1, 25, 5, 64], multiplier: 1, kernel: (3, 3), padding: .same, inputZeroPoint: -128),
        DepthwiseCase(input: [1, 4, 4, 130], multiplier: 1, kernel: (2, 2), padding: .valid, inputZeroPoint: 0),
        // Interior pixel blocks with rows ending mid-block, a 5×5 window, border-only layers.
        DepthwiseCase(input: [1, 17, 17, 32], multiplier: 1, kernel: (3, 3), padding: .same, inputZeroPoint: -128),
        DepthwiseCase(input: [1, 9, 65, 24], multiplier: 1, kernel: (3, 3), strides: [2, 2], padding: .same, inputZeroPoint: 7),
        DepthwiseCase(input: [1, 7, 63, 8], multiplier: 1, kernel: (5, 5), padding: .same, inputZeroPoint: 127),
        DepthwiseCase(input: [1, 1, 1, 17], multiplier: 1, kernel: (3, 3), padding: .same, inputZeroPoint: -20),
        // Fewer channels than a vector, stride 1 along rows: pixels merged into vectors, staged
        // rows, narrower tails, padding on one side only.
        DepthwiseCase(input: [1, 6, 20, 4], multiplier: 1, kernel: (3, 3), padding: .same, inputZeroPoint: -3),
        DepthwiseCase(input: [2, 5, 9, 16], multiplier: 1, kernel: (3, 3), dilations: [1, 2], padding: .valid),
        DepthwiseCase(input: [1, 9, 40, 2], multiplier: 1, kernel: (3, 3), strides: [2, 1], padding: .same, inputZeroPoint: 100),
        DepthwiseCase(
            input: [1, 6, 18, 8], multiplier: 1, kernel: (3, 3), padding: .valid, explicitPadding: [[0, 2], [2, 0]],
            inputZeroPoint: -128),
        DepthwiseCase(input: [1, 8, 70, 1], multiplier: 1, kernel: (5, 5), padding: .same, inputZeroPoint: 127),
    ]

    @Test(arguments: depthwiseCases)
    func depthwiseConvolution(_ c: DepthwiseCase) throws { try Self.checkDepthwise(c) }

    /// Checks one depthwise case compiled with `options` (the host by default).
    static func checkDepthwise(_ c: DepthwiseCase, options: CompileOptions = .thisMachine) throws {
        var graph = Graph(name: "depthwise")
        let inputScale: Float = 0.07
        let x = graph.addInput(name: "x", type: Int8Graphs.input(c.input, scale: inputScale, zeroPoint: c.inputZeroPoint))
        let depth = c.kernel.0 * c.kernel.1
        var labels: [String] = []
        for (variant, (perChannel, activation, withBias)) in Self.layerVariants.enumerated() {
            let (constants, meanScale) = Int8Graphs.addFilterAndBias(
                to: &graph, filterShape: [1, c.kernel.0, c.kernel.1, c.input[3] * c.multiplier], channelAxis: 3,
                perChannel: perChannel, inputScale: inputScale, depth: depth, withBias: withBias,
                seed: UInt64(10 * variant + 300))
            let attributes = Conv2DAttributes(
                strides: c.strides, dilations: c.dilations, padding: c.padding, explicitPadding: c.explicitPadding,
                activation: activation)
            graph.outputs.append(
                try graph.addNode(
                    .depthwiseConv2D(attributes), inputs: [x] + constants, name: "depthwise\(variant)",
                    quantization: .perTensor(
                        scale: Int8Graphs.outputScale(inputScale: inputScale, filterScale: meanScale, depth: depth),
                        zeroPoint: Int32(variant * 11 - 30))))
            labels.append(Self.describe(perChannel, activation, withBias))
        }
        try expectCompiledInt8MatchesReference(
            graph, options: options, seed: 13, labels: labels, "int8 depthwise \(c.testDescription)")
    }

    // MARK: Pooling

    struct PoolCase: Sendable, CustomTestStringConvertible {
        var input: Shape
        var window: (Int, Int)
        var strides: (Int, Int)
        var padding: Padding
        var testDescription: String { "\(input) w\(window.0)x\(window.1) s\(strides.0)x\(strides.1) \(padding)" }
    }

    static let poolingCases: [PoolCase] = [
        PoolCase(input: [1, 8, 8, 1], window: (2, 2), strides: (2, 2), padding: .valid),
        PoolCase(input: [1, 7, 7, 3], window: (3, 3), strides: (2, 2), padding: .same),
        PoolCase(input: [1, 5, 6, 17], window: (2, 2), strides: (1, 1), padding: .same),
        PoolCase(input: [2, 4, 4, 7], window: (3, 3), strides: (3, 3), padding: .same),
        PoolCase(input: [1, 9, 9, 65], window: (3, 2), strides: (2, 1), padding: .valid),
        PoolCase(input: [1, 6, 5, 16], window: (4, 4), strides: (1, 2), padding: .same),
        PoolCase(input: [1, 3, 4, 130], window: (3, 4), strides: (1, 1), padding: .valid),
        PoolCase(input: [1, 25, 5, 64], window: (25, 5), strides: (1, 1), padding: .valid),
        PoolCase(input: [1, 5, 5, 63], window: (5, 5), strides: (2, 2), padding: .same),
    ]

    /// Max and average pooling, with the output sharing the input's parameters (as TFLite writes them) and not.
    @Test(arguments: poolingCases)
    func pooling(_ c: PoolCase) throws {
        var graph = Graph(name: "pool")
        let input = QuantizationParameters.perTensor(scale: 0.05, zeroPoint: -4)
        let x = graph.addInput(name: "x", type: TensorType(.int8, c.input, quantization: input))
        let attributes = Pool2DAttributes(
            window: [c.window.0, c.window.1], strides: [c.strides.0, c.strides.1], padding: c.padding)
        let other = QuantizationParameters.perTensor(scale: 0.07, zeroPoint: -20)
        var labels: [String] = []
        for op in [Op.maxPool2D(attributes), .averagePool2D(attributes)] {
            for (label, output) in [("same parameters", input), ("other parameters", other)] {
                graph.outputs.append(
                    try graph.addNode(op, inputs: [x], name: "\(op.kindName)\(labels.count)", quantization: output))
                labels.append("\(op.kindName) \(label)")
            }
        }
        try expectCompiledInt8MatchesReference(graph, seed: 17, labels: labels, "int8 pool \(c.testDescription)")
    }

    // MARK: Element-wise

    static let elementCounts = [1, 3, 7, 16, 17, 63, 65, 130, 1000]

    /// Output parameters for each lookup-table activation, as TFLite's converter picks them.
    static let activationOutputs: [(Activation, QuantizationParameters)] = [
        (.relu, .perTensor(scale: 0.05, zeroPoint: -128)),
        (.relu6, .perTensor(scale: 6.0 / 255, zeroPoint: -128)),
        (.sigmoid, .perTensor(scale: 1.0 / 256, zeroPoint: -128)),
        (.tanh, .perTensor(scale: 1.0 / 128, zeroPoint: 0)),
        (.gelu, .perTensor(scale: 0.045, zeroPoint: -100)),
        (.hardSwish, .perTensor(scale: 0.04, zeroPoint: -119)),
        (.elu, .perTensor(scale: 0.03, zeroPoint: -90)),
        (.reluMinus1To1, .perTensor(scale: 2.0 / 255, zeroPoint: 0)),
        (.relu0To1, .perTensor(scale: 1.0 / 255, zeroPoint: -128)),
        (.exp, .perTensor(scale: 0.5, zeroPoint: -128)),
        (.log, .perTensor(scale: 0.04, zeroPoint: 60)),
        (.sqrt, .perTensor(scale: 0.02, zeroPoint: -128)),
        (.rsqrt, .perTensor(scale: 0.25, zeroPoint: -128)),
        (.abs, .perTensor(scale: 0.05, zeroPoint: -128)),
        (.negate, .perTensor(scale: 0.05, zeroPoint: 3)),
        (.erf, .perTensor(scale: 1.0 / 128, zeroPoint: 0)),
    ]

    /// Every element-wise function has an int8 case above.
    @Test func everyActivationHasAnInt8Case() {
        #expect(Set(Self.activationOutputs.map(\.0)) == Set(Activation.allCases))
    }

    /// Every activation on every element count; one input per count, all in one
    /// graph, plus one input holding each of the 256 int8 values, so every table entry is checked.
    @Test(arguments: [
        KilnIR.QuantizationParameters.perTensor(scale: 0.05, zeroPoint: -3), .perTensor(scale: 0.1, zeroPoint: 40),
        .perTensor(scale: 0.0235, zeroPoint: -128),
    ])
    func activationLookupTables(_ input: KilnIR.QuantizationParameters) throws {
        var graph = Graph(name: "activations")
        var labels: [String] = []
        for count in Self.elementCounts + [256] {
            let x = graph.addInput(name: "x\(count)", type: TensorType(.int8, [count], quantization: input))
            for (function, output) in Self.activationOutputs {
                graph.outputs.append(
                    try graph.addNode(.activation(function), inputs: [x], name: "\(function)\(count)", quantization: output))
                labels.append("\(function) ×\(count)")
            }
            // The same function with the input's own parameters, as a standalone RELU keeps them.
            graph.outputs.append(
                try graph.addNode(.activation(.relu), inputs: [x], name: "relu_same\(count)", quantization: input))
            labels.append("relu ×\(count), input parameters")
        }
        var inputs = randomInputs(graph, seed: 19)
        inputs[inputs.count - 1] = TensorData(int8: (-128...127).map { Int8($0) }, shape: [256])
        // Clamping functions saturate most random inputs at some scales; the spread that
        // matters is each full table's, checked below.
        let expected = try expectCompiledInt8MatchesReference(
            graph, inputs: inputs, expectSpread: false, labels: labels,
            "int8 activations x(\(input.scales[0]), \(input.zeroPoints[0]))")
        for (label, table) in zip(labels, expected) where label.hasSuffix("×256") {
            #expect(Set(table.int8s()).count > 2, "\(label) at x(\(input.scales[0]), \(input.zeroPoints[0])) is degenerate")
        }
    }

    static let softmaxShapes: [Shape] = [[1, 1], [1, 3], [3, 17], [2, 65], [1, 12], [4, 130], [1, 1000], [2, 3, 7]]

    /// Softmax with TFLite's required output parameters (scale 1/256, zero point -128) at several input scales.
    @Test(arguments: [Float(0.02), 0.0625, 0.1, 0.35])
    func softmax(inputScale: Float) throws {
        var graph = Graph(name: "softmax")
        var labels: [String] = []
        for shape in Self.softmaxShapes {
            let input = QuantizationParameters.perTensor(scale: inputScale, zeroPoint: 9)
            let x = graph.addInput(name: "x\(labels.count)", type: TensorType(.int8, shape, quantization: input))
            graph.outputs.append(
                try graph.addNode(
                    .softmax, inputs: [x], name: "softmax\(labels.count)",
                    quantization: .perTensor(scale: 1.0 / 256, zeroPoint: -128)))
            labels.append("softmax \(shape)")
        }
        let expected = try expectCompiledInt8MatchesReference(
            graph, seed: 23, expectSpread: false, labels: labels, "int8 softmax x scale \(inputScale)")
        // At coarse input scales a row is one-hot (127 and -128s), so instead of the
        // helper's spread check: rows of 65 must not all land on two values.
        #expect(Set(expected[3].int8s()).count > 2, "softmax [2, 65] at input scale \(inputScale) is degenerate")
    }

    static let broadcastCases: [(a: Shape, b: Shape)] = [
        ([2, 3, 17], [17]), ([4, 1], [1, 5]), ([1, 8, 8, 3], [1, 1, 1, 3]), ([65], [65]), ([3, 7], [1]),
        ([2, 1, 9], [2, 3, 1]), ([130], [1]), ([1, 5, 5, 64], [1, 5, 5, 64]), ([1], [63]),
    ]

    /// Add and multiply with every fused activation, operands with different parameters, broadcasting both ways.
    @Test(arguments: broadcastCases)
    func binaryBroadcast(a: Shape, b: Shape) throws {
        var graph = Graph(name: "binary")
        let x = graph.addInput(name: "a", type: TensorType(.int8, a, quantization: .perTensor(scale: 0.05, zeroPoint: -5)))
        let y = graph.addInput(name: "b", type: TensorType(.int8, b, quantization: .perTensor(scale: 0.08, zeroPoint: 12)))
        var labels: [String] = []
        let outputs: [(Op, QuantizationParameters)] = Self.fusedActivations.flatMap { activation in
            [
                (Op.add(activation: activation), QuantizationParameters.perTensor(scale: 0.09, zeroPoint: 3)),
                (Op.multiply(activation: activation), QuantizationParameters.perTensor(scale: 0.2, zeroPoint: -10)),
                (Op.subtract(activation: activation), QuantizationParameters.perTensor(scale: 0.1, zeroPoint: 7)),
            ]
        }
        for (op, output) in outputs {
            graph.outputs.append(try graph.addNode(op, inputs: [x, y], name: "op\(labels.count)", quantization: output))
            labels.append("\(op.kindName) \(Self.name(op.fusedActivation))")
        }
        for function in BinaryFunction.allCases {
            let op = Op.binary(function, activation: function == .divide ? .relu : nil)
            // PReLU's slopes scale only negative data: the larger operand is the data, so results vary.
            let operands = function == .prelu && a.elementCount < b.elementCount ? [y, x] : [x, y]
            graph.outputs.append(
                try graph.addNode(op, inputs: operands, name: "op\(labels.count)", quantization: .perTensor(scale: 0.15, zeroPoint: -20)))
            labels.append(function.rawValue)
        }
        // Both operands sharing the output's parameters, the common case after TFLite's converter.
        let shared = QuantizationParameters.perTensor(scale: 0.05, zeroPoint: -5)
        graph.outputs.append(try graph.addNode(.add(activation: nil), inputs: [x, x], name: "double", quantization: shared))
        labels.append("add x + x with shared parameters")
        try expectCompiledInt8MatchesReference(graph, seed: 29, labels: labels, "int8 binary \(a) \(b)")
    }

    // MARK: Layout

    /// int8 slices copy the block, and requantize it when the result has its own parameters.
    @Test(arguments: KernelTests.sliceCases)
    func slice(input: Shape, begin: [Int], size: [Int]) throws {
        var graph = Graph(name: "slice")
        let x = graph.addInput(name: "x", type: TensorType(.int8, input, quantization: .perTensor(scale: 0.05, zeroPoint: -5)))
        let op = Op.slice(begin: begin, size: size)
        graph.outputs = [
            try graph.addNode(op, inputs: [x], name: "same", quantization: .perTensor(scale: 0.05, zeroPoint: -5)),
            try graph.addNode(op, inputs: [x], name: "requantized", quantization: .perTensor(scale: 0.07, zeroPoint: 9)),
        ]
        try expectCompiledInt8MatchesReference(
            graph, seed: 37, expectSpread: false, labels: ["same parameters", "requantized"],
            "int8 slice \(input) from \(begin) size \(size)")
    }

    /// int8 transposes move bytes, and requantize when the result has its own parameters.
    @Test(arguments: KernelTests.transposeCases)
    func transpose(input: Shape, permutation: [Int]) throws {
        var graph = Graph(name: "transpose")
        let x = graph.addInput(name: "x", type: TensorType(.int8, input, quantization: .perTensor(scale: 0.05, zeroPoint: -5)))
        let op = Op.transpose(permutation: permutation)
        graph.outputs = [
            try graph.addNode(op, inputs: [x], name: "same", quantization: .perTensor(scale: 0.05, zeroPoint: -5)),
            try graph.addNode(op, inputs: [x], name: "requantized", quantization: .perTensor(scale: 0.07, zeroPoint: 9)),
        ]
        try expectCompiledInt8MatchesReference(
            graph, seed: 41, expectSpread: false, labels: ["same parameters", "requantized"],
            "int8 transpose \(input) by \(permutation)")
    }

    /// int8 batch products of two activations (both with zero points), every adjoint combination.
    @Test(arguments: KernelTests.batchMatMulCases)
    func batchMatMul(a: Shape, b: Shape, adjointA: Bool, adjointB: Bool) throws {
        try Self.checkBatchMatMul(a: a, b: b, adjointA: adjointA, adjointB: adjointB)
    }

    /// One int8 batch matrix product compiled with `options`, bit for bit against the reference.
    static func checkBatchMatMul(a: Shape, b: Shape, adjointA: Bool, adjointB: Bool, options: CompileOptions = .thisMachine) throws {
        var graph = Graph(name: "batch_matmul")
        let x = graph.addInput(name: "a", type: TensorType(.int8, a, quantization: .perTensor(scale: 0.05, zeroPoint: -5)))
        let y = graph.addInput(name: "b", type: TensorType(.int8, b, quantization: .perTensor(scale: 0.04, zeroPoint: 7)))
        let depth = adjointA ? a[a.rank - 2] : a[a.rank - 1]
        let scale = Int8Graphs.outputScale(inputScale: 0.05, filterScale: 0.04 * 4, depth: depth)
        graph.outputs = [
            try graph.addNode(
                .batchMatMul(adjointA: adjointA, adjointB: adjointB), inputs: [x, y], name: "product",
                quantization: .perTensor(scale: scale, zeroPoint: 2))
        ]
        try expectCompiledInt8MatchesReference(
            graph, options: options, seed: 43, "int8 batch matmul \(a) · \(b) adjoint \(adjointA) \(adjointB)")
    }

    struct ConcatenationCase: Sendable, CustomTestStringConvertible {
        var shapes: [Shape]
        var axis: Int
        var testDescription: String { "\(shapes) axis \(axis)" }
    }

    static let concatenationCases: [ConcatenationCase] = [
        ConcatenationCase(shapes: [[1, 4, 4, 3], [1, 4, 4, 17]], axis: -1),
        ConcatenationCase(shapes: [[1, 2, 2, 1], [1, 2, 2, 1], [1, 2, 2, 63]], axis: -1),
        ConcatenationCase(shapes: [[2, 3, 5], [2, 7, 5], [2, 1, 5]], axis: 1),
        ConcatenationCase(shapes: [[1, 3, 3, 16], [1, 2, 3, 16]], axis: 1),
        ConcatenationCase(shapes: [[65], [65]], axis: -1),
        ConcatenationCase(shapes: [[2, 130], [2, 7]], axis: 1),
    ]

    /// Operands with the output's parameters (a plain copy) and with their own (requantized), with and without ReLU.
    @Test(arguments: concatenationCases)
    func concatenation(_ c: ConcatenationCase) throws {
        var graph = Graph(name: "concat")
        let output = QuantizationParameters.perTensor(scale: 0.06, zeroPoint: -2)
        let shared = c.shapes.enumerated().map { index, shape in
            graph.addInput(name: "s\(index)", type: TensorType(.int8, shape, quantization: output))
        }
        let own = c.shapes.enumerated().map { index, shape in
            graph.addInput(
                name: "o\(index)",
                type: TensorType(
                    .int8, shape,
                    quantization: .perTensor(scale: 0.03 + 0.025 * Float(index), zeroPoint: Int32(index * 30 - 40))))
        }
        var labels: [String] = []
        for (operands, kind) in [(shared, "equal parameters"), (own, "different parameters")] {
            for activation in [nil, Activation.relu] {
                graph.outputs.append(
                    try graph.addNode(
                        .concatenation(axis: c.axis, activation: activation), inputs: operands, name: "concat\(labels.count)",
                        quantization: output))
                labels.append("\(kind) \(Self.name(activation))")
            }
        }
        try expectCompiledInt8MatchesReference(graph, seed: 31, labels: labels, "int8 concatenation \(c.testDescription)")
    }

    static let padCases: [(input: Shape, paddings: [[Int]])] = [
        ([1, 5, 5, 3], [[0, 0], [1, 1], [2, 0], [0, 0]]),
        ([1, 4, 4, 17], [[0, 0], [0, 1], [3, 2], [0, 0]]),
        ([2, 7], [[1, 0], [0, 3]]),
        ([1, 2, 2, 3], [[0, 0], [0, 0], [0, 0], [1, 62]]),
        ([65], [[0, 65]]),
        ([1, 3, 3, 130], [[0, 0], [1, 1], [1, 1], [0, 0]]),
    ]

    /// Pad fills with the zero point; the output keeps the input's parameters, as TFLite requires.
    @Test(arguments: padCases)
    func pad(input: Shape, paddings: [[Int]]) throws {
        var graph = Graph(name: "pad")
        let parameters = QuantizationParameters.perTensor(scale: 0.05, zeroPoint: 33)
        let x = graph.addInput(name: "x", type: TensorType(.int8, input, quantization: parameters))
        graph.outputs = [
            try graph.addNode(.pad(paddings: paddings), inputs: [x], name: "pad", quantization: parameters),
            try graph.addNode(
                .pad(paddings: paddings), inputs: [x], name: "pad_other", quantization: .perTensor(scale: 0.07, zeroPoint: -5)),
        ]
        try expectCompiledInt8MatchesReference(
            graph, seed: 37, labels: ["input parameters", "other parameters"], "int8 pad \(input) \(paddings)")
    }

    static let meanCases: [(input: Shape, axes: [Int], keep: Bool)] = [
        ([1, 5, 5, 17], [1, 2], true), ([2, 3, 65], [-1], false), ([1, 7, 7, 130], [1, 2], true),
        ([1, 25, 5, 64], [1, 2], true), ([3, 1], [-1], false), ([4, 16], [-1], false), ([1, 2, 3, 1], [1, 2], true),
    ]

    /// Mean with the input's parameters and with the output's own.
    @Test(arguments: meanCases)
    func mean(input: Shape, axes: [Int], keep: Bool) throws {
        var graph = Graph(name: "mean")
        let parameters = QuantizationParameters.perTensor(scale: 0.05, zeroPoint: -20)
        let x = graph.addInput(name: "x", type: TensorType(.int8, input, quantization: parameters))
        let op = Op.mean(axes: axes, keepDimensions: keep)
        graph.outputs = [
            try graph.addNode(op, inputs: [x], name: "mean", quantization: parameters),
            // Averages of many uniform values cluster near the middle: a finer output scale spreads them.
            try graph.addNode(op, inputs: [x], name: "mean_fine", quantization: .perTensor(scale: 0.0125, zeroPoint: 7)),
        ]
        try expectCompiledInt8MatchesReference(
            graph, seed: 41, labels: ["input parameters", "own parameters"], "int8 mean \(input) axes \(axes) keep \(keep)")
    }

    /// Reshape of int8 copies values through, or requantizes when the result has other parameters.
    @Test func reshape() throws {
        var graph = Graph(name: "reshape")
        let parameters = QuantizationParameters.perTensor(scale: 0.05, zeroPoint: 3)
        let x = graph.addInput(name: "x", type: TensorType(.int8, [1, 5, 3, 7], quantization: parameters))
        let y = graph.addInput(name: "y", type: TensorType(.int8, [1, 1, 1, 130], quantization: parameters))
        graph.outputs = [
            try graph.addNode(.reshape([3, 35]), inputs: [x], name: "same", quantization: parameters),
            try graph.addNode(.reshape([105]), inputs: [x], name: "other", quantization: .perTensor(scale: 0.07, zeroPoint: -9)),
            try graph.addNode(.reshape([1, 130]), inputs: [y], name: "flatten"),
        ]
        try expectCompiledInt8MatchesReference(graph, seed: 43, labels: ["same", "requantized", "flatten"], "int8 reshape")
    }

    // MARK: Conversions

    /// float32 → int8 over remainders, with a scale that saturates some elements.
    @Test func quantizeFromFloat() throws {
        var graph = Graph(name: "quantize")
        var labels: [String] = []
        for count in Self.elementCounts {
            let x = graph.addInput(name: "x\(count)", type: TensorType(.float32, [count]))
            for (scale, zeroPoint) in [(Float(0.01), Int32(0)), (0.0055, 30), (1.0 / 64, -128)] {
                graph.outputs.append(
                    try graph.addNode(
                        .quantize(to: .int8), inputs: [x], name: "q\(labels.count)",
                        quantization: .perTensor(scale: scale, zeroPoint: zeroPoint)))
                labels.append("×\(count) scale \(scale) zp \(zeroPoint)")
            }
        }
        let inputs = randomInputs(graph, seed: 47, floatRange: -1.2...1.2)
        try expectCompiledInt8MatchesReference(graph, inputs: inputs, labels: labels, "quantize f32→i8")
    }

    /// Division by a scale that is not a power of two (done with a reciprocal and an
    /// FMA correction where the target has FMA) rounds exactly like the reference's
    /// division at every half-step boundary, one ulp either side, on each x86 level.
    @Test(arguments: X86Level.allCases.filter(\.isSupported))
    func quantizeAtHalfStepsWithAnyScale(_ level: X86Level) throws {
        var graph = Graph(name: "quantize_boundaries")
        let scales: [Float] = [0.0055, 0.1, 0.017_3, 3.7]
        var values: [Float] = [.infinity, -.infinity, .nan, 1e30, -1e30, .leastNormalMagnitude]
        for scale in scales {
            for k in -140...140 {
                let boundary = (Float(k) + 0.5) * scale
                values += [boundary.nextDown, boundary, boundary.nextUp]
            }
        }
        let x = graph.addInput(name: "x", type: TensorType(.float32, [values.count]))
        graph.outputs = try scales.enumerated().map { index, scale in
            try graph.addNode(
                .quantize(to: .int8), inputs: [x], name: "q\(index)", quantization: .perTensor(scale: scale, zeroPoint: 3))
        }
        try expectCompiledInt8MatchesReference(
            graph, options: level.options, inputs: [TensorData(values, shape: [values.count])], expectSpread: false,
            "quantize at half steps, \(level.rawValue)")
    }

    /// Exact halves round to even; NaN, infinities and huge values clamp like the reference.
    @Test func quantizeRoundsHalfToEvenAndClamps() throws {
        var graph = Graph(name: "quantize_edges")
        // With scale 1/4 every k/8 is exactly k/2 steps: a tie for every odd k.
        var values = (-1100...1100).map { Float($0) / 8 }
        values += [.nan, -.nan, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1e10, -1e10, 0, -0.0]
        values += [31.875, 31.9, -32.125, -32.1, .leastNonzeroMagnitude, -.leastNormalMagnitude]
        let x = graph.addInput(name: "x", type: TensorType(.float32, [values.count]))
        graph.outputs = try [(Float(0.25), Int32(0)), (0.25, -3), (0.5, 127)].enumerated().map { index, parameters in
            try graph.addNode(
                .quantize(to: .int8), inputs: [x], name: "q\(index)",
                quantization: .perTensor(scale: parameters.0, zeroPoint: parameters.1))
        }
        let expected = try expectCompiledInt8MatchesReference(
            graph, inputs: [TensorData(values, shape: [values.count])], labels: ["zp 0", "zp -3", "scale 0.5 zp 127"],
            "quantize ties and specials")
        // The oracle itself: 0.5 → 0, 1.5 → 2, 2.5 → 2, -0.5 → 0, -1.5 → -2 steps; NaN → the zero point.
        let q0 = expected[0].int8s()
        func at(_ value: Float) -> Int8 { q0[values.firstIndex(of: value)!] }
        #expect([at(0.125), at(0.375), at(0.625), at(-0.125), at(-0.375)] == [0, 2, 2, 0, -2])
        #expect(q0[values.firstIndex { $0.isNaN }!] == 0)
        #expect(at(.infinity) == 127 && at(-.infinity) == -128)
    }

    /// int8 → int8 requantization between several parameter pairs.
    @Test func requantize() throws {
        let pairs: [(QuantizationParameters, QuantizationParameters)] = [
            (.perTensor(scale: 0.05, zeroPoint: 0), .perTensor(scale: 0.1, zeroPoint: 0)),
            (.perTensor(scale: 0.05, zeroPoint: -3), .perTensor(scale: 0.033, zeroPoint: 20)),
            (.perTensor(scale: 0.1, zeroPoint: 100), .perTensor(scale: 0.3, zeroPoint: 60)),
            (.perTensor(scale: 0.02, zeroPoint: -128), .perTensor(scale: 0.02, zeroPoint: -100)),
            (.perTensor(scale: 0.0390625, zeroPoint: 1), .perTensor(scale: 0.078125, zeroPoint: 0)),
        ]
        var graph = Graph(name: "requantize")
        var labels: [String] = []
        for count in [7, 65, 256] {
            for (input, output) in pairs {
                let x = graph.addInput(name: "x\(labels.count)", type: TensorType(.int8, [count], quantization: input))
                graph.outputs.append(
                    try graph.addNode(.quantize(to: .int8), inputs: [x], name: "r\(labels.count)", quantization: output))
                labels.append(
                    "×\(count) (\(input.scales[0]), \(input.zeroPoints[0])) → (\(output.scales[0]), \(output.zeroPoints[0]))")
            }
        }
        try expectCompiledInt8MatchesReference(graph, seed: 53, labels: labels, "requantize i8→i8")
    }

    /// int8 → float32 is `scale · (q - zeroPoint)` to the bit.
    @Test func dequantize() throws {
        var graph = Graph(name: "dequantize")
        var labels: [String] = []
        for count in Self.elementCounts {
            for (scale, zeroPoint) in [(Float(0.05), Int32(-3)), (0.0039215686, -128), (0.3910152316093445, 89)] {
                let parameters = QuantizationParameters.perTensor(scale: scale, zeroPoint: zeroPoint)
                let x = graph.addInput(name: "x\(labels.count)", type: TensorType(.int8, [count], quantization: parameters))
                graph.outputs.append(try graph.addNode(.dequantize, inputs: [x], name: "d\(labels.count)"))
                labels.append("×\(count) scale \(scale) zp \(zeroPoint)")
            }
        }
        try expectCompiledInt8MatchesReference(graph, seed: 59, labels: labels, "dequantize i8→f32")
    }

    /// A small int8 network end to end: quantize, conv, depthwise, pool, fc, softmax, dequantize.
    @Test func smallNetworkMatchesReference() throws {
        var graph = Graph(name: "net")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 12, 10, 1]))
        let q = try graph.addNode(
            .quantize(to: .int8), inputs: [x], name: "q", quantization: .perTensor(scale: 0.01, zeroPoint: 2))
        let (convConstants, convScale) = Int8Graphs.addFilterAndBias(
            to: &graph, filterShape: [16, 3, 3, 1], channelAxis: 0, perChannel: true, inputScale: 0.01, depth: 9, seed: 400)
        let convOutputScale = Int8Graphs.outputScale(inputScale: 0.01, filterScale: convScale, depth: 9)
        let conv = try graph.addNode(
            .conv2D(Conv2DAttributes(strides: [2, 2], padding: .same, activation: .relu)), inputs: [q] + convConstants,
            name: "conv", quantization: .perTensor(scale: convOutputScale, zeroPoint: -128))
        let (depthwiseConstants, depthwiseScale) = Int8Graphs.addFilterAndBias(
            to: &graph, filterShape: [1, 3, 3, 16], channelAxis: 3, perChannel: true, inputScale: convOutputScale, depth: 9,
            seed: 410)
        let depthwiseOutputScale = Int8Graphs.outputScale(inputScale: convOutputScale, filterScale: depthwiseScale, depth: 9)
        let depthwise = try graph.addNode(
            .depthwiseConv2D(Conv2DAttributes(padding: .same, activation: .relu6)), inputs: [conv] + depthwiseConstants,
            name: "depthwise", quantization: .perTensor(scale: depthwiseOutputScale, zeroPoint: -128))
        let pool = try graph.addNode(
            .averagePool2D(Pool2DAttributes(window: [6, 5], strides: [1, 1])), inputs: [depthwise], name: "pool",
            quantization: .perTensor(scale: depthwiseOutputScale, zeroPoint: -128))
        let flat = try graph.addNode(.reshape([1, 16]), inputs: [pool], name: "flatten")
        let (fcConstants, fcScale) = Int8Graphs.addFilterAndBias(
            to: &graph, filterShape: [12, 16], channelAxis: 0, perChannel: false, inputScale: depthwiseOutputScale, depth: 16,
            seed: 420)
        let logits = try graph.addNode(
            .fullyConnected(activation: nil), inputs: [flat] + fcConstants, name: "fc",
            quantization: .perTensor(
                scale: Int8Graphs.outputScale(inputScale: depthwiseOutputScale, filterScale: fcScale, depth: 16), zeroPoint: 4))
        let probabilities = try graph.addNode(
            .softmax, inputs: [logits], name: "softmax", quantization: .perTensor(scale: 1.0 / 256, zeroPoint: -128))
        graph.outputs = [probabilities, try graph.addNode(.dequantize, inputs: [probabilities], name: "dequantize")]
        try expectCompiledInt8MatchesReference(
            graph, seed: 61, runs: 4, labels: ["int8", "float"], "small int8 network")
    }
}
