import KilnIR
import KilnReference

/// `quantize-int8`: post-training full-integer quantization of a float32 graph,
/// calibrated on samples, following TensorFlow Lite's int8 specification.
///
/// The graph is first run on every calibration sample (``ActivationRanges``);
/// then every layer with an int8 kernel becomes int8:
/// - activations per tensor, asymmetric: the observed range widened to hold 0,
///   `scale = (max − min) / 255`, `zeroPoint = round(−128 − min / scale)`;
/// - filters symmetric per output channel (`max|w| / 127`, values in −127…127),
///   biases int32 with scale `inputScale · filterScale[c]`;
/// - pooling, reshape, padding, slicing, transposes and ReLU keep their input's
///   parameters; softmax and logistic produce `1/256, −128`, tanh `1/128, 0`.
///
/// Imported dynamic-range ("hybrid") layers become int8 layers too: their int8
/// filters are kept, and their run-time input rounding gives way to the input's
/// calibrated parameters.
///
/// Model inputs and outputs stay float32 (a quantize node follows each input and
/// a dequantize node precedes each output) unless `int8InputsAndOutputs`, which
/// makes them int8 with their calibrated parameters. With `biasCorrection`, each
/// layer's bias absorbs the mean shift its rounded filter causes: per output channel,
/// `Σ (ŵ − w) · E[x]` over the filter's taps, `E[x]` the calibration mean of the
/// input channel the tap reads (padding's zeros are not counted). A layer without an int8 kernel, or
/// whose result was never finite in calibration, stays float32 between a
/// dequantize and a quantize.
public struct QuantizeInt8Pass: Pass {
    /// The stable id.
    public let id = "quantize-int8"

    /// Calibration samples, each one tensor per graph input in input order.
    public var samples: [[TensorData]]
    /// How each activation's range is chosen from the samples.
    public var method: ActivationRanges.Method
    /// Mixed precision: keep the most sensitive layers in float32 until the model's relative
    /// output error on the calibration samples is at most this; `nil` quantizes every layer.
    public var outputErrorBudget: Double?
    /// Whether biases absorb the mean shift of rounding the filters.
    public var biasCorrection: Bool
    /// Whether the model's float32 inputs and outputs become int8 (else they stay float32).
    public var int8InputsAndOutputs: Bool

    /// Calibration samples the mixed-precision search runs on: enough to rank layers, few enough
    /// that a search of one interpreter run per layer stays fast.
    static let sensitivitySamples = 8

    /// Creates the pass with its calibration samples, range method, mixed-precision budget,
    /// bias correction and boundary type.
    public init(
        samples: [[TensorData]], method: ActivationRanges.Method = .minMax, outputErrorBudget: Double? = nil,
        biasCorrection: Bool = false, int8InputsAndOutputs: Bool = false
    ) {
        self.samples = samples
        self.method = method
        self.outputErrorBudget = outputErrorBudget
        self.biasCorrection = biasCorrection
        self.int8InputsAndOutputs = int8InputsAndOutputs
    }

    /// Calibrates `graph` on the samples and rewrites it with int8 layers.
    public func run(on graph: inout Graph) throws(DiagnosticError) {
        let separated = try Self.separatingLookupActivations(graph)
        let observed = try ActivationRanges(separated, samples: samples, method: method)
        let means = biasCorrection ? observed.channelMeans : [:]
        var kept: Set<Int> = []
        if let outputErrorBudget {
            kept = try Self.layersKeptFloat(
                separated, ranges: observed.ranges, inputMeans: means, samples: Array(samples.prefix(Self.sensitivitySamples)),
                budget: outputErrorBudget)
        }
        var rewriter = Int8Rewriter(source: separated, ranges: observed.ranges, inputMeans: means, keptFloat: kept)
        graph = try rewriter.rewrite(int8Boundary: int8InputsAndOutputs)
    }

