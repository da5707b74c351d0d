import KilnIR

/// The integer tensor behind a `DequantizeLinear`: a computed int8 value or
/// an int8/int32 constant, with its quantization parameters (uint8 data
/// shifted by -128 to int8, which represents the same real values).
struct ONNXQuantized {
    var value: ONNXValue?
    var constant: (shape: [Int], values: [Int32])?
    var parameters: QuantizationParameters
    var isInt32: Bool
}

/// QDQ models (`QuantizeLinear`/`DequantizeLinear` around float operators, as
/// ONNX Runtime's `quantize_static` writes them) as int8 graphs.
///
/// An operator whose inputs all come through `DequantizeLinear` and whose one
/// result goes only into a `QuantizeLinear` becomes Kiln's int8 operator, with
/// the `QuantizeLinear`'s parameters; anything else runs in float32 on the
/// dequantized values, with quantize and dequantize nodes where the model has them.
extension ONNXConversion {
    /// Operators converted as one int8 operator when their inputs and result are quantized.
    static let int8Operators: Set<String> = [
        "Conv", "Gemm", "MatMul", "Add", "Mul", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Relu",
        "Sigmoid", "Tanh", "HardSwish", "Softmax", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Concat",
        "Slice", "Pad", "ReduceMean",
    ]

    /// `QuantizeLinear` of float data: a Kiln quantize node (int8; uint8 shifted).
    mutating func convertQuantize(_ node: ONNXNode) throws {
        let x = try operand(node.input(0))
        let parameters = try quantization(node, scaleIndex: 1, zeroPointIndex: 2, perAxis: false).parameters
        let result = try graph.addNode(
            .quantize(to: .int8), inputs: [x.id], name: resultName(node), quantization: parameters)
        define(node, result, layout: x.layout)
    }

    /// `DequantizeLinear`: remembered, not converted; readers take the int8 source or, in float, its dequantized value.
    mutating func convertDequantize(_ node: ONNXNode) throws {
        let input = try node.input(0)
        var (parameters, shift) = try quantization(node, scaleIndex: 1, zeroPointIndex: 2, perAxis: true)
        if let axis = parameters.axis, axis < 0 {
            // Counted from the end, as ONNX allows.
            parameters.axis = axis + (try dimensions(of: input)).count
        }
        var source = ONNXQuantized(value: nil, constant: nil, parameters: parameters, isInt32: false)
        if let value = values[input] {
            guard graph.type(of: value.id).dtype == .int8, parameters.scales.count == 1 else {
                throw ONNXProblem("dequantizes '\(input)', which is not an int8 tensor with one scale")
            }
            source.value = value
        } else if let tensor = constants[input]?.integers, let type = integerTypes[input] {
            guard [.int8, .uint8, .int32].contains(type) else {
                throw ONNXProblem("dequantizing \(ONNXDataType.name(of: type.rawValue)) data is not supported (int8, uint8 or int32)")
            }
            source.isInt32 = type == .int32
            source.constant = (tensor.shape, tensor.values.map { Int32(truncatingIfNeeded: $0 - shift) })
        } else {
            throw ONNXProblem("input '\(input)' must be int8 data or an int8, uint8 or int32 constant")
        }
        if let axis = parameters.axis, let shape = source.constant?.shape ?? source.value.map(onnxShape),
            !(0..<shape.count).contains(axis) || shape[axis] != parameters.scales.count
        {
            throw ONNXProblem("\(parameters.scales.count) scales do not match axis \(axis) of \(shape)")
        }
        if let output = node.outputs.first { dequantized[output] = source }
    }

    /// The scale and zero point inputs as Kiln parameters, and how much uint8 data is shifted to become int8.
    func quantization(_ node: ONNXNode, scaleIndex: Int, zeroPointIndex: Int, perAxis: Bool) throws(ONNXProblem)
        -> (parameters: QuantizationParameters, shift: Int)
    {
        guard let scales = try floats(node, scaleIndex)?.values, !scales.isEmpty,
            scales.allSatisfy({ $0.isFinite && $0 > 0 })
        else { throw ONNXProblem("needs constant, positive, finite scales") }
        var zeroPoints = try integers(node, zeroPointIndex) ?? Array(repeating: 0, count: scales.count)
        let type = zeroPointIndex < node.inputs.count ? integerTypes[node.inputs[zeroPointIndex]] : nil
        let shift = type == .uint8 ? 128 : 0
        if zeroPoints.count == 1, scales.count > 1 { zeroPoints = Array(repeating: zeroPoints[0], count: scales.count) }
        guard zeroPoints.count == scales.count, zeroPoints.allSatisfy({ (-128...255).contains($0 - shift) }) else {
            throw ONNXProblem("zero points \(zeroPoints) do not match the \(scales.count) scales")
        }
        let shifted = zeroPoints.map { Int32($0 - shift) }
        guard scales.count == 1 || perAxis else { throw ONNXProblem("per-axis quantization of data is not supported") }
        let axis = scales.count > 1 ? node.int("axis", default: 1) : nil
        guard shifted.allSatisfy({ (-128...127).contains($0) }) || type == .int32 else {
            throw ONNXProblem("zero points \(zeroPoints) are outside the int8 range")
        }
        return (QuantizationParameters(scales: scales, zeroPoints: shifted, axis: axis), shift)
    }

