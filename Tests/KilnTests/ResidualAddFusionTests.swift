import Kiln
import KilnIR
import Testing

/// A residual add fused into the layer before it (``Graph/residualAdds()``)
/// gives exactly what the separate add gives: float within rounding, int8
/// bit-exact, for every layer kind whose epilogue takes it.
@Suite struct ResidualAddFusionTests {
    /// The layer that produces the add's fused operand.
    enum Layer: String, Sendable, CaseIterable {
        case convolution, pointwise, depthwise, fullyConnected

        /// The input (and result) shape, the filter shape and its channel axis.
        var shapes: (input: Shape, filter: Shape, channelAxis: Int) {
            switch self {
            case .convolution: ([1, 7, 9, 16], [16, 3, 3, 16], 0)
            case .pointwise: ([1, 5, 6, 32], [32, 1, 1, 32], 0)
            case .depthwise: ([1, 6, 7, 32], [1, 3, 3, 32], 3)
            case .fullyConnected: ([3, 40], [40, 40], 0)
            }
        }

        func op(activation: Activation?) -> Op {
            switch self {
            case .convolution: .conv2D(Conv2DAttributes(padding: .same, activation: activation))
            case .pointwise: .conv2D(Conv2DAttributes(padding: .valid, activation: activation))
            case .depthwise: .depthwiseConv2D(Conv2DAttributes(padding: .same, activation: activation))
            case .fullyConnected: .fullyConnected(activation: activation)
            }
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var layer: Layer
        var int8: Bool
        /// The residual is the model's input (the caller's buffer), not an arena tensor.
        var residualIsInput = false
        /// The add's operands in the order `add(x, layer)`.
        var residualFirst = false
        var addActivation: Activation? = .relu
        var testDescription: String {
            "\(int8 ? "int8" : "float") \(layer.rawValue)\(residualIsInput ? " input residual" : "")\(residualFirst ? " residual first" : "") \(addActivation?.rawValue ?? "linear")"
        }
    }

    static let cases: [Case] =
        Layer.allCases.flatMap { [Case(layer: $0, int8: true), Case(layer: $0, int8: false)] } + [
            Case(layer: .convolution, int8: true, residualIsInput: true, residualFirst: true, addActivation: nil),
            Case(layer: .depthwise, int8: false, residualIsInput: true, residualFirst: true, addActivation: .relu6),
        ]

    @Test(arguments: cases)
    func fusedAddMatchesReference(_ c: Case) throws { try Self.check(c) }

    /// `x → relu → layer → add(layer, relu)` (or the residual straight from `x`), compiled with `options`.
    static func check(_ c: Case, options: CompileOptions = .thisMachine) throws {
        var graph = Graph(name: "residual")
        let (shape, filterShape, channelAxis) = c.layer.shapes
        let depth = filterShape.elementCount / filterShape[channelAxis]
        let inputScale: Float = 0.04
        let activation = QuantizationParameters.perTensor(scale: inputScale, zeroPoint: 5)
        let x = graph.addInput(
            name: "x", type: c.int8 ? Int8Graphs.input(shape, scale: inputScale, zeroPoint: 5) : TensorType(.float32, shape))
        let source = try graph.addNode(
            .activation(.relu), inputs: [x], name: "source", quantization: c.int8 ? activation : nil)
        let constants: [ValueID]
        var layerQuantization: QuantizationParameters?
        if c.int8 {
            let (values, meanScale) = Int8Graphs.addFilterAndBias(
                to: &graph, filterShape: filterShape, channelAxis: channelAxis, perChannel: true, inputScale: inputScale,
                depth: depth, seed: 40)
            constants = values
            layerQuantization = .perTensor(
                scale: Int8Graphs.outputScale(inputScale: inputScale, filterScale: meanScale, depth: depth), zeroPoint: -4)
        } else {
            constants = [
                graph.addConstant(name: "filter", data: KernelTests.weights(filterShape, seed: 41)),
                graph.addConstant(name: "bias", data: KernelTests.weights([filterShape[channelAxis]], seed: 42)),
            ]
        }
        let layer = try graph.addNode(
            c.layer.op(activation: c.int8 ? nil : .relu6), inputs: [source] + constants, name: "layer",
            quantization: layerQuantization)
        let residual = c.residualIsInput ? x : source
        let sum = try graph.addNode(
            .add(activation: c.addActivation), inputs: c.residualFirst ? [residual, layer] : [layer, residual], name: "add",
            quantization: c.int8 ? .perTensor(scale: 0.07, zeroPoint: 3) : nil)
        graph.outputs = [sum]
        #expect(graph.residualAdds()[2]?.layer == 1, "the add is fused into the layer")
        if c.int8 {
            _ = try expectCompiledInt8MatchesReference(graph, options: options, seed: 7, "fused \(c.testDescription)")
        } else {
            try expectCompiledMatchesReference(graph, options: options, inputRange: -2...2, tolerance: 1e-4, "fused \(c.testDescription)")
        }
    }
}