    /// The filter layers (by node index) that stay float32 under `budget`: none if the all-int8
    /// graph is within it; else the layers in order of sensitivity (the output error with that
    /// layer alone in int8), each added until the rest in int8 is within the budget.
    static func layersKeptFloat(
        _ graph: Graph, ranges: [ValueID: ClosedRange<Float>], inputMeans: [ValueID: [Double]] = [:],
        samples: [[TensorData]], budget: Double
    ) throws(DiagnosticError) -> Set<Int> {
        let expected = try outputs(of: graph, samples)
        func error(keeping kept: Set<Int>) throws(DiagnosticError) -> Double {
            var rewriter = Int8Rewriter(source: graph, ranges: ranges, inputMeans: inputMeans, keptFloat: kept)
            return relativeError(try outputs(of: try rewriter.rewrite(), samples), expected)
        }
        var kept: Set<Int> = []
        guard try error(keeping: kept) > budget else { return kept }
        let layers = graph.nodes.indices.filter {
            switch graph.nodes[$0].op {
            case .conv2D, .depthwiseConv2D, .fullyConnected: true
            default: false
            }
        }
        let everything = Set(graph.nodes.indices)
        var sensitivity: [(layer: Int, error: Double)] = []
        for layer in layers {
            sensitivity.append((layer, try error(keeping: everything.subtracting([layer]))))
        }
        for (layer, _) in sensitivity.sorted(by: { $0.error > $1.error }) {
            kept.insert(layer)
            if try error(keeping: kept) <= budget { break }
        }
        return kept
    }

    /// Every output of `graph` on every sample, by the reference interpreter.
    private static func outputs(of graph: Graph, _ samples: [[TensorData]]) throws(DiagnosticError) -> [[Float]] {
        do {
            let interpreter = try ReferenceInterpreter(graph)
            var result: [[Float]] = []
            for sample in samples { result += try interpreter.run(sample).map { $0.floats() } }
            return result
        } catch {
            throw DiagnosticError("mixed-precision search: \(error.message)")
        }
    }

    /// The error measure of the mixed-precision budget: `√(Σ (a − b)² / Σ b²)` over every element
    /// of every output, finite ones only.
    public static func relativeError(_ actual: [[Float]], _ expected: [[Float]]) -> Double {
        var difference = 0.0
        var magnitude = 0.0
        for (a, b) in zip(actual.joined(), expected.joined()) where a.isFinite && b.isFinite {
            difference += Double(a - b) * Double(a - b)
            magnitude += Double(b) * Double(b)
        }
        return magnitude > 0 ? (difference / magnitude).squareRoot() : difference.squareRoot()
    }

    /// The activations an int8 epilogue applies as a clamp; any other runs as a lookup table
    /// between two sets of parameters, in a node of its own.
    static let clampActivations: Set<Activation> = [.relu, .relu6, .reluMinus1To1, .relu0To1]

    /// `graph` with every fused activation other than a clamp moved into its own node after its
    /// layer, so calibration observes the layer's result before it (which the int8 layer stores).
    static func separatingLookupActivations(_ graph: Graph) throws(DiagnosticError) -> Graph {
        var result = graph
        result.nodes = []
        for node in graph.nodes {
            guard let activation = node.op.fusedActivation, !clampActivations.contains(activation),
                let layer = node.op.replacingActivation(nil)
            else {
                result.nodes.append(node)
                continue
            }
            let output = node.outputs[0]
            let inner = result.addValue(name: graph[output].name, type: graph.type(of: output))
            result.nodes.append(Node(op: layer, inputs: node.inputs, outputs: [inner], name: node.name, location: node.location))
            result.nodes.append(
                Node(op: .activation(activation), inputs: [inner], outputs: [output], name: node.name, location: node.location))
        }
        return result
    }

