import KilnIR

/// Kernels for the ops that pick, interpolate or convert rather than multiply filters: resize
/// (nearest, bilinear, bicubic; float32 and int8), gather, arg-max/min, casts between float32
/// and int32, and batch matrix products (float32, and int8 with int32 sums). Each follows the reference interpreter's order
/// of operations, so float results are its own bit for bit and int8 results its integers.
extension OpenCLKernelWriter {
    /// The kernel for one of those ops at node `index`, or `nil` for any other node.
    func selectionKernel(for index: Int) -> Kernel? {
        let node = graph.nodes[index]
        switch node.op {
        case .resize(let attributes): return resizeKernel(index, attributes)
        case .gather(let axis): return gatherKernel(index, axis: axis)
        case .argExtremum(let extremum, let axis, _): return argExtremumKernel(index, extremum, axis: axis)
        case .cast(let dtype): return castKernel(index, to: dtype)
        case .batchMatMul(let adjointA, let adjointB): return batchMatMulKernel(index, adjointA: adjointA, adjointB: adjointB)
        default: return nil
        }
    }

    /// The parameters of an int8 value, or `nil` for a value of another type.
    private func int8Parameters(_ value: ValueID) -> (scale: Float, zero: Int32)? {
        let type = graph.type(of: value)
        guard type.dtype == .int8, let quantization = type.quantization else { return nil }
        return (quantization.scales[0], quantization.zeroPoints[0])
    }

    /// `q`, an int8 step of `from`, in `to`'s parameters (IntegerKernels' `requantized`).
    private func requantized(_ q: String, from: (scale: Float, zero: Int32), to: (scale: Float, zero: Int32)) -> String {
        if from == to { return "(int)(\(q))" }
        return "kiln_quantize(\(Self.literal(from.scale)) * (float)((int)(\(q)) - \(from.zero)) / \(Self.literal(to.scale)), \(to.zero), -128, 127)"
    }

