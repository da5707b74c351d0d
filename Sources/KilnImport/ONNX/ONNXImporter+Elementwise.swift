import KilnIR

/// Element-wise operators, softmax and layer normalization; they keep their input's layout where they can.
extension ONNXConversion {
    /// Relu, Sigmoid, Tanh, HardSwish, Gelu, Elu, Abs, Neg, Exp, Log, Sqrt, Erf (PyTorch's GELU before opset 20).
    mutating func convertUnary(_ node: ONNXNode) throws {
        guard let function = Self.unaryFunctions[node.opType] else { throw ONNXProblem("not an element-wise function") }
        if function == .gelu, let approximate = node.string("approximate"), approximate != "none" {
            throw ONNXProblem("the tanh approximation of GELU is not supported (only approximate = \"none\")")
        }
        if function == .elu, node.float("alpha", default: 1) != 1 {
            throw ONNXProblem("Elu with alpha \(node.float("alpha", default: 1)) is not supported (only 1)")
        }
        let x = try operand(node.input(0))
        define(node, try add(.activation(function), [x.id], node), layout: x.layout)
    }

    /// Add, Sub, Mul, Div, Pow, Max, Min and PRelu of two operands with NumPy broadcasting.
    ///
    /// When either operand is channels-last, the other is brought to that
    /// layout: a constant is reordered at import, a computed rank-4 value transposed.
    mutating func convertBinary(_ node: ONNXNode) throws {
        guard let op = Self.binaryOperators[node.opType] else { throw ONNXProblem("not a binary operator") }
        guard node.inputs.count == 2 else {
            throw ONNXProblem("\(node.opType) of \(node.inputs.count) operands is not supported (only 2)")
        }
        if try foldIntegers(node) { return }
        let names = [try node.input(0), try node.input(1)]
        let computed = try names.compactMap { try computedOperand($0) }
        let channelsLastResult =
            computed.contains { $0.layout == .channelsLast } && computed.allSatisfy { onnxShape($0).count == 4 }
            && names.allSatisfy { (try? computedOperand($0)) != nil || (try? dimensions(of: $0).count) ?? 5 <= 4 }
        let operands = try laidOut(names, channelsLast: channelsLastResult, node)
        define(node, try add(op, operands, node), layout: channelsLastResult ? .channelsLast : .plain)
    }

    /// `Clip` with constant bounds: ReLU, ReLU6 or the unit ReLUs where the bounds are theirs, `max`/`min` otherwise.
    mutating func convertClip(_ node: ONNXNode) throws {
        let x = try operand(node.input(0))
        let low = try floats(node, 1)?.values.first ?? node.attributes["min"]?.f
        let high = try floats(node, 2)?.values.first ?? node.attributes["max"]?.f
        let named: [Float?: [Float?: Activation]] = [0: [nil: .relu, 6: .relu6, 1: .relu0To1], -1: [1: .reluMinus1To1]]
        if let function = named[low]?[high] {
            define(node, try add(.activation(function), [x.id], node), layout: x.layout)
            return
        }
        var result = x.id
        for (bound, function) in [(low, BinaryFunction.maximum), (high, .minimum)] {
            guard let bound else { continue }
            let limit = try materialize("\(resultName(node)).\(function)", shape: [1], values: [bound])
            result = try add(.binary(function, activation: nil), [result, limit], node, suffix: function == .maximum && high != nil ? ".low" : "")
        }
        define(node, result, layout: x.layout)
    }

    /// `LeakyRelu`: `x < 0 ? alpha · x : x`.
    mutating func convertLeakyRelu(_ node: ONNXNode) throws {
        let alpha = node.float("alpha", default: 0.01)
        let x = try operand(node.input(0))
        let slope = try materialize("\(resultName(node)).alpha", shape: [1], values: [alpha])
        define(node, try add(.binary(.prelu, activation: nil), [x.id, slope], node), layout: x.layout)
    }