    /// The mean error rounding `filter` to `quantized` adds to each output channel: `Σ (ŵ − w) · E[x]`
    /// over each channel's taps, `E[x]` the mean of the input channel a tap reads; `nil` when
    /// `inputMeans` does not match the filter's input channels.
    ///
    /// Filters are `[out, in]` (fully connected), `[out, kh, kw, in]` (convolution) or
    /// `[1, kh, kw, in·multiplier]` (`depthwise`); the input's channels are its last axis.
    public static func biasShift(
        filter: TensorData, quantized: TensorData, parameters: QuantizationParameters, depthwise: Bool, inputMeans: [Double]
    ) -> [Double]? {
        let dimensions = filter.shape.dimensions
        guard let last = dimensions.last, let first = dimensions.first, !inputMeans.isEmpty else { return nil }
        let outputs = depthwise ? last : first
        guard outputs > 0, filter.shape.elementCount % outputs == 0 else { return nil }
        if depthwise {
            guard outputs % inputMeans.count == 0 else { return nil }
        } else {
            guard last == inputMeans.count else { return nil }
        }
        let original = filter.floats()
        let rounded = parameters.dequantize(quantized)
        let perOutput = original.count / outputs
        var shift = [Double](repeating: 0, count: outputs)
        for index in original.indices where original[index].isFinite {
            let output = depthwise ? index % outputs : index / perOutput
            let input = depthwise ? output / (outputs / inputMeans.count) : index % inputMeans.count
            shift[output] += Double(rounded[index] - original[index]) * inputMeans[input]
        }
        return shift
    }

    /// Per-tensor asymmetric int8 parameters for values in `range`, widened to include 0.
    public static func parameters(for range: ClosedRange<Float>) -> QuantizationParameters {
        let lower = min(range.lowerBound, 0)
        let upper = max(range.upperBound, 0)
        // A tensor that is always 0 quantizes exactly with any scale.
        let scale = upper > lower ? (upper - lower) / 255 : 1
        let zeroPoint = (-128 - lower / scale).rounded()
        return .perTensor(scale: scale, zeroPoint: Int32(max(-128, min(127, zeroPoint))))
    }
}

/// Builds the int8 graph of ``QuantizeInt8Pass`` node by node from the float one.
private struct Int8Rewriter {
    let source: Graph
    let ranges: [ValueID: ClosedRange<Float>]
    /// Calibration means of layer inputs per channel, for bias correction; empty without it.
    let inputMeans: [ValueID: [Double]]
    /// Source node indices that stay float32 (mixed precision).
    let keptFloat: Set<Int>
    var graph: Graph
    /// Each source value's counterpart in the new graph (float32 or int8).
    var mapped: [ValueID: ValueID] = [:]
    /// Int8 values' float32 counterparts, and float values' int8 ones, made once each.
    var dequantized: [ValueID: ValueID] = [:]
    var quantized: [ValueID: ValueID] = [:]

    init(source: Graph, ranges: [ValueID: ClosedRange<Float>], inputMeans: [ValueID: [Double]] = [:], keptFloat: Set<Int> = []) {
        self.source = source
        self.ranges = ranges
        self.inputMeans = inputMeans
        self.keptFloat = keptFloat
        graph = Graph(name: source.name)
    }

    /// The int8 graph; with `int8Boundary`, its float32 inputs and outputs that were calibrated are int8.
    mutating func rewrite(int8Boundary: Bool = false) throws(DiagnosticError) -> Graph {
        for input in source.inputs {
            var type = source.type(of: input)
            if int8Boundary, type.dtype == .float32, let range = ranges[input] {
                type = TensorType(.int8, type.shape, quantization: QuantizeInt8Pass.parameters(for: range))
            }
            mapped[input] = graph.addInput(name: source[input].name, type: type)
        }
        for (id, constant) in source.constants.sorted(by: { $0.key < $1.key }) {
            mapped[id] = graph.addConstant(name: source[id].name, type: source.type(of: id), source: constant)
        }
        for (index, node) in source.nodes.enumerated() { try rewrite(node, keepingFloat: keptFloat.contains(index)) }
        graph.outputs = try source.outputs.map { (output) throws(DiagnosticError) in
            guard let value = mapped[output], source.type(of: output).dtype == .float32 else { return mapped[output] ?? output }
            if int8Boundary { return try int8(output) ?? value }
            guard graph.type(of: value).dtype == .int8 else { return value }
            return try graph.addNode(.dequantize, inputs: [value], name: source[output].name)
        }
        return graph.compacted()
    }