    /// The little-endian bytes of int32 `values`.
    private static func bytes(ofIntegers values: [Int]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: Int32(truncatingIfNeeded: value).littleEndian, Array.init) }
    }

    /// An NHWC resize through build-time tables of each output row's and column's input positions
    /// and weights. Float: `Kernels.resize`'s arithmetic. Int8: nearest picks and requantizes;
    /// interpolation runs on steps from the input's zero point and rescales once.
    private func resizeKernel(_ index: Int, _ attributes: ResizeAttributes) -> Kernel? {
        let node = graph.nodes[index]
        let input = graph.type(of: node.inputs[0]).shape
        let output = graph.type(of: node.outputs[0]).shape
        guard input.rank == 4, output.rank == 4 else { return nil }
        let (height, width, channels) = (input[1], input[2], input[3])
        let integer = int8Parameters(node.inputs[0]).flatMap { x in int8Parameters(node.outputs[0]).map { (x, $0) } }
        if graph.type(of: node.inputs[0]).dtype == .int8, integer == nil { return nil }
        let read: (String, String) -> String = { y, x in
            let offset = "((n * \(height) + (\(y))) * \(width) + (\(x))) * \(channels) + c"
            return integer.map { "(float)((int)in0[\(offset)] - \($0.0.zero))" } ?? "in0_(\(offset))"
        }
        let store: (String) -> String = { value in
            guard let (x, y) = integer else { return "out_(i, \(value));" }
            return "out[i] = (char)kiln_quantize(\(value) * \(Self.literal(x.scale / y.scale)), \(y.zero), -128, 127);"
        }
        let head = """
                const int c = i % \(channels);
                const int ox = i / \(channels) % \(output[2]);
                const int oy = i / \(channels * output[2]) % \(output[1]);
                const int n = i / \(channels * output[2] * output[1]);
            """
        let body: String
        let tables: [Table]
        switch attributes.method {
        case .nearest:
            let rows = attributes.sources(input: height, output: output[1]).map(\.lower)
            let columns = attributes.sources(input: width, output: output[2]).map(\.lower)
            tables = [Table(type: "int", bytes: Self.bytes(ofIntegers: rows)), Table(type: "int", bytes: Self.bytes(ofIntegers: columns))]
            let offset = "((n * \(height) + t0[oy]) * \(width) + t1[ox]) * \(channels) + c"
            if let (x, y) = integer {
                body = head + "\n    out[i] = (char)\(requantized("in0[\(offset)]", from: x, to: y));"
            } else {
                body = head + "\n    out_(i, in0_(\(offset)));"
            }
        case .bilinear:
            let rows = attributes.sources(input: height, output: output[1])
            let columns = attributes.sources(input: width, output: output[2])
            tables = [
                Table(type: "int", bytes: Self.bytes(ofIntegers: rows.flatMap { [$0.lower, $0.upper] })),
                Table(type: "float", bytes: Self.bytes(of: rows.map(\.weight))),
                Table(type: "int", bytes: Self.bytes(ofIntegers: columns.flatMap { [$0.lower, $0.upper] })),
                Table(type: "float", bytes: Self.bytes(of: columns.map(\.weight))),
            ]
            body = head + """

                    const int y0 = t0[2 * oy], y1 = t0[2 * oy + 1], x0 = t2[2 * ox], x1 = t2[2 * ox + 1];
                    const float a = \(read("y0", "x0")), b = \(read("y0", "x1")), d = \(read("y1", "x0")), e = \(read("y1", "x1"));
                    const float top = a + (b - a) * t3[ox];
                    const float bottom = d + (e - d) * t3[ox];
                    \(store("(top + (bottom - top) * t1[oy])"))
                """
        case .bicubic:
            let rows = attributes.cubicTaps(input: height, output: output[1])
            let columns = attributes.cubicTaps(input: width, output: output[2])
            guard rows.allSatisfy({ $0.count == 4 }), columns.allSatisfy({ $0.count == 4 }) else { return nil }
            tables = [
                Table(type: "int", bytes: Self.bytes(ofIntegers: rows.flatMap { $0.map(\.index) })),
                Table(type: "float", bytes: Self.bytes(of: rows.flatMap { $0.map(\.weight) })),
                Table(type: "int", bytes: Self.bytes(ofIntegers: columns.flatMap { $0.map(\.index) })),
                Table(type: "float", bytes: Self.bytes(of: columns.flatMap { $0.map(\.weight) })),
            ]
            body = head + """

                    float sum = 0.0f;
                    for (int r = 0; r < 4; ++r) {
                        const int y = t0[4 * oy + r];
                        float line = 0.0f;
                        for (int q = 0; q < 4; ++q) line += t3[4 * ox + q] * \(read("y", "t2[4 * ox + q]"));
                        sum += t1[4 * oy + r] * line;
                    }
                    \(store("sum"))
                """
        }
        return makeKernel(index, operands: [node.inputs[0]], tables: tables, body: body)
    }

    /// Slices of operand 0 along `axis` at the int32 indices of operand 1, negative ones counting
    /// from the end; an index still outside the axis gives zero (the zero point for int8).
    private func gatherKernel(_ index: Int, axis: Int) -> Kernel? {
        let node = graph.nodes[index]
        guard node.inputs.count == 2, graph.type(of: node.inputs[1]).dtype == .int32 else { return nil }
        let shape = graph.type(of: node.inputs[0]).shape
        guard let axis = Op.normalizedAxis(axis, rank: shape.rank) else { return nil }
        let inner = shape.dimensions[(axis + 1)...].reduce(1, *)
        let count = shape[axis]
        let picks = graph.type(of: node.inputs[1]).shape.elementCount
        var body = """
                const int inner = i % \(inner), j = i / \(inner) % \(picks), o = i / \(inner * picks);
                const int requested = in1[j];
                const int at = requested < 0 ? requested + \(count) : requested;
                const bool inside = at >= 0 && at < \(count);
                const int source = (o * \(count) + (inside ? at : 0)) * \(inner) + inner;
            """
        if let x = int8Parameters(node.inputs[0]) {
            guard let y = int8Parameters(node.outputs[0]) else { return nil }
            body += "\n    out[i] = (char)\(requantized("inside ? (int)in0[source] : \(x.zero)", from: x, to: y));"
        } else {
            body += "\n    out_(i, inside ? in0_(source) : 0.0f);"
        }
        return makeKernel(index, operands: node.inputs, body: body)
    }

    /// The first position of the largest (smallest) element along `axis`; a NaN wins where it
    /// first appears. Int8 steps compare as their real values do (scales are positive).
    private func argExtremumKernel(_ index: Int, _ extremum: Extremum, axis: Int) -> Kernel? {
        let node = graph.nodes[index]
        let shape = graph.type(of: node.inputs[0]).shape
        guard let axis = Op.normalizedAxis(axis, rank: shape.rank), graph.type(of: node.outputs[0]).dtype == .int32 else {
            return nil
        }
        let inner = shape.dimensions[(axis + 1)...].reduce(1, *)
        let count = shape[axis]
        let integer = graph.type(of: node.inputs[0]).dtype == .int8
        let type = integer ? "int" : "float"
        let read = { (position: String) in
            integer ? "(int)in0[base + (\(position)) * \(inner)]" : "in0_(base + (\(position)) * \(inner))"
        }
        let better = extremum == .maximum ? ">" : "<"
        let body = """
                const int base = i / \(inner) * \(count * inner) + i % \(inner);
                int best = 0;
                \(type) value = \(read("0"));
                for (int k = 1; k < \(count); ++k) {
                    if (\(integer ? "false" : "isnan(value)")) break;
                    const \(type) candidate = \(read("k"));
                    if (\(integer ? "" : "isnan(candidate) || ")candidate \(better) value) { best = k; value = candidate; }
                }
                out[i] = best;
            """
        return makeKernel(index, operands: [node.inputs[0]], body: body)
    }

    /// float32 → int32 toward zero, saturating, NaN to 0; int32 → float32 rounding to nearest.
    private func castKernel(_ index: Int, to dtype: DType) -> Kernel? {
        let node = graph.nodes[index]
        switch (graph.type(of: node.inputs[0]).dtype, dtype) {
        case (.float32, .int32):
            let body = """
                    const float x = in0_(i);
                    out[i] = isnan(x) ? 0 : (x >= 2147483648.0f ? INT_MAX : (x <= -2147483648.0f ? INT_MIN : (int)x));
                """
            return makeKernel(index, operands: [node.inputs[0]], body: body)
        case (.int32, .float32):
            return makeKernel(index, operands: [node.inputs[0]], body: "    out_(i, convert_float_rte(in0[i]));")
        default:
            return nil
        }
    }

    /// `out[b, m, n] = Σ_k A[b, m, k] · B[b, k, n]` over broadcast batch axes, adjoint operands
    /// read transposed, the sum from zero in `k` order without fused multiply-adds (the reference's).
    /// Int8: `Σ (a − za)(b − zb)` in int32, requantized with the float32 multiplier `sa · sb / so`.
    private func batchMatMulKernel(_ index: Int, adjointA: Bool, adjointB: Bool) -> Kernel? {
        let node = graph.nodes[index]
        let (a, b) = (graph.type(of: node.inputs[0]), graph.type(of: node.inputs[1]))
        let result = graph.type(of: node.outputs[0]).shape
        guard a.dtype == b.dtype, a.shape.rank >= 2, b.shape.rank >= 2, result.rank >= 2 else { return nil }
        var integer: (a: (scale: Float, zero: Int32), b: (scale: Float, zero: Int32), out: (scale: Float, zero: Int32))?
        if a.dtype == .int8 {
            guard let x = int8Parameters(node.inputs[0]), let y = int8Parameters(node.inputs[1]),
                let z = int8Parameters(node.outputs[0])
            else { return nil }
            integer = (x, y, z)
        } else if a.dtype != .float32 {
            return nil
        }
        let rank = result.rank
        let (rows, columns) = (result[rank - 2], result[rank - 1])
        let depth = adjointA ? a.shape[a.shape.rank - 2] : a.shape[a.shape.rank - 1]
        let batchShape = Shape(Array(result.dimensions.dropLast(2)))
        /// The element offset of batch `batch`'s matrix in an operand, its batch axes broadcast.
        func batchOffset(_ operand: Shape, matrix: Int) -> String {
            let operandBatch = Array(operand.dimensions.dropLast(2))
            let padded = [Int](repeating: 1, count: batchShape.rank - operandBatch.count) + operandBatch
            let strides = Shape(padded).strides
            let terms = batchShape.strides.enumerated().compactMap { axis, stride -> String? in
                padded[axis] == 1 ? nil : "(batch / \(stride) % \(batchShape[axis])) * \(strides[axis] * matrix)"
            }
            return terms.isEmpty ? "0" : terms.joined(separator: " + ")
        }
        let x = adjointA ? "k * \(rows) + m" : "m * \(depth) + k"
        let y = adjointB ? "n * \(depth) + k" : "k * \(columns) + n"
        let head = """
                const int n = i % \(columns), m = i / \(columns) % \(rows), batch = i / \(rows * columns);
                const int aBase = \(batchOffset(a.shape, matrix: rows * depth)), bBase = \(batchOffset(b.shape, matrix: depth * columns));
            """
        let body: String
        if let integer {
            let scale = QuantizedArithmetic.requantizationScale(
                input: integer.a.scale, filter: integer.b.scale, output: integer.out.scale)
            body = head + """

                    int sum = 0;
                    for (int k = 0; k < \(depth); ++k)
                        sum += ((int)in0[aBase + \(x)] - \(integer.a.zero)) * ((int)in1[bBase + \(y)] - \(integer.b.zero));
                    out[i] = (char)kiln_quantize((float)sum * \(Self.literal(scale)), \(integer.out.zero), -128, 127);
                """
        } else {
            body = head + """

                    float sum = 0.0f;
                    for (int k = 0; k < \(depth); ++k) sum += in0_(aBase + \(x)) * in1_(bBase + \(y));
                    out_(i, sum);
                """
        }
        return makeKernel(index, operands: Array(node.inputs[0..<2]), body: body)
    }
}
