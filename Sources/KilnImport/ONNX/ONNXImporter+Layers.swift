import KilnIR

/// Convolution, pooling, batch normalization and matrix products: the layers
/// whose NCHW filters and windows become Kiln's NHWC ones at import.
extension ONNXConversion {
    /// `Conv` (2-D): OIHW filters become OHWI, or `[1, kh, kw, out]` for depthwise (one group per input channel).
    mutating func convertConv(_ node: ONNXNode) throws {
        let x = try channelsLast(try operand(node.input(0)), name: resultName(node))
        guard let (filterShape, filter) = try floats(node, 1), filterShape.count == 4 else {
            throw ONNXProblem("only 2-D convolutions with constant [out, in, kh, kw] weights are supported")
        }
        let inputShape = graph.type(of: x).shape
        let (outputs, groupDepth, kernel) = (filterShape[0], filterShape[1], [filterShape[2], filterShape[3]])
        let group = node.int("group", default: 1)
        guard group >= 1 else { throw ONNXProblem("group \(group) must be at least 1") }
        let (strides, dilations) = (try pair(node, "strides"), try pair(node, "dilations"))
        let (padding, explicitPadding) = try windowPadding(
            node, input: (inputShape[1], inputShape[2]), kernel: kernel, strides: strides, dilations: dilations)
        let attributes = Conv2DAttributes(
            strides: strides, dilations: dilations, padding: padding, explicitPadding: explicitPadding)
        let weights = try ONNXWeights(self, node, 1, real: filter)
        let op: Op
        let layout: (shape: [Int], permutation: [Int], axis: Int, suffix: String)
        if group == 1 {
            guard groupDepth == inputShape[3] else {
                throw ONNXProblem("weights \(filterShape) expect \(groupDepth) input channels, the input has \(inputShape[3])")
            }
            layout = ([outputs, kernel[0], kernel[1], groupDepth], [0, 2, 3, 1], 0, "ohwi")
            op = .conv2D(attributes)
        } else if group == inputShape[3], groupDepth == 1, outputs % group == 0 {
            layout = ([1, kernel[0], kernel[1], outputs], [1, 2, 3, 0], 3, "depthwise")
            op = .depthwiseConv2D(attributes)
        } else if group > 1, inputShape[3] % group == 0, inputShape[3] / group == groupDepth, outputs % group == 0 {
            return try convertGroupedConv(node, x, weights: weights, filterShape: filterShape, groups: group, attributes: attributes)
        } else {
            throw ONNXProblem(
                "\(group) groups of \(groupDepth) channels do not fit the input's \(inputShape[3]) channels and \(outputs) outputs")
        }
        var inputs = [
            x,
            try weights.permuted(shape: filterShape, layout.permutation, axis: layout.axis).constant(
                in: &self, name: "\(node.inputs[1]).\(layout.suffix)", shape: layout.shape),
        ]
        if let bias = try ONNXWeights.input(self, node, 2) {
            inputs.append(try bias.constant(in: &self, name: node.inputs[2], shape: [outputs]))
        }
        define(node, try add(op, inputs, node), layout: .channelsLast)
    }