    /// Whether `node` converts as one int8 operator: every input quantized, its one result read only by a `QuantizeLinear`.
    func int8Consumer(of node: ONNXNode) -> ONNXNode? {
        guard Self.int8Operators.contains(node.opType), node.outputs.count == 1, let output = node.outputs.first,
            !outputNames.contains(output), let readers = readerNodes[output], readers.count == 1,
            readers[0].opType == "QuantizeLinear", readers[0].inputs.first == output
        else { return nil }
        // Data inputs through DequantizeLinear; shapes, axes and the like may be plain constants.
        let dataInputs: [String]
        switch node.opType {
        case "Reshape", "Squeeze", "Unsqueeze", "Slice", "Pad", "ReduceMean": dataInputs = [node.inputs[0]]
        default: dataInputs = node.inputs.filter { !$0.isEmpty }
        }
        guard dataInputs.allSatisfy({ dequantized[$0] != nil }) else { return nil }
        switch node.opType {
        case "Conv", "Gemm", "MatMul":
            // Kiln's int8 layers take symmetric weights and no extra scaling.
            guard node.inputs.count > 1, let weights = dequantized[node.inputs[1]], weights.constant != nil,
                weights.parameters.zeroPoints.allSatisfy({ $0 == 0 }), node.float("alpha", default: 1) == 1,
                node.float("beta", default: 1) == 1,
                node.inputs.count < 3 || node.inputs[2].isEmpty || dequantized[node.inputs[2]]?.constant != nil
            else { return nil }
        default:
            break
        }
        return readers[0]
    }

    /// Converts `node` as an int8 operator with the parameters of the `QuantizeLinear` reading it.
    mutating func convertInt8(_ node: ONNXNode, quantizedBy quantize: ONNXNode, converter: Converter) throws {
        let parameters = try quantization(quantize, scaleIndex: 1, zeroPointIndex: 2, perAxis: false).parameters
        int8Result = parameters
        defer { int8Result = nil }
        try converter(&self, node)
        guard let output = node.outputs.first, var value = values[output] else { return }
        // Data movement keeps its input's parameters; requantize where the model gives new ones.
        if graph.type(of: value.id).quantization != parameters {
            value.id = try graph.addNode(
                .quantize(to: .int8), inputs: [value.id], name: "\(output).requantize", quantization: parameters)
        }
        if let quantized = quantize.outputs.first { values[quantized] = value }
        handled.insert(quantize.outputs.first ?? "")
    }

    /// An int8 operand: the computed int8 value, or the constant as an int8 (int32 for biases) Kiln constant.
    mutating func int8Operand(_ name: String, _ source: ONNXQuantized) throws(ONNXProblem) -> ONNXValue {
        if let value = source.value { return value }
        guard let constant = source.constant else { throw ONNXProblem("'\(name)' has no int8 data") }
        let key = "\(name).int8"
        if let id = materialized[key] { return ONNXValue(id: id, layout: .plain) }
        let data =
            source.isInt32
            ? TensorData(int32: constant.values, shape: Shape(constant.shape))
            : TensorData(int8: constant.values.map { Int8(clamping: $0) }, shape: Shape(constant.shape))
        let id = graph.addConstant(name: name, data: data, quantization: source.parameters)
        materialized[key] = id
        return ONNXValue(id: id, layout: .plain)
    }