    /// `Reciprocal`: `1 / x`.
    mutating func convertReciprocal(_ node: ONNXNode) throws {
        let x = try operand(node.input(0))
        let one = try materialize("\(resultName(node)).one", shape: [1], values: [1])
        define(node, try add(.binary(.divide, activation: nil), [one, x.id], node), layout: x.layout)
    }

    /// `HardSigmoid`: `clamp(alpha · x + beta, 0, 1)`.
    mutating func convertHardSigmoid(_ node: ONNXNode) throws {
        let x = try operand(node.input(0))
        let (alpha, beta) = (node.float("alpha", default: 0.2), node.float("beta", default: 0.5))
        let scaled = try add(
            .multiply(activation: nil), [x.id, try materialize("\(resultName(node)).alpha", shape: [1], values: [alpha])], node,
            suffix: ".scaled")
        let shifted = try add(
            .add(activation: nil), [scaled, try materialize("\(resultName(node)).beta", shape: [1], values: [beta])], node,
            suffix: ".shifted")
        define(node, try add(.activation(.relu0To1), [shifted], node), layout: x.layout)
    }

    /// `Softmax` along one axis: the last axis of the data as Kiln stores it.
    mutating func convertSoftmax(_ node: ONNXNode) throws {
        let x = try operand(node.input(0))
        let rank = onnxShape(x).count
        guard let axis = Op.normalizedAxis(node.int("axis", default: -1), rank: rank) else {
            throw ONNXProblem("axis \(node.int("axis", default: -1)) is out of range for rank \(rank)")
        }
        if x.layout == .channelsLast, axis == 1 {
            define(node, try add(.softmax, [x.id], node), layout: .channelsLast)
            return
        }
        guard axis == rank - 1 else { throw ONNXProblem("softmax along axis \(axis) of rank \(rank) is not supported (only the last)") }
        define(node, try add(.softmax, [try plain(x, name: resultName(node))], node))
    }

    /// `LayerNormalization` over the last axis: `(x - mean) · rsqrt(variance + ε) · scale + bias`.
    mutating func convertLayerNormalization(_ node: ONNXNode) throws {
        let x = try plain(try operand(node.input(0)), name: resultName(node))
        let shape = graph.type(of: x).shape
        guard Op.normalizedAxis(node.int("axis", default: -1), rank: shape.rank) == shape.rank - 1 else {
            throw ONNXProblem("normalization over axes other than the last is not supported")
        }
        guard node.outputs.dropFirst().allSatisfy(\.isEmpty) else {
            throw ONNXProblem("the mean and inverse standard deviation outputs are not supported")
        }
        let axis = [shape.rank - 1]
        let mean = try add(.mean(axes: axis, keepDimensions: true), [x], node, suffix: ".mean")
        let variance = try add(
            .mean(axes: axis, keepDimensions: true),
            [try add(.binary(.squaredDifference, activation: nil), [x, mean], node, suffix: ".squared_difference")], node,
            suffix: ".variance")
        let epsilon = try materialize("\(resultName(node)).epsilon", shape: [1], values: [node.float("epsilon", default: 1e-5)])
        let inverse = try add(
            .activation(.rsqrt), [try add(.add(activation: nil), [variance, epsilon], node, suffix: ".variance_epsilon")], node,
            suffix: ".rsqrt")
        var result = try add(
            .multiply(activation: nil), [try add(.subtract(activation: nil), [x, mean], node, suffix: ".centered"), inverse], node,
            suffix: ".normalized")
        let scale = try operand(node.input(1)).id
        result = try add(.multiply(activation: nil), [result, scale], node, suffix: node.inputs.count > 2 ? ".scaled" : "")
        if node.inputs.count > 2, !node.inputs[2].isEmpty {
            result = try add(.add(activation: nil), [result, try operand(node.inputs[2]).id], node)
        }
        define(node, result)
    }

    /// `Identity` and inference-mode `Dropout`: the output is the input.
    mutating func alias(_ node: ONNXNode) throws {
        let input = try node.input(0)
        if let constant = constants[input], values[input] == nil {
            constants[node.outputs.first ?? ""] = constant
            return
        }
        let x = try operand(input)
        define(node, x.id, layout: x.layout)
    }
}