    /// A convolution of `groups` groups: each slice of the input channels convolved
    /// with its slice of the filters, the results joined along the channels.
    mutating func convertGroupedConv(
        _ node: ONNXNode, _ x: ValueID, weights: ONNXWeights, filterShape: [Int], groups: Int, attributes: Conv2DAttributes
    ) throws {
        let inputShape = graph.type(of: x).shape
        let (outputs, groupDepth, kernel) = (filterShape[0], filterShape[1], [filterShape[2], filterShape[3]])
        let groupOutputs = outputs / groups
        let ohwi = weights.permuted(shape: filterShape, [0, 2, 3, 1], axis: 0)
        let bias = try ONNXWeights.input(self, node, 2)
        var parts: [ValueID] = []
        for group in 0..<groups {
            // The slice keeps the input's parameters (an int8 operator's result has its own).
            let channels = try graph.addNode(
                .slice(begin: [0, 0, 0, group * groupDepth], size: [inputShape[0], inputShape[1], inputShape[2], groupDepth]),
                inputs: [x], name: "\(resultName(node)).group\(group).input", quantization: graph.type(of: x).quantization)
            let range = (group * groupOutputs)..<((group + 1) * groupOutputs)
            var inputs = [
                channels,
                try ohwi.channels(range, of: outputs).constant(
                    in: &self, name: "\(node.inputs[1]).group\(group)", shape: [groupOutputs, kernel[0], kernel[1], groupDepth]),
            ]
            if let bias {
                inputs.append(try bias.channels(range, of: outputs).constant(in: &self, name: "\(node.inputs[2]).group\(group)", shape: [groupOutputs]))
            }
            parts.append(try add(.conv2D(attributes), inputs, node, suffix: ".group\(group)"))
        }
        define(node, try add(.concatenation(axis: 3, activation: nil), parts, node), layout: .channelsLast)
    }

    /// `ConvTranspose` (2-D): a direct convolution with the filter turned 180° (and the same
    /// dilation) over the input with `stride − 1` zeros between pixels; with groups, one such
    /// convolution per group of input channels, their outputs side by side.
    mutating func convertConvTranspose(_ node: ONNXNode) throws {
        let x = try channelsLast(try operand(node.input(0)), name: resultName(node))
        guard let (filterShape, filter) = try floats(node, 1), filterShape.count == 4 else {
            throw ONNXProblem("only 2-D transposed convolutions with constant [in, out / group, kh, kw] weights are supported")
        }
        let inputShape = graph.type(of: x).shape
        let (inputs, groupOutputs, kernel) = (filterShape[0], filterShape[1], [filterShape[2], filterShape[3]])
        let groups = node.int("group", default: 1)
        guard inputs == inputShape[3], groups >= 1, inputs % groups == 0 else {
            throw ONNXProblem(
                "weights \(filterShape) in \(groups) group(s) do not fit the input's \(inputShape[3]) channels "
                    + "(the first dimension is the input channels, a multiple of the groups)")
        }
        let outputs = groupOutputs * groups
        let dilations = try pair(node, "dilations")
        // The window's extent on the input: its taps `dilation` apart.
        let extents = (0..<2).map { dilations[$0] * (kernel[$0] - 1) + 1 }
        let strides = try pair(node, "strides")
        let outputPadding = node.ints("output_padding") ?? [0, 0]
        guard outputPadding.count == 2, outputPadding.allSatisfy({ $0 >= 0 }) else {
            throw ONNXProblem("output_padding \(outputPadding) must be two non-negative values")
        }
        var borders: [[Int]] = []
        for axis in 0..<2 {
            let size = inputShape[axis + 1]
            let full = (size - 1) * strides[axis] + outputPadding[axis] + extents[axis]
            let (padBefore, padAfter): (Int, Int)
            if let shape = node.ints("output_shape") {
                guard shape.count >= 2 else { throw ONNXProblem("output_shape \(shape) must give height and width") }
                let total = full - shape[shape.count - 2 + axis]
                let upper = node.string("auto_pad") == "SAME_UPPER"
                (padBefore, padAfter) = upper ? (total / 2, total - total / 2) : (total - total / 2, total / 2)
            } else {
                switch node.string("auto_pad") ?? "NOTSET" {
                case "NOTSET":
                    let pads = node.ints("pads") ?? [0, 0, 0, 0]
                    guard pads.count == 4 else { throw ONNXProblem("pads \(pads) must be four values") }
                    (padBefore, padAfter) = (pads[axis], pads[axis + 2])
                case "VALID": (padBefore, padAfter) = (0, 0)
                case let mode:
                    // SAME_*: the output is input · stride.
                    let total = full - size * strides[axis]
                    (padBefore, padAfter) = mode == "SAME_UPPER" ? (total / 2, total - total / 2) : (total - total / 2, total / 2)
                }
            }
            borders.append(
                try Graph.transposedConvolutionBorders(
                    input: size, window: extents[axis], stride: strides[axis], output: full - padBefore - padAfter,
                    padBefore: padBefore))
        }
        let stuffed = try graph.addZeroStuffing(x, strides: strides, name: resultName(node))
        let bias = try floats(node, 2)?.values
        guard bias.map({ $0.count == outputs }) ?? true else {
            throw ONNXProblem("the bias holds \(bias?.count ?? 0) values for \(outputs) output channels")
        }
        let attributes = Conv2DAttributes(dilations: dilations, explicitPadding: borders)
        let groupInputs = inputs / groups
        let stuffedShape = graph.type(of: stuffed).shape
        var parts: [ValueID] = []
        for group in 0..<groups {
            let suffix = groups == 1 ? "" : ".group\(group)"
            let channels =
                groups == 1
                ? stuffed
                : try graph.addNode(
                    .slice(
                        begin: [0, 0, 0, group * groupInputs],
                        size: [stuffedShape[0], stuffedShape[1], stuffedShape[2], groupInputs]),
                    inputs: [stuffed], name: "\(resultName(node))\(suffix).input",
                    quantization: graph.type(of: stuffed).quantization)
            // The group's [in, out, kh, kw] rows to OHWI, each window turned half a turn.
            let rows = groupInputs * groupOutputs * kernel[0] * kernel[1]
            let groupFilter = Array(filter[(group * rows)..<((group + 1) * rows)])
            let ohwi = permuted(groupFilter, shape: [groupInputs, groupOutputs, kernel[0], kernel[1]], [1, 2, 3, 0])
            let turned = rotatedHalfTurn(TensorData(ohwi, shape: [groupOutputs, kernel[0], kernel[1], groupInputs]))
            var layerInputs = [
                channels,
                try materialize("\(node.inputs[1]).turned\(suffix)", shape: turned.shape.dimensions, values: turned.floats()),
            ]
            if let bias {
                layerInputs.append(
                    try materialize(
                        "\(node.inputs[2])\(suffix)", shape: [groupOutputs],
                        values: Array(bias[(group * groupOutputs)..<((group + 1) * groupOutputs)])))
            }
            parts.append(try add(.conv2D(attributes), layerInputs, node, suffix: suffix))
        }
        let result = parts.count == 1 ? parts[0] : try add(.concatenation(axis: 3, activation: nil), parts, node)
        define(node, result, layout: .channelsLast)
    }

