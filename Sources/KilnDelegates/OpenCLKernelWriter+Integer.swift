import KilnIR

/// Kernels for int8 layers in Kiln's integer arithmetic (``QuantizedArithmetic``), equal bit for
/// bit to the reference interpreter and the CPU code: int32 sums requantized with a float32
/// multiplier per channel, lookup tables for activations, and exponential tables for softmax;
/// and for dynamic-range ("hybrid") layers, int8 filters under float activations.
extension OpenCLKernelWriter {
    /// The kernel for node `index` when it computes on integers (an int8 result, a dequantize, or
    /// a float layer with an int8 filter); `nil` for float nodes and for an int8 reshape that
    /// keeps its operand's parameters (it shares its buffer).
    func integerKernel(for index: Int) -> Kernel? {
        let node = graph.nodes[index]
        let output = node.outputs[0]
        let resultType = graph.type(of: output)
        if case .dequantize = node.op, let input = graph.type(of: node.inputs[0]).quantization {
            return makeKernel(
                index, operands: [node.inputs[0]],
                body: "    out_(i, \(Self.literal(input.scales[0])) * (float)((int)in0[i] - \(input.zeroPoints[0])));")
        }
        if resultType.dtype == .float32 {
            return hybridKernel(for: index)
        }
        guard resultType.dtype == .int8, let outputParameters = resultType.quantization else { return nil }
        let (outScale, outZero) = (outputParameters.scales[0], outputParameters.zeroPoints[0])
        let bounds = QuantizedArithmetic.activationRange(node.op.fusedActivation, scale: outScale, zeroPoint: outZero)
            ?? QuantizedArithmetic.int8Range
        let (low, high) = (bounds.lowerBound, bounds.upperBound)
        let input = node.inputs.first.map(graph.type(of:))
        let inputParameters = input?.quantization
        let (inScale, inZero) = (inputParameters?.scales[0] ?? 1, inputParameters?.zeroPoints[0] ?? 0)
        func kernel(_ body: String, operands: [ValueID], tables: [Table] = [], globalSize: Int? = nil) -> Kernel {
            makeKernel(index, operands: operands, tables: tables, body: body, globalSize: globalSize)
        }
        /// `q` of the first operand in the result's parameters (IntegerKernels' `requantized`).
        func requantized(_ q: String, scale: Float = inScale, zero: Int32 = inZero) -> String {
            if scale == outScale, zero == outZero { return "(int)(\(q))" }
            return "kiln_quantize(\(Self.literal(scale)) * (float)((int)(\(q)) - \(zero)) / \(Self.literal(outScale)), \(outZero), -128, 127)"
        }
        switch node.op {
        case .quantize where input?.dtype == .float32:
            return kernel(
                "    out[i] = (char)kiln_quantize(in0_(i) / \(Self.literal(outScale)), \(outZero), -128, 127);",
                operands: [node.inputs[0]])
        case .quantize, .reshape:
            if case .reshape = node.op, inScale == outScale, inZero == outZero { return nil }
            return kernel("    out[i] = (char)\(requantized("in0[i]"));", operands: [node.inputs[0]])
        case .fullyConnected, .conv2D, .depthwiseConv2D:
            guard let scales = requantizationScales(node, outScale: outScale) else { return nil }
            let hasBias = node.inputs.count > 2
            let finish = "out[i] = (char)kiln_quantize((float)(sum\(hasBias ? " + in2[c]" : "")) * t0[c], \(outZero), \(low), \(high));"
            let body: String
            if case .fullyConnected = node.op {
                let filter = graph.type(of: node.inputs[1]).shape
                let (units, depth) = (filter[0], filter[1])
                body = """
                        const int row = i / \(units), c = i % \(units);
                        int sum = 0;
                        for (int k = 0; k < \(depth); ++k) sum += ((int)in0[row * \(depth) + k] - \(inZero)) * (int)in1[k * \(units) + c];
                        \(finish)
                    """
            } else {
                let attributes: Conv2DAttributes
                switch node.op {
                case .conv2D(let value), .depthwiseConv2D(let value): attributes = value
                default: return nil
                }
                body = convolutionLoops(
                    node, attributes, start: "int sum = 0;",
                    tap: { x, w in "sum += ((int)\(x) - \(inZero)) * (int)\(w);" }, finish: finish)
            }
            let operands = hasBias ? [node.inputs[0], node.inputs[1], node.inputs[2]] : [node.inputs[0], node.inputs[1]]
            // The scales go first among the tables: t0.
            return kernel(body, operands: operands, tables: [Table(type: "float", bytes: Self.bytes(of: scales))])
        case .maxPool2D(let attributes):
            return kernel(
                poolLoops(
                    node, attributes, start: "int best = -128;", tap: "best = max(best, (int)in0[v]);",
                    finish: "out[i] = (char)\(requantized("best"));"), operands: [node.inputs[0]])
        case .averagePool2D(let attributes):
            let finish = """
                const int rounded = count == 0 ? 0 : (sum >= 0 ? (sum + count / 2) / count : (sum - count / 2) / count);
                    out[i] = (char)\(requantized("rounded"));
                """
            return kernel(
                poolLoops(node, attributes, start: "int sum = 0;", tap: "sum += (int)in0[v];", finish: finish),
                operands: [node.inputs[0]])
        case .activation(let function):
            guard let inputParameters else { return nil }
            let table = QuantizedArithmetic.lookupTable(function, input: inputParameters, output: outputParameters)
            return kernel(
                "    out[i] = t0[(int)in0[i] + 128];", operands: [node.inputs[0]],
                tables: [Table(type: "char", bytes: table.map { UInt8(bitPattern: $0) })])
        case .softmax:
            let depth = resultType.shape.dimensions.last ?? 1
            let exponentials = QuantizedArithmetic.softmaxExponentials(inputScale: inScale)
            let body = """
                    const __global char *x = in0 + i * \(depth);
                    __global char *y = out + i * \(depth);
                    int maximum = -128;
                    for (int k = 0; k < \(depth); ++k) maximum = max(maximum, (int)x[k]);
                    float sum = 0.0f;
                    for (int k = 0; k < \(depth); ++k) sum += t0[maximum - (int)x[k]];
                    const float reciprocal = 1.0f / (sum * \(Self.literal(outScale)));
                    for (int k = 0; k < \(depth); ++k)
                        y[k] = (char)kiln_quantize(t0[maximum - (int)x[k]] * reciprocal, \(outZero), -128, 127);
                """
            return kernel(
                body, operands: [node.inputs[0]], tables: [Table(type: "float", bytes: Self.bytes(of: exponentials))],
                globalSize: resultType.shape.elementCount / max(depth, 1))
        case .add, .multiply, .subtract, .binary:
            let b = graph.type(of: node.inputs[1]).quantization
            let (bScale, bZero) = (b?.scales[0] ?? 1, b?.zeroPoints[0] ?? 0)
            let ia = broadcastIndex(of: node.inputs[0], into: resultType.shape)
            let ib = broadcastIndex(of: node.inputs[1], into: resultType.shape)
            let body = """
                    const float a = \(Self.literal(inScale)) * (float)((int)in0[\(ia)] - \(inZero));
                    const float b = \(Self.literal(bScale)) * (float)((int)in1[\(ib)] - \(bZero));
                    out[i] = (char)kiln_quantize(\(Self.function(of: node.op))(a, b) / \(Self.literal(outScale)), \(outZero), \(low), \(high));
                """
            return kernel(body, operands: Array(node.inputs[0..<2]))
        case .concatenation(let axis, _):
            let parameters = node.inputs.map { graph.type(of: $0).quantization }
            let body = concatenationBody(
                node, axis: axis,
                read: { operand, index in
                    requantized(
                        "in\(operand)[\(index)]", scale: parameters[operand]?.scales[0] ?? 1,
                        zero: parameters[operand]?.zeroPoints[0] ?? 0)
                }, finish: "out[i] = (char)clamp(v, \(low), \(high));", valueType: "int")
            return kernel(body, operands: node.inputs)
        case .pad(let paddings):
            return kernel(
                padBody(node, paddings, outside: "(char)\(requantized("\(inZero)"))", read: { "(char)\(requantized("in0[\($0)]"))" }),
                operands: [node.inputs[0]])
        case .slice(let begin, _):
            return kernel("    out[i] = (char)\(requantized("in0[\(sliceIndex(node, begin))]"));", operands: [node.inputs[0]])
        case .transpose(let permutation):
            return kernel(
                "    out[i] = (char)\(requantized("in0[\(transposeIndex(node, permutation))]"));", operands: [node.inputs[0]])
        case .mean(let axes, _):
            let count = reducedCount(node, axes)
            let loops = reductionLoops(
                node, axes: axes, initial: "0.0f", combine: "acc += v;", read: "(float)((int)in0[OFFSET] - \(inZero))")
            return kernel(
                loops + """

                        out[i] = (char)kiln_quantize(\(Self.literal(inScale)) * acc / (\(count).0f * \(Self.literal(outScale))), \(outZero), -128, 127);
                    """, operands: [node.inputs[0]])
        case .reduce(let function, let axes, _):
            switch function {
            case .maximum, .minimum:
                let loops = reductionLoops(
                    node, axes: axes, initial: function == .maximum ? "-128" : "127",
                    combine: function == .maximum ? "acc = max(acc, v);" : "acc = min(acc, v);", read: "(int)in0[OFFSET]",
                    type: "int")
                return kernel(loops + "\n    out[i] = (char)\(requantized("acc"));", operands: [node.inputs[0]])
            case .sum:
                let loops = reductionLoops(
                    node, axes: axes, initial: "0.0f", combine: "acc += v;", read: "(float)((int)in0[OFFSET] - \(inZero))")
                return kernel(
                    loops + "\n    out[i] = (char)kiln_quantize(acc * \(Self.literal(inScale / outScale)), \(outZero), -128, 127);",
                    operands: [node.inputs[0]])
            case .product:
                // Dequantized factors multiplied in float32 in input order, then quantized.
                let loops = reductionLoops(
                    node, axes: axes, initial: "1.0f", combine: "acc *= v;",
                    read: "\(Self.literal(inScale)) * (float)((int)in0[OFFSET] - \(inZero))")
                return kernel(
                    loops + "\n    out[i] = (char)kiln_quantize(acc / \(Self.literal(outScale)), \(outZero), -128, 127);",
                    operands: [node.inputs[0]])
            }
        default:
            return nil
        }
    }

