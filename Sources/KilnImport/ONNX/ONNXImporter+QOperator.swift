import KilnIR

/// `QLinearConv` and `QLinearMatMul` (ONNX Runtime's QOperator format): each
/// is rewritten as the QDQ form it stands for — `DequantizeLinear` on its
/// inputs, the float operator, `QuantizeLinear` on its result — and converted
/// as one int8 operator the way QDQ models are.
extension ONNXConversion {
    /// `QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?)`.
    mutating func convertQLinearConv(_ node: ONNXNode) throws {
        guard node.inputs.count >= 8 else { throw ONNXProblem("needs 8 or 9 inputs, got \(node.inputs.count)") }
        let name = resultName(node)
        var inputs = [
            try dequantizeInput(node, data: 0, scale: 1, zeroPoint: 2, name: "\(name).x_dequantized"),
            try dequantizeInput(node, data: 3, scale: 4, zeroPoint: 5, axis: 0, name: "\(name).w_dequantized"),
        ]
        if node.inputs.count > 8, !node.inputs[8].isEmpty {
            // The int32 bias has scale x_scale · w_scale (per output channel) and zero point 0.
            guard let xScale = try floats(node, 1)?.values.first, let wScales = try floats(node, 4)?.values,
                let outputs = constants[node.inputs[3]]?.shape.first
            else { throw ONNXProblem("needs constant scales and weights") }
            let scales = (0..<outputs).map { xScale * wScales[wScales.count == 1 ? 0 : $0] }
            let scaleName = "\(name).b_scale"
            constants[scaleName] = .floats(shape: [outputs], values: scales)
            let bias = ONNXNode(
                opType: "DequantizeLinear", name: "\(name).b_dequantize", inputs: [node.inputs[8], scaleName],
                outputs: ["\(name).b_dequantized"], attributes: ["axis": 0])
            try convertDequantize(bias)
            inputs.append("\(name).b_dequantized")
        }
        let conv = ONNXNode(
            opType: "Conv", name: node.name, inputs: inputs, outputs: ["\(name).float"], attributes: node.attributes)
        try convertAsInt8(conv, node, scale: 6, zeroPoint: 7)
    }

    /// `QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)`.
    mutating func convertQLinearMatMul(_ node: ONNXNode) throws {
        guard node.inputs.count == 8 else { throw ONNXProblem("needs 8 inputs, got \(node.inputs.count)") }
        let name = resultName(node)
        let inputs = [
            try dequantizeInput(node, data: 0, scale: 1, zeroPoint: 2, name: "\(name).a_dequantized"),
            try dequantizeInput(node, data: 3, scale: 4, zeroPoint: 5, axis: 1, name: "\(name).b_dequantized"),
        ]
        let product = ONNXNode(opType: "MatMul", name: node.name, inputs: inputs, outputs: ["\(name).float"], attributes: [String: Int]())
        try convertAsInt8(product, node, scale: 6, zeroPoint: 7)
    }

    /// Records input `data` of `node` as dequantized with its scale and zero point inputs; returns the new name.
    mutating func dequantizeInput(
        _ node: ONNXNode, data: Int, scale: Int, zeroPoint: Int, axis: Int = 1, name: String
    ) throws -> String {
        let dequantize = ONNXNode(
            opType: "DequantizeLinear", name: "\(name).dequantize",
            inputs: [try node.input(data), try node.input(scale), node.inputs[zeroPoint]], outputs: [name],
            attributes: ["axis": axis])
        try convertDequantize(dequantize)
        return name
    }

    /// Converts the float `operation` as an int8 operator quantized with `node`'s scale and zero point inputs.
    mutating func convertAsInt8(_ operation: ONNXNode, _ node: ONNXNode, scale: Int, zeroPoint: Int) throws {
        let quantize = ONNXNode(
            opType: "QuantizeLinear", name: "\(resultName(node)).quantize",
            inputs: [operation.outputs[0], try node.input(scale), node.inputs[zeroPoint]], outputs: node.outputs,
            attributes: [String: Int]())
        guard let converter = Self.converters[operation.opType] else { throw ONNXProblem("internal error: no \(operation.opType)") }
        try convertInt8(operation, quantizedBy: quantize, converter: converter)
    }
}