    /// `MaxPool` and `AveragePool` (2-D); average pooling does not count padding (`count_include_pad = 1` with padding is an error).
    mutating func convertPool(_ node: ONNXNode, average: Bool) throws {
        let x = try channelsLast(try operand(node.input(0)), name: resultName(node))
        guard node.ints("kernel_shape")?.count == 2 else {
            throw ONNXProblem("only 2-D pooling is supported (kernel_shape \(node.ints("kernel_shape") ?? []))")
        }
        let window = try pair(node, "kernel_shape")
        guard node.outputs.count < 2 || node.outputs[1].isEmpty else {
            throw ONNXProblem("the indices output of MaxPool is not supported")
        }
        guard node.int("ceil_mode", default: 0) == 0, try pair(node, "dilations") == [1, 1] else {
            throw ONNXProblem("pooling with ceil_mode or dilations is not supported")
        }
        let inputShape = graph.type(of: x).shape
        let strides = try pair(node, "strides")
        var attributes = Pool2DAttributes(window: window, strides: strides)
        (attributes.padding, attributes.explicitPadding) = try windowPadding(
            node, input: (inputShape[1], inputShape[2]), kernel: window, strides: strides, dilations: [1, 1])
        if average, node.int("count_include_pad", default: 0) != 0,
            attributes.padding == .same || (attributes.explicitPadding?.joined().contains { $0 != 0 } ?? false)
        {
            throw ONNXProblem("average pooling that counts padding (count_include_pad = 1) is not supported")
        }
        define(node, try add(average ? .averagePool2D(attributes) : .maxPool2D(attributes), [x], node), layout: .channelsLast)
    }