    /// A float layer with an int8 filter: `act(s[c] · Σ x · (q − z[c]) + b[c])`, the sum from zero
    /// in input order without fused multiply-adds, as the reference computes it; `nil` otherwise.
    private func hybridKernel(for index: Int) -> Kernel? {
        let node = graph.nodes[index]
        guard node.inputs.count >= 2, graph.type(of: node.inputs[0]).dtype == .float32,
            graph.type(of: node.inputs[1]).dtype == .int8, let filter = graph.type(of: node.inputs[1]).quantization
        else { return nil }
        let channels = graph.type(of: node.outputs[0]).shape.dimensions.last ?? 1
        let perChannel = filter.axis != nil && filter.scales.count == channels
        let scales = (0..<channels).map { filter.scales[perChannel ? $0 : 0] }
        let zeros = (0..<channels).map { Float(filter.zeroPoints[perChannel ? $0 : 0]) }
        let hasBias = node.inputs.count > 2
        let activation = node.op.fusedActivation
        let finish = "out_(i, \(Self.call(activation))(sum * t0[c]\(hasBias ? " + in2_(c)" : "")));"
        let body: String
        switch node.op {
        case .fullyConnected:
            let shape = graph.type(of: node.inputs[1]).shape
            let (units, depth) = (shape[0], shape[1])
            body = """
                    const int row = i / \(units), c = i % \(units);
                    float sum = 0.0f;
                    for (int k = 0; k < \(depth); ++k) sum += in0_(row * \(depth) + k) * ((float)in1[k * \(units) + c] - t1[c]);
                    \(finish)
                """
        case .conv2D(let attributes), .depthwiseConv2D(let attributes):
            body = convolutionLoops(
                node, attributes, start: "float sum = 0.0f;", tap: { x, w in "sum += \(x) * ((float)\(w) - t1[c]);" },
                finish: finish)
        default:
            return nil
        }
        return makeKernel(
            index, operands: Array(node.inputs.prefix(hasBias ? 3 : 2)),
            tables: [Table(type: "float", bytes: Self.bytes(of: scales)), Table(type: "float", bytes: Self.bytes(of: zeros))],
            body: body)
    }

    /// Each output channel's requantization multiplier `inputScale · filterScale / outputScale`.
    private func requantizationScales(_ node: Node, outScale: Float) -> [Float]? {
        guard let input = graph.type(of: node.inputs[0]).quantization,
            let filter = graph.type(of: node.inputs[1]).quantization
        else { return nil }
        let channels = graph.type(of: node.outputs[0]).shape.dimensions.last ?? 1
        return (0..<channels).map { channel in
            QuantizedArithmetic.requantizationScale(
                input: input.scales[0], filter: filter.scales.count == 1 ? filter.scales[0] : filter.scales[channel],
                output: outScale)
        }
    }

    /// The little-endian bytes of `values`.
    static func bytes(of values: [Float]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) }
    }
}