    /// The new graph's value for source value `id` as the source had it: float32 if it was, else
    /// unchanged (int8 constants of weight-only layers, the int8 rows of dynamic-range layers).
    mutating func float(_ id: ValueID) throws(DiagnosticError) -> ValueID {
        let value = mapped[id] ?? id
        guard source.type(of: id).dtype == .float32, graph.type(of: value).dtype == .int8 else { return value }
        if let done = dequantized[value] { return done }
        let result = try graph.addNode(.dequantize, inputs: [value], name: "\(source[id].name)/dequantize")
        dequantized[value] = result
        return result
    }

    /// The new graph's value for source value `id` as int8, or `nil` when it is float32 and was
    /// never calibrated (so has no parameters).
    mutating func int8(_ id: ValueID) throws(DiagnosticError) -> ValueID? {
        let value = mapped[id] ?? id
        let type = graph.type(of: value)
        if type.dtype == .int8, type.quantization?.axis == nil, type.quantization != nil { return value }
        guard type.dtype == .float32, !graph.isConstant(value), let range = ranges[id] else { return nil }
        if let done = quantized[value] { return done }
        let result = try graph.addNode(
            .quantize(to: .int8), inputs: [value], name: "\(source[id].name)/quantize",
            quantization: QuantizeInt8Pass.parameters(for: range))
        quantized[value] = result
        return result
    }

    /// The parameters a node's int8 result takes: fixed by the op, its input's, or its range.
    func resultParameters(_ node: Node, input: ValueID) -> QuantizationParameters? {
        switch node.op {
        case .softmax, .activation(.sigmoid): return .perTensor(scale: 1.0 / 256, zeroPoint: -128)
        case .activation(.tanh): return .perTensor(scale: 1.0 / 128, zeroPoint: 0)
        case .concatenation:
            // Every input is requantized into the result, whose range must hold them all: the first
            // input's range would clip the others (a branch joining with a wider range).
            return ranges[node.outputs[0]].map(QuantizeInt8Pass.parameters(for:)) ?? graph.type(of: input).quantization
        case let op where op.keepsInputQuantization: return graph.type(of: input).quantization
        default: return ranges[node.outputs[0]].map(QuantizeInt8Pass.parameters(for:))
        }
    }

    mutating func rewrite(_ node: Node, keepingFloat: Bool) throws(DiagnosticError) {
        let result = source.type(of: node.outputs[0])
        guard result.dtype == .float32 else {
            // Already integer (a quantized model's own layers): copied as they are.
            mapped[node.outputs[0]] = try graph.addNode(
                node.op, inputs: node.inputs.map { mapped[$0] ?? $0 }, name: node.name, location: node.location,
                quantization: result.quantization)
            return
        }
        if !keepingFloat, let result = try int8Layer(node) {
            mapped[node.outputs[0]] = result
            return
        }
        var inputs: [ValueID] = []
        for input in node.inputs { inputs.append(try float(input)) }
        mapped[node.outputs[0]] = try graph.addNode(node.op, inputs: inputs, name: node.name, location: node.location)
    }

    /// `node` as an int8 layer, or `nil` when it stays float32.
    mutating func int8Layer(_ node: Node) throws(DiagnosticError) -> ValueID? {
        guard node.outputs.count == 1, source.type(of: node.outputs[0]).dtype == .float32 else { return nil }
        switch node.op {
        case .conv2D, .depthwiseConv2D, .fullyConnected:
            return try filterLayer(node)
        case .dynamicRangeQuantize:
            // A hybrid layer's run-time rounding of its input: its int8 input is already rounded.
            return try int8(node.inputs[0])
        case .add, .subtract, .multiply:
            // A constant operand (a batch normalization's scale or shift) becomes an int8 constant
            // with parameters from its own values.
            var inputs: [ValueID] = []
            for input in node.inputs {
                if let data = source.constantData(input) {
                    guard data.dtype == .float32 else { return nil }
                    inputs.append(quantizedConstant(data, name: source[input].name))
                } else {
                    guard let value = try int8(input) else { return nil }
                    inputs.append(value)
                }
            }
            guard inputs.contains(where: { !graph.isConstant($0) }), let parameters = resultParameters(node, input: inputs[0])
            else { return nil }
            return try graph.addNode(
                node.op, inputs: inputs, name: node.name, location: node.location, quantization: parameters)
        case .maxPool2D, .averagePool2D, .reshape, .pad, .slice, .transpose, .concatenation, .mean, .softmax, .activation:
            guard node.inputs.allSatisfy({ !source.isConstant($0) }) else { return nil }
            var inputs: [ValueID] = []
            for input in node.inputs {
                guard let value = try int8(input) else { return nil }
                inputs.append(value)
            }
            guard let parameters = resultParameters(node, input: inputs[0]) else { return nil }
            return try graph.addNode(
                node.op, inputs: inputs, name: node.name, location: node.location, quantization: parameters)
        default:
            return nil
        }
    }