    /// `GlobalAveragePool` (a mean over H and W) and `GlobalMaxPool` (a window over the whole image); other
    /// ranks pool every axis after the channels.
    mutating func convertGlobalPool(_ node: ONNXNode, average: Bool) throws {
        let value = try operand(node.input(0))
        let rank = onnxShape(value).count
        if rank != 4 {
            // 1-D or 3-D pooling (tf2onnx pools [N, C, L] for layer normalization's mean): over every axis after C.
            guard rank >= 3 else { throw ONNXProblem("needs an [N, C, …] tensor, got \(onnxShape(value))") }
            let axes = Array(2..<rank)
            let op: Op = average ? .mean(axes: axes, keepDimensions: true) : .reduce(.maximum, axes: axes, keepDimensions: true)
            define(node, try add(op, [try plain(value, name: resultName(node))], node))
            return
        }
        let x = try channelsLast(value, name: resultName(node))
        let shape = graph.type(of: x).shape
        let op: Op =
            average
            ? .mean(axes: [1, 2], keepDimensions: true)
            : .maxPool2D(Pool2DAttributes(window: [shape[1], shape[2]], strides: [1, 1]))
        define(node, try add(op, [x], node), layout: .channelsLast)
    }

    /// `BatchNormalization` in inference form, `y = x · a + b` per channel with
    /// `a = scale / √(var + ε)`, `b = bias - mean · a`: folded into the
    /// convolution or matrix product before it when nothing else reads that
    /// layer's result, a multiply and an add otherwise.
    mutating func convertBatchNormalization(_ node: ONNXNode) throws {
        guard node.int("training_mode", default: 0) == 0, node.outputs.dropFirst().allSatisfy(\.isEmpty) else {
            throw ONNXProblem("only inference-mode batch normalization is supported")
        }
        let input = try node.input(0)
        let x = try operand(input)
        var parameters: [[Float]] = []
        for index in 1...4 {
            guard let (shape, values) = try floats(node, index), shape.count == 1 else {
                throw ONNXProblem("input \(index) must be a constant vector")
            }
            parameters.append(values)
        }
        let channels = onnxShape(x).count > 1 ? onnxShape(x)[1] : 0
        guard parameters.allSatisfy({ $0.count == channels }) else {
            throw ONNXProblem("parameters of sizes \(parameters.map(\.count)) do not match the input's \(channels) channels")
        }
        let epsilon = node.float("epsilon", default: 1e-5)
        let scale = zip(parameters[0], parameters[3]).map { $0 / ($1 + epsilon).squareRoot() }
        let shift = (0..<channels).map { parameters[1][$0] - parameters[2][$0] * scale[$0] }
        // Folding rewrites the layer before, so nothing else may read its result: not another node
        // (through this name or an alias of it), not the graph's outputs.
        let unshared = readers[input] == 1 && !outputNames.contains(input) && values.values.filter { $0.id == x.id }.count == 1
            && graph.consumers()[x.id] == nil
        if unshared, try fold(scale: scale, shift: shift, into: x.id, name: resultName(node)) {
            define(node, x.id, layout: x.layout)
            return
        }
        let rank = onnxShape(x).count
        let shape = x.layout == .channelsLast ? [channels] : [channels] + Array(repeating: 1, count: max(rank - 2, 0))
        let id = x.layout == .channelsLast ? x.id : try plain(x, name: resultName(node))
        let scaled = try add(.multiply(activation: nil), [id, try materialize("\(resultName(node)).scale", shape: shape, values: scale)], node, suffix: ".scale")
        let result = try add(.add(activation: nil), [scaled, try materialize("\(resultName(node)).shift", shape: shape, values: shift)], node)
        define(node, result, layout: x.layout == .channelsLast ? .channelsLast : .plain)
    }