/// ONNX Runtime's own quantized operators (domain `com.microsoft`), which its `quantize_static`
/// writes in QOperator format for the operators the default domain has no quantized form of:
/// each becomes its QDQ form like `QLinearConv`.
extension ONNXConversion {
    /// The `com.microsoft` operators converted, by name.
    static let microsoftConverters: [String: Converter] = [
        "QLinearAdd": { try $0.convertQLinearBinary($1, as: "Add") },
        "QLinearMul": { try $0.convertQLinearBinary($1, as: "Mul") },
        "QLinearSigmoid": { try $0.convertQLinearUnary($1, as: "Sigmoid") },
        "QLinearLeakyRelu": { try $0.convertQLinearInFloat($1, as: "LeakyRelu") },
        "QLinearSoftmax": { try $0.convertQLinearUnary($1, as: "Softmax") },
        "QLinearGlobalAveragePool": { try $0.convertQLinearUnary($1, as: "GlobalAveragePool") },
        "QLinearAveragePool": { try $0.convertQLinearUnary($1, as: "AveragePool") },
        "QLinearConcat": { try $0.convertQLinearConcat($1) },
        "QGemm": { try $0.convertQGemm($1) },
    ]

    /// `QLinearAdd`/`QLinearMul(a, a_scale, a_zp, b, b_scale, b_zp, c_scale, c_zp)`.
    mutating func convertQLinearBinary(_ node: ONNXNode, as opType: String) throws {
        guard node.inputs.count == 8 else { throw ONNXProblem("needs 8 inputs, got \(node.inputs.count)") }
        let name = resultName(node)
        let inputs = [
            try dequantizeInput(node, data: 0, scale: 1, zeroPoint: 2, name: "\(name).a_dequantized"),
            try dequantizeInput(node, data: 3, scale: 4, zeroPoint: 5, name: "\(name).b_dequantized"),
        ]
        let operation = ONNXNode(opType: opType, name: node.name, inputs: inputs, outputs: ["\(name).float"], attributes: [String: Int]())
        try convertAsInt8(operation, node, scale: 6, zeroPoint: 7)
    }

    /// `QLinearSigmoid`, `QLinearSoftmax`, `QLinearAveragePool` and the like: `(x, x_scale, x_zp,
    /// y_scale, y_zp)` with the float operator's attributes; channels-first only.
    mutating func convertQLinearUnary(_ node: ONNXNode, as opType: String) throws {
        guard node.inputs.count == 5 else { throw ONNXProblem("needs 5 inputs, got \(node.inputs.count)") }
        guard node.int("channels_last", default: 0) == 0 else { throw ONNXProblem("channels_last 1 is not supported") }
        if opType == "Softmax", node.int("opset", default: opset) < 13, opset >= 13 {
            throw ONNXProblem("a Softmax of opset \(node.int("opset", default: opset)) in an opset-\(opset) model is not supported")
        }
        let name = resultName(node)
        let input = try dequantizeInput(node, data: 0, scale: 1, zeroPoint: 2, name: "\(name).x_dequantized")
        var attributes = node.attributes
        attributes["channels_last"] = nil
        attributes["opset"] = nil
        let operation = ONNXNode(opType: opType, name: node.name, inputs: [input], outputs: ["\(name).float"], attributes: attributes)
        try convertAsInt8(operation, node, scale: 3, zeroPoint: 4)
    }

    /// A `(x, x_scale, x_zp, y_scale, y_zp)` operator without an int8 layer (`QLinearLeakyRelu`):
    /// the float operator between a dequantize and a quantize.
    mutating func convertQLinearInFloat(_ node: ONNXNode, as opType: String) throws {
        guard node.inputs.count == 5 else { throw ONNXProblem("needs 5 inputs, got \(node.inputs.count)") }
        let name = resultName(node)
        let input = try dequantizeInput(node, data: 0, scale: 1, zeroPoint: 2, name: "\(name).x_dequantized")
        guard let converter = Self.converters[opType], let quantizeConverter = Self.converters["QuantizeLinear"] else {
            throw ONNXProblem("internal error: no \(opType)")
        }
        try converter(&self, ONNXNode(opType: opType, name: node.name, inputs: [input], outputs: ["\(name).float"], attributes: node.attributes))
        let quantize = ONNXNode(
            opType: "QuantizeLinear", name: "\(name).quantize", inputs: ["\(name).float", try node.input(3), node.inputs[4]],
            outputs: node.outputs, attributes: [String: Int]())
        try quantizeConverter(&self, quantize)
    }

