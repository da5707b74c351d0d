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
    private mutating func dequantizeInput(
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
    private mutating func convertAsInt8(_ operation: ONNXNode, _ node: ONNXNode, scale: Int, zeroPoint: Int) throws {
        let quantize = ONNXNode(
            opType: "QuantizeLinear", name: "\(resultName(node)).quantize",
            inputs: [operation.outputs[0], try node.input(scale), node.inputs[zeroPoint]], outputs: node.outputs,
            attributes: [String: Int]())
        guard let converter = Self.converters[operation.opType] else { throw ONNXProblem("internal error: no \(operation.opType)") }
        try convertInt8(operation, quantizedBy: quantize, converter: converter)
    }
}