    /// Rescales the filter and bias of the layer producing `value` per output
    /// channel; `false` when that layer is not a convolution or matrix product with constant weights.
    mutating func fold(scale: [Float], shift: [Float], into value: ValueID, name: String) throws -> Bool {
        guard let index = graph.nodes.lastIndex(where: { $0.outputs.contains(value) }) else { return false }
        let layer = graph.nodes[index]
        guard layer.op.fusedActivation == nil, let filter = graph.constantData(layer.inputs[1]), filter.dtype == .float32
        else { return false }
        let channelIsFirst: Bool
        switch layer.op {
        case .conv2D, .fullyConnected: channelIsFirst = true
        case .depthwiseConv2D: channelIsFirst = false
        default: return false
        }
        let channels = scale.count
        guard filter.shape[channelIsFirst ? 0 : filter.shape.rank - 1] == channels else { return false }
        let inner = filter.elementCount / max(channels, 1)
        let weights = filter.floats().enumerated().map { offset, weight in
            weight * scale[channelIsFirst ? offset / max(inner, 1) : offset % channels]
        }
        let oldBias = layer.inputs.count > 2 ? graph.constantData(layer.inputs[2])?.floats() : nil
        guard layer.inputs.count < 3 || oldBias != nil else { return false }
        let bias = (0..<channels).map { (oldBias?[$0] ?? 0) * scale[$0] + shift[$0] }
        let newFilter = graph.addConstant(name: "\(name).folded_weight", data: TensorData(weights, shape: filter.shape))
        let newBias = graph.addConstant(name: "\(name).folded_bias", data: TensorData(bias, shape: [channels]))
        graph.nodes[index].inputs = [layer.inputs[0], newFilter, newBias]
        return true
    }

    /// `Gemm`: `alpha · A · op(B) + beta · C` as a fully-connected layer with constant `B` and `C`.
    mutating func convertGemm(_ node: ONNXNode) throws {
        guard node.int("transA", default: 0) == 0 else { throw ONNXProblem("transA = 1 is not supported") }
        let x = try operand(node.input(0))
        guard let (bShape, b) = try floats(node, 1), bShape.count == 2 else {
            throw ONNXProblem("input B must be a constant matrix")
        }
        let transposed = node.int("transB", default: 0) != 0
        let (units, depth) = transposed ? (bShape[0], bShape[1]) : (bShape[1], bShape[0])
        let (alpha, beta) = (node.float("alpha", default: 1), node.float("beta", default: 1))
        var filter = try ONNXWeights(self, node, 1, real: b)
        if !transposed { filter = filter.permuted(shape: bShape, [1, 0], axis: 0) }
        if alpha != 1 { filter = try filter.scaled(by: alpha) }
        var bias: ONNXWeights?
        var addend: ValueID?
        if node.inputs.count > 2, !node.inputs[2].isEmpty, try computedOperand(node.inputs[2]) != nil {
            // A computed C (tf2onnx fuses MatMul + Add into Gemm): the product plus C, broadcast.
            guard beta == 1 else { throw ONNXProblem("a computed C with beta \(beta) is not supported (only 1)") }
            addend = try plain(try operand(node.inputs[2]), name: resultName(node))
        } else if let (cShape, c) = try floats(node, 2) {
            guard c.count == units || c.count == 1, cShape.dropLast().allSatisfy({ $0 == 1 }) else {
                throw ONNXProblem("bias C of shape \(cShape) is not one value per output unit")
            }
            bias = try ONNXWeights(self, node, 2, real: c.count == units ? c : Array(repeating: c[0], count: units))
            if beta != 1 { bias = try bias?.scaled(by: beta) }
        }
        let product = try fullyConnected(node, x, filter: filter, units: units, depth: depth, bias: bias, name: node.inputs[1])
        define(node, try addend.map { try add(.add(activation: nil), [product, $0], node) } ?? product)
    }