    /// The operand `name` as a computed value, or `nil` for a constant the caller lays out itself
    /// with ``constantOperand(_:channelsLast:)`` (a dequantized constant's real values are recorded
    /// as a constant first, in float32 conversions).
    mutating func computedOperand(_ name: String) throws -> ONNXValue? {
        if let source = dequantized[name] {
            if let value = source.value { return int8Result != nil ? value : try operand(name) }
            if int8Result == nil, constants[name] == nil { constants[name] = dequantizedConstant(source) }
            return nil
        }
        return values[name]
    }

    /// The operands `names` of an element-wise operator or concatenation, all channels-last or all in ONNX's order.
    mutating func laidOut(_ names: [String], channelsLast: Bool, _ node: ONNXNode) throws -> [ValueID] {
        try names.map { name in
            guard let value = try computedOperand(name) else { return try constantOperand(name, channelsLast: channelsLast) }
            return channelsLast ? try self.channelsLast(value, name: resultName(node)) : try plain(value, name: resultName(node))
        }
    }

    /// A constant operand of an element-wise operator: int8 in an int8 operator, float32 otherwise;
    /// padded to rank 4 and reordered to NHWC when the data it meets is channels-last.
    mutating func constantOperand(_ name: String, channelsLast: Bool) throws -> ValueID {
        func laidOut<T>(_ shape: [Int], _ values: [T]) -> (shape: [Int], values: [T]) {
            guard channelsLast else { return (shape, values) }
            let padded = Array(repeating: 1, count: max(4 - shape.count, 0)) + shape
            return ([padded[0], padded[2], padded[3], padded[1]], permuted(values, shape: padded, [0, 2, 3, 1]))
        }
        if int8Result != nil, let source = dequantized[name], let constant = source.constant {
            guard source.parameters.scales.count == 1, !source.isInt32 else {
                throw ONNXProblem("'\(name)' is an int8 operand with per-axis or int32 parameters, which is not supported")
            }
            let (shape, values) = laidOut(constant.shape, constant.values)
            let key = "\(name).int8\(shape)"
            if let id = materialized[key] { return id }
            let id = graph.addConstant(
                name: name, data: TensorData(int8: values.map { Int8(clamping: $0) }, shape: Shape(shape)),
                quantization: source.parameters)
            materialized[key] = id
            return id
        }
        guard let constant = constants[name] else { throw ONNXProblem("reads '\(name)', which no node or initializer defines") }
        let (shape, values) = laidOut(constant.shape, constant.floats)
        return try materialize(name, shape: shape, values: values)
    }

    /// The float32 value of a dequantized tensor: a dequantize node for computed data, real values for constants.
    mutating func dequantizedFloat(_ name: String, _ source: ONNXQuantized) throws -> ONNXValue {
        if let value = source.value {
            let id = try graph.addNode(.dequantize, inputs: [value.id], name: name)
            values[name] = ONNXValue(id: id, layout: value.layout)
            return ONNXValue(id: id, layout: value.layout)
        }
        guard let real = dequantizedConstant(source) else { throw ONNXProblem("'\(name)' has no data") }
        constants[name] = real
        return ONNXValue(id: try materialize(name, shape: real.shape, values: real.floats), layout: .plain)
    }

    /// A constant's real values, `scale · (q - zeroPoint)` per channel along the parameters' axis.
    func dequantizedConstant(_ source: ONNXQuantized) -> ONNXConstant? {
        guard let constant = source.constant else { return nil }
        let parameters = source.parameters
        let axis = parameters.axis ?? 0
        let inner = parameters.axis == nil ? 1 : constant.shape.dropFirst(axis + 1).reduce(1, *)
        let channels = parameters.scales.count
        let values = constant.values.enumerated().map { index, q in
            let channel = channels == 1 ? 0 : (index / max(inner, 1)) % channels
            return parameters.scales[channel] * Float(q - parameters.zeroPoints[channel])
        }
        return .floats(shape: constant.shape, values: values)
    }

    /// The int8 weights (and their parameters) behind a `DequantizeLinear` input, or `nil` when the input is float.
    func quantizedWeights(_ node: ONNXNode, _ index: Int) throws(ONNXProblem)
        -> (shape: [Int], values: [Int32], parameters: QuantizationParameters)?
    {
        guard int8Result != nil, index < node.inputs.count, let source = dequantized[node.inputs[index]],
            let constant = source.constant
        else { return nil }
        guard source.parameters.zeroPoints.allSatisfy({ $0 == 0 }) || source.isInt32 else {
            throw ONNXProblem("int8 weights with non-zero zero points are not supported (quantize weights symmetrically)")
        }
        return (constant.shape, constant.values, source.parameters)
    }
}