    /// `QLinearConcat(y_scale, y_zp, x₀, x₀_scale, x₀_zp, x₁, …)`.
    mutating func convertQLinearConcat(_ node: ONNXNode) throws {
        guard node.inputs.count >= 5, (node.inputs.count - 2) % 3 == 0 else {
            throw ONNXProblem("needs y_scale, y_zero_point and a triple per input, got \(node.inputs.count) inputs")
        }
        let name = resultName(node)
        let inputs = try stride(from: 2, to: node.inputs.count, by: 3).map { first in
            try dequantizeInput(node, data: first, scale: first + 1, zeroPoint: first + 2, name: "\(name).x\((first - 2) / 3)_dequantized")
        }
        let operation = ONNXNode(opType: "Concat", name: node.name, inputs: inputs, outputs: ["\(name).float"], attributes: node.attributes)
        try convertAsInt8(operation, node, scale: 0, zeroPoint: 1)
    }

    /// `QGemm(a, a_scale, a_zp, b, b_scale, b_zp, c?, y_scale?, y_zp?)`: int8 with `y_scale`, else a
    /// float result. The int32 bias `c` has scale alpha · a_scale · b_scale (per output column), as
    /// ONNX Runtime runs it (checked with a large bias and alpha 0.5).
    mutating func convertQGemm(_ node: ONNXNode) throws {
        guard node.inputs.count >= 6 else { throw ONNXProblem("needs at least 6 inputs, got \(node.inputs.count)") }
        let name = resultName(node)
        let transB = node.int("transB", default: 0) != 0
        guard let aScale = try floats(node, 1)?.values.first, let (bShape, bScales) = try floats(node, 4) else {
            throw ONNXProblem("needs constant scales")
        }
        // alpha scales the product: folded into b's scales, so the float Gemm has alpha 1.
        let alpha = node.float("alpha", default: 1)
        let bScaleName = "\(name).b_scale"
        constants[bScaleName] = .floats(shape: bShape, values: bScales.map { $0 * alpha })
        let b = ONNXNode(
            opType: "DequantizeLinear", name: "\(name).b_dequantize",
            inputs: [try node.input(3), bScaleName, node.inputs[5]], outputs: ["\(name).b_dequantized"],
            attributes: ["axis": transB ? 0 : 1])
        try convertDequantize(b)
        var inputs = [try dequantizeInput(node, data: 0, scale: 1, zeroPoint: 2, name: "\(name).a_dequantized"), "\(name).b_dequantized"]
        if node.inputs.count > 6, !node.inputs[6].isEmpty {
            guard let columns = constants[node.inputs[6]]?.shape.last else { throw ONNXProblem("needs a constant bias") }
            let scaleName = "\(name).c_scale"
            constants[scaleName] = .floats(
                shape: [columns], values: (0..<columns).map { aScale * bScales[bScales.count == 1 ? 0 : $0] * alpha })
            let bias = ONNXNode(
                opType: "DequantizeLinear", name: "\(name).c_dequantize", inputs: [node.inputs[6], scaleName],
                outputs: ["\(name).c_dequantized"], attributes: ["axis": 0])
            try convertDequantize(bias)
            inputs.append("\(name).c_dequantized")
        }
        let hasScale = node.inputs.count > 7 && !node.inputs[7].isEmpty
        var attributes = node.attributes
        attributes["alpha"] = nil
        let gemm = ONNXNode(
            opType: "Gemm", name: node.name, inputs: inputs, outputs: hasScale ? ["\(name).float"] : node.outputs,
            attributes: attributes)
        guard hasScale else {
            guard let converter = Self.converters["Gemm"] else { throw ONNXProblem("internal error: no Gemm") }
            return try converter(&self, gemm)
        }
        try convertAsInt8(gemm, node, scale: 7, zeroPoint: 8)
    }
}