    /// `MatMul`: a fully-connected layer when `B` is a constant matrix, a batch matrix product otherwise.
    mutating func convertMatMul(_ node: ONNXNode) throws {
        let x = try operand(node.input(0))
        if node.inputs.count > 1, values[node.inputs[1]] == nil, dequantized[node.inputs[1]]?.value == nil,
            let (bShape, b) = try floats(node, 1), bShape.count == 2
        {
            let product = try fullyConnected(
                node, x, filter: try ONNXWeights(self, node, 1, real: b).permuted(shape: bShape, [1, 0], axis: 0),
                units: bShape[1], depth: bShape[0], bias: nil, name: node.inputs[1])
            define(node, product)
            return
        }
        let a = try plain(x, name: resultName(node))
        let y = try plain(try operand(node.input(1)), name: resultName(node))
        guard graph.type(of: a).shape.rank >= 2, graph.type(of: y).shape.rank >= 2 else {
            throw ONNXProblem("matrix products of vectors are not supported (both operands need rank ≥ 2)")
        }
        define(node, try add(.batchMatMul(adjointA: false, adjointB: false), [a, y], node))
    }

    /// Appends a fully-connected layer over the last axis of `x` with `filter` as `[units, depth]`;
    /// a flattened channels-last input gets the filter's columns in its own order instead of a transpose.
    mutating func fullyConnected(
        _ node: ONNXNode, _ x: ONNXValue, filter: ONNXWeights, units: Int, depth: Int, bias: ONNXWeights?, name: String
    ) throws -> ValueID {
        var filter = filter
        var input: ValueID
        if case .flattenedChannelsLast(let channels, let height, let width) = x.layout, channels * height * width == depth {
            filter = filter.permuted(shape: [units, channels, height, width], [0, 2, 3, 1], axis: 0)
            input = x.id
        } else {
            input = try plain(x, name: resultName(node))
        }
        guard graph.type(of: input).shape.dimensions.last == depth else {
            throw ONNXProblem("input \(onnxShape(x)) has \(onnxShape(x).last ?? 0) features but the weights expect \(depth)")
        }
        var inputs = [input, try filter.constant(in: &self, name: "\(name).filter", shape: [units, depth])]
        if let bias { inputs.append(try bias.constant(in: &self, name: "\(resultName(node)).bias", shape: [units])) }
        return try add(.fullyConnected(activation: nil), inputs, node)
    }

    /// A two-value spatial attribute (height, width), 1s when absent; each must be a positive window size.
    func pair(_ node: ONNXNode, _ name: String) throws(ONNXProblem) -> [Int] {
        let values = node.ints(name) ?? [1, 1]
        guard values.count == 2, values.allSatisfy({ (1...Op.maximumWindowAttribute).contains($0) }) else {
            throw ONNXProblem("\(name) \(values) must be two values (height, width) from 1 to \(Op.maximumWindowAttribute)")
        }
        return values
    }

    /// The padding an ONNX window asks for: TensorFlow's `same` or `valid` where it is one of them, explicit otherwise.
    func windowPadding(_ node: ONNXNode, input: (Int, Int), kernel: [Int], strides: [Int], dilations: [Int])
        throws(ONNXProblem) -> (Padding, [[Int]]?)
    {
        let sizes = [input.0, input.1]
        // TensorFlow's `same`: the output is ceil(input / stride), the smaller half of the padding before.
        let same = (0..<2).map { axis -> [Int] in
            let output = (sizes[axis] + strides[axis] - 1) / max(strides[axis], 1)
            let total = max(0, (output - 1) * strides[axis] + (kernel[axis] - 1) * dilations[axis] + 1 - sizes[axis])
            return [total / 2, total - total / 2]
        }
        switch node.string("auto_pad") ?? "NOTSET" {
        case "VALID": return (.valid, nil)
        case "SAME_UPPER": return (.same, nil)
        case "SAME_LOWER": return (.valid, same.map { [$0[1], $0[0]] })
        case "NOTSET":
            let pads = node.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4, pads.allSatisfy({ (0...Op.maximumWindowAttribute).contains($0) }) else {
                throw ONNXProblem("pads \(pads) must be four values from 0 to \(Op.maximumWindowAttribute) for a 2-D window")
            }
            let explicit = [[pads[0], pads[2]], [pads[1], pads[3]]]
            if pads.allSatisfy({ $0 == 0 }) { return (.valid, nil) }
            if explicit == same { return (.same, nil) }
            return (.valid, explicit)
        case let other:
            throw ONNXProblem("auto_pad '\(other)' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
        }
    }
}

/// A layer's constant weights or bias: real values, or the int8 (int32 for
/// biases) data and parameters behind a `DequantizeLinear` in an int8 operator.
enum ONNXWeights {
    case real([Float])
    case quantized([Int32], QuantizationParameters, isInt32: Bool)