    /// `data` as a per-tensor int8 constant, its parameters from its smallest and largest finite values.
    mutating func quantizedConstant(_ data: TensorData, name: String) -> ValueID {
        let finite = data.floats().filter(\.isFinite)
        let parameters = QuantizeInt8Pass.parameters(for: (finite.min() ?? 0)...(finite.max() ?? 0))
        let scale = parameters.scales[0]
        let zeroPoint = Float(parameters.zeroPoints[0])
        let values = data.floats().map { value -> Int8 in
            let steps = (value / scale).rounded() + zeroPoint
            return steps.isNaN ? Int8(parameters.zeroPoints[0]) : Int8(max(-128, min(127, steps)))
        }
        return graph.addConstant(name: name, data: TensorData(int8: values, shape: data.shape), quantization: parameters)
    }

    /// A convolution or fully-connected layer with a float32 constant filter (and bias) in int8.
    mutating func filterLayer(_ node: Node) throws(DiagnosticError) -> ValueID? {
        guard let filter = source.constantData(node.inputs[1]),
            let parameters = ranges[node.outputs[0]].map(QuantizeInt8Pass.parameters(for:))
        else { return nil }
        var bias = node.inputs.count > 2 ? source.constantData(node.inputs[2]) : nil
        if node.inputs.count > 2, bias?.dtype != .float32 { return nil }
        guard let x = try int8(node.inputs[0]), let inputScale = graph.type(of: x).quantization?.scales.first else {
            return nil
        }
        var axis = 0
        if case .depthwiseConv2D = node.op { axis = 3 }
        let weights: TensorData
        let weightParameters: QuantizationParameters
        switch filter.dtype {
        case .float32:
            (weights, weightParameters) = QuantizeWeightsInt8Pass.quantize(filter, axis: axis)
        case .int8:
            // A dynamic-range layer's filter (an imported hybrid model): already symmetric int8.
            guard let given = source.type(of: node.inputs[1]).quantization, given.zeroPoints.allSatisfy({ $0 == 0 }) else {
                return nil
            }
            (weights, weightParameters) = (filter, given)
        default:
            return nil
        }
        var inputs = [
            x,
            graph.addConstant(name: source[node.inputs[1]].name, data: weights, quantization: weightParameters),
        ]
        if filter.dtype == .float32, let means = inputMeans[node.inputs[0]],
            let shift = QuantizeInt8Pass.biasShift(
                filter: filter, quantized: weights, parameters: weightParameters, depthwise: axis == 3, inputMeans: means),
            bias.map({ $0.shape.elementCount == shift.count }) ?? true
        {
            let values = bias?.floats() ?? [Float](repeating: 0, count: shift.count)
            bias = TensorData(zip(values, shift).map { $0 - Float($1) }, shape: [shift.count])
        }
        if let bias {
            let scales = weightParameters.scales.map { inputScale * $0 }
            let values = bias.floats().enumerated().map { channel, value in
                let steps = (Double(value) / Double(scales[channel % scales.count])).rounded()
                return steps.isNaN ? 0 : Int32(max(Double(Int32.min), min(Double(Int32.max), steps)))
            }
            inputs.append(
                graph.addConstant(
                    name: node.inputs.count > 2 ? source[node.inputs[2]].name : "\(node.name)/bias",
                    data: TensorData(int32: values, shape: bias.shape),
                    quantization: weightParameters.isPerChannel
                        ? .symmetric(scales: scales, axis: 0) : .perTensor(scale: scales[0], zeroPoint: 0)))
        }
        return try graph.addNode(node.op, inputs: inputs, name: node.name, location: node.location, quantization: parameters)
    }
}