    /// The node's input `index`: the quantized data in an int8 operator, else `real`.
    init(_ conversion: ONNXConversion, _ node: ONNXNode, _ index: Int, real: [Float]) throws(ONNXProblem) {
        if let (_, values, parameters) = try conversion.quantizedWeights(node, index) {
            self = .quantized(values, parameters, isInt32: conversion.dequantized[node.inputs[index]]?.isInt32 ?? false)
        } else {
            self = .real(real)
        }
    }

    /// The node's optional input `index` (a bias), or `nil` when it is absent.
    static func input(_ conversion: ONNXConversion, _ node: ONNXNode, _ index: Int) throws(ONNXProblem) -> ONNXWeights? {
        guard let real = try conversion.floats(node, index)?.values else { return nil }
        return try ONNXWeights(conversion, node, index, real: real)
    }

    /// The weights with their axes reordered; per-channel parameters move to `axis`.
    func permuted(shape: [Int], _ permutation: [Int], axis: Int) -> ONNXWeights {
        switch self {
        case .real(let values):
            return .real(KilnImport.permuted(values, shape: shape, permutation))
        case .quantized(let values, var parameters, let isInt32):
            if parameters.axis != nil { parameters.axis = axis }
            return .quantized(KilnImport.permuted(values, shape: shape, permutation), parameters, isInt32: isInt32)
        }
    }

    /// The output channels `range` of weights with `count` output channels along their first axis.
    func channels(_ range: Range<Int>, of count: Int) -> ONNXWeights {
        func sliced<T>(_ values: [T]) -> [T] {
            let inner = values.count / max(count, 1)
            return Array(values[(range.lowerBound * inner)..<(range.upperBound * inner)])
        }
        switch self {
        case .real(let values):
            return .real(sliced(values))
        case .quantized(let values, var parameters, let isInt32):
            if parameters.scales.count == count {
                parameters = QuantizationParameters(
                    scales: Array(parameters.scales[range]), zeroPoints: Array(parameters.zeroPoints[range]), axis: parameters.axis)
            }
            return .quantized(sliced(values), parameters, isInt32: isInt32)
        }
    }

    /// Real weights times `factor`; quantized weights cannot be rescaled exactly.
    func scaled(by factor: Float) throws(ONNXProblem) -> ONNXWeights {
        guard case .real(let values) = self else {
            throw ONNXProblem("int8 weights with alpha or beta other than 1 are not supported")
        }
        return .real(values.map { $0 * factor })
    }

    /// The Kiln constant holding the weights with `shape`.
    func constant(in conversion: inout ONNXConversion, name: String, shape: [Int]) throws(ONNXProblem) -> ValueID {
        switch self {
        case .real(let values):
            return try conversion.materialize(name, shape: shape, values: values)
        case .quantized(let values, let parameters, let isInt32):
            guard Shape(shape).checkedElementCount == values.count else {
                throw ONNXProblem("'\(name)' holds \(values.count) values, not the \(shape) the layer needs")
            }
            let data =
                isInt32
                ? TensorData(int32: values, shape: Shape(shape))
                : TensorData(int8: values.map { Int8(clamping: $0) }, shape: Shape(shape))
            return conversion.graph.addConstant(name: name, data: data, quantization: parameters)
        }
    }
}
