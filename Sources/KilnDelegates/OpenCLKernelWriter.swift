import Foundation
import KilnIR

/// Writes one OpenCL C kernel per node: one work-item per output element (per row for softmax),
/// every shape and stride a literal, sums started from the bias and accumulated tap by tap with
/// `fma` in the order Kiln's CPU kernels use, so results agree with them to rounding.
///
/// Parameters are the node's operands in order, then its result, all `__global float *`.
struct OpenCLKernelWriter {
    let graph: Graph
    /// The float values stored in half precision on the device (read and written as float32).
    var halfValues: Set<ValueID> = []

    /// A generated kernel: its name, source, buffer arguments and global size.
    struct Kernel {
        var name: String
        var source: String
        var arguments: [Argument]
        var globalSize: [Int]
    }

    /// One buffer parameter of a kernel: a value of the graph, a filter with its output channels
    /// moved innermost, or read-only data computed at build time for this kernel alone
    /// (requantization scales, lookup tables).
    enum Argument {
        case value(ValueID)
        /// `[O, …]` stored as `[…, O]`: neighbouring work-items (output channels) read neighbouring
        /// weights, which a GPU coalesces into one memory transaction and PoCL into one vector load.
        case channelsLastFilter(ValueID)
        case table([UInt8])
    }

    /// The functions every kernel may call: activations and two-operand functions with the
    /// reference interpreter's NaN rules.
    static let prelude = """
        static inline float kiln_relu(float x) { return x < 0.0f ? 0.0f : x; }
        static inline float kiln_relu6(float x) { return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x); }
        static inline float kiln_sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }
        static inline float kiln_tanh(float x) { return tanh(x); }
        static inline float kiln_gelu(float x) { return 0.5f * x * erfc(-x * 0.70710678118654752f); }
        static inline float kiln_hardSwish(float x) {
            float s = x + 3.0f;
            return (x * (1.0f / 6.0f)) * (s < 0.0f ? 0.0f : (s > 6.0f ? 6.0f : s));
        }
        static inline float kiln_elu(float x) { return x < 0.0f ? expm1(x) : x; }
        static inline float kiln_reluMinus1To1(float x) { return x < -1.0f ? -1.0f : (x > 1.0f ? 1.0f : x); }
        static inline float kiln_relu0To1(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
        static inline float kiln_exp(float x) { return exp(x); }
        static inline float kiln_log(float x) { return log(x); }
        static inline float kiln_sqrt(float x) { return sqrt(x); }
        static inline float kiln_rsqrt(float x) { return 1.0f / sqrt(x); }
        static inline float kiln_abs(float x) { return fabs(x); }
        static inline float kiln_negate(float x) { return -x; }
        static inline float kiln_erf(float x) { return erf(x); }
        static inline float kiln_identity(float x) { return x; }
        static inline float kiln_add(float a, float b) { return a + b; }
        static inline float kiln_multiply(float a, float b) { return a * b; }
        static inline float kiln_subtract(float a, float b) { return a - b; }
        static inline float kiln_divide(float a, float b) { return a / b; }
        static inline float kiln_minimum(float a, float b) { return isnan(a) || isnan(b) ? NAN : fmin(a, b); }
        static inline float kiln_maximum(float a, float b) { return isnan(a) || isnan(b) ? NAN : fmax(a, b); }
        static inline float kiln_squaredDifference(float a, float b) { float d = a - b; return d * d; }
        static inline float kiln_power(float a, float b) { return pow(a, b); }
        static inline float kiln_prelu(float a, float b) { return a < 0.0f ? a * b : a; }
        /* QuantizedArithmetic.quantize: clamp in steps, round half to even, add the zero point. */
        static inline int kiln_quantize(float value, int zero, int low, int high) {
            const float limited = isnan(value) ? 0.0f : fmin(fmax(value, (float)(low - zero)), (float)(high - zero));
            return (int)rint(limited) + zero;
        }
        /* QuantizedArithmetic.dynamicRangeParameters and roundToGrid, in float32 as XNNPACK computes them. */
        static inline float kiln_round_to_grid(float x, float minimum, float maximum) {
            const float low = minimum < 0.0f ? minimum : 0.0f;
            const float high = maximum > 0.0f ? maximum : 0.0f;
            const float scale = low == high ? 1.0f : 255.0f / (high - low);
            const float lowScaled = low * scale, highScaled = high * scale;
            float zero = (-128.0f + lowScaled) + (127.0f + highScaled) > 0.0f ? -128.0f - lowScaled : 127.0f - highScaled;
            zero = zero > -128.0f ? (zero > 127.0f ? 127.0f : zero) : -128.0f;
            const float step = isnan(maximum) ? NAN : 1.0f / scale;
            const float multiplier = 1.0f / step;
            const int z = (int)rint(zero);
            return (float)(kiln_quantize(x * multiplier, z, -128, 127) - z) * step;
        }
        """

    /// The kernel for node `index`, or `nil` for a reshape whose result shares its operand's buffer.
    func kernel(for index: Int) -> Kernel? {
        let node = graph.nodes[index]
        if let integer = integerKernel(for: index) { return integer }
        let output = node.outputs[0]
        let outputShape = graph.type(of: output).shape
        func kernel(_ body: String, operands: [ValueID], tables: [Table] = []) -> Kernel {
            makeKernel(index, operands: operands, tables: tables, body: body)
        }
        switch node.op {
        case .reshape:
            return nil
        case .activation(let function):
            return kernel("    out_(i, \(Self.call(function))(in0_(i)));", operands: [node.inputs[0]])
        case .add(let activation), .multiply(let activation), .subtract(let activation), .binary(_, let activation):
            let a = broadcastIndex(of: node.inputs[0], into: outputShape)
            let b = broadcastIndex(of: node.inputs[1], into: outputShape)
            return kernel(
                "    out_(i, \(Self.call(activation))(\(Self.function(of: node.op))(in0_(\(a)), in1_(\(b)))));",
                operands: Array(node.inputs[0..<2]))
        case .fullyConnected(let activation):
            let filter = graph.type(of: node.inputs[1]).shape
            let (units, depth) = (filter[0], filter[1])
            let hasBias = node.inputs.count > 2
            let body = """
                    const int row = i / \(units), unit = i % \(units);
                    float sum = \(hasBias ? "in2_(unit)" : "0.0f");
                    for (int k = 0; k < \(depth); ++k) sum = fma(in0_(row * \(depth) + k), in1_(k * \(units) + unit), sum);
                    out_(i, \(Self.call(activation))(sum));
                """
            return kernel(body, operands: node.inputs)
        case .conv2D(let attributes), .depthwiseConv2D(let attributes):
            let hasBias = node.inputs.count > 2
            let body = convolutionLoops(
                node, attributes, start: "float sum = \(hasBias ? "in2_(c)" : "0.0f");",
                tap: { x, w in "sum = fma(\(x), \(w), sum);" }, finish: "out_(i, \(Self.call(attributes.activation))(sum));")
            return kernel(body, operands: node.inputs)
        case .maxPool2D(let attributes), .averagePool2D(let attributes):
            let average: Bool = if case .averagePool2D = node.op { true } else { false }
            return kernel(floatPoolBody(node, attributes, average: average), operands: [node.inputs[0]])
        case .softmax:
            let depth = outputShape.dimensions.last ?? 1
            let body = """
                    const int row = i * \(depth);
                    float maximum = -INFINITY;
                    bool nan = false;
                    for (int k = 0; k < \(depth); ++k) { const float x = in0_(row + k); nan |= isnan(x); maximum = fmax(maximum, x); }
                    if (nan) maximum = NAN;
                    float sum = 0.0f;
                    for (int k = 0; k < \(depth); ++k) sum += exp(in0_(row + k) - maximum);
                    for (int k = 0; k < \(depth); ++k) out_(row + k, exp(in0_(row + k) - maximum) / sum);
                """
            return makeKernel(
                index, operands: [node.inputs[0]], body: body, globalSize: outputShape.elementCount / max(depth, 1))
        case .concatenation(let axis, let activation):
            return kernel(
                concatenationBody(node, axis: axis, read: { "in\($0)_(\($1))" }, finish: "out_(i, \(Self.call(activation))(v));",
                valueType: "float"),
                operands: node.inputs)
        case .pad(let paddings):
            return kernel(padBody(node, paddings, outside: "0.0f", read: { "in0_(\($0))" }), operands: [node.inputs[0]])
        case .slice(let begin, _):
            return kernel("    out_(i, in0_(\(sliceIndex(node, begin))));", operands: [node.inputs[0]])
        case .transpose(let permutation):
            return kernel("    out_(i, in0_(\(transposeIndex(node, permutation))));", operands: [node.inputs[0]])
        case .mean(let axes, _):
            let count = reducedCount(node, axes)
            return kernel(
                reductionLoops(node, axes: axes, initial: "0.0f", combine: "acc += v;", read: "in0_(OFFSET)")
                    + "\n    out_(i, acc / \(count).0f);", operands: [node.inputs[0]])
        case .reduce(let function, let axes, _):
            let (initial, combine): (String, String) =
                switch function {
                case .sum: ("0.0f", "acc += v;")
                case .maximum: ("-INFINITY", "acc = kiln_maximum(acc, v);")
                case .minimum: ("INFINITY", "acc = kiln_minimum(acc, v);")
                case .product: ("1.0f", "acc *= v;")
                }
            return kernel(
                reductionLoops(node, axes: axes, initial: initial, combine: combine, read: "in0_(OFFSET)")
                    + "\n    out_(i, acc);", operands: [node.inputs[0]])
        case .resize, .gather, .argExtremum, .cast, .batchMatMul:
            return selectionKernel(for: index)
        case .dynamicRangeQuantize(let scope):
            let shape = graph.type(of: node.inputs[0]).shape
            let group = scope == .perRow ? (shape.dimensions.last ?? 1) : shape.elementCount / max(shape.first ?? 1, 1)
            let body = """
                    const int start = i * \(group);
                    float minimum = INFINITY, maximum = -INFINITY;
                    bool nan = false, any = false;
                    for (int k = 0; k < \(group); ++k) {
                        const float x = in0_(start + k);
                        nan |= isnan(x);
                        if (!isnan(x)) { minimum = fmin(minimum, x); maximum = fmax(maximum, x); any = true; }
                    }
                    if (!any) { minimum = 0.0f; maximum = 0.0f; }
                    if (nan) maximum = NAN;
                    for (int k = 0; k < \(group); ++k) out_(start + k, kiln_round_to_grid(in0_(start + k), minimum, maximum));
                """
            return makeKernel(
                index, operands: [node.inputs[0]], body: body, globalSize: shape.elementCount / max(group, 1))
        default:
            // OpenCLSupport keeps every other op on the CPU.
            return nil
        }
    }

    /// Build-time data a kernel reads: its element type in OpenCL C and its bytes.
    struct Table {
        var type: String
        var bytes: [UInt8]
    }

    /// A kernel for node `index` whose work-item `i` (one per output element unless `globalSize`
    /// says otherwise) runs `body` over `in0…` (the operands), `t0…` (the tables) and `out`.
    func makeKernel(_ index: Int, operands: [ValueID], tables: [Table] = [], body: String, globalSize: Int? = nil) -> Kernel {
        // The node's index keeps names unique; its op makes profiles readable ("kiln_3_conv2d").
        let kind = String(graph.nodes[index].op.kindName.map { $0.isLetter || $0.isNumber ? $0 : "_" })
        let name = "kiln_\(index)_\(kind)"
        let output = graph.nodes[index].outputs[0]
        let parameters =
            operands.enumerated().map { "__global const \(cType(of: $1)) *restrict in\($0)" }
            + tables.enumerated().map { "__global const \($1.type) *restrict t\($0)" }
            + ["__global \(cType(of: output)) *restrict out"]
        // `inK_(index)` reads operand K and `out_(index, value)` writes the result, whatever their
        // storage: half-precision buffers go through vload_half and vstore_half, rounding to nearest.
        let names = operands.indices.map { "in\($0)" }
        var macros: [String] = []
        for (name, value) in zip(names, operands) {
            macros.append(
                storesHalf(value) ? "#define \(name)_(index) vload_half((index), \(name))" : "#define \(name)_(index) \(name)[(index)]")
        }
        macros.append(
            storesHalf(output)
                ? "#define out_(index, value) vstore_half_rte((value), (index), out)"
                : "#define out_(index, value) (out[(index)] = (value))")
        let undefinitions = (names.map { "#undef \($0)_" } + ["#undef out_"]).joined(separator: "\n")
        let source = """
            \(macros.joined(separator: "\n"))
            __kernel void \(name)(\(parameters.joined(separator: ", "))) {
                const int i = (int)get_global_id(0);
            \(body)
            }
            \(undefinitions)
            """
        // Dense layers read their filter channels-last (depthwise filters already are).
        let node = graph.nodes[index]
        let packsFilter: Bool =
            switch node.op {
            case .fullyConnected, .conv2D: true
            default: false
            }
        let arguments: [Argument] = operands.enumerated().map { position, value in
            packsFilter && position == 1 ? .channelsLastFilter(value) : .value(value)
        }
        return Kernel(
            name: name, source: source, arguments: arguments + tables.map { .table($0.bytes) } + [.value(output)],
            globalSize: [globalSize ?? graph.type(of: output).shape.elementCount])
    }

    /// Whether float value `value` is stored in half precision on the device: chosen for it, or
    /// float16 weights already (`store-weights-float16`), read as the CPU reads them.
    func storesHalf(_ value: ValueID) -> Bool { halfValues.contains(value) || graph.type(of: value).dtype == .float16 }

    /// The OpenCL C element type of a value as the device stores it.
    func cType(of value: ValueID) -> String {
        switch graph.type(of: value).dtype {
        case .float32: storesHalf(value) ? "half" : "float"
        case .int8: "char"
        case .int32: "int"
        case .float16: "half"
        }
    }

    /// The kernel function an element-wise op of two operands applies.
    static func function(of op: Op) -> String {
        switch op {
        case .add: "kiln_add"
        case .multiply: "kiln_multiply"
        case .subtract: "kiln_subtract"
        case .binary(let function, _): "kiln_\(function.rawValue)"
        default: "kiln_identity"
        }
    }

    /// `value` as an OpenCL C literal that parses to exactly the same float.
    static func literal(_ value: Float) -> String {
        if value.isNaN { return "NAN" }
        if value.isInfinite { return value < 0 ? "-INFINITY" : "INFINITY" }
        return String(format: "%af", Double(value))
    }

    /// The name of the kernel function that applies `activation`.
    static func call(_ activation: Activation?) -> String {
        activation.map { "kiln_\($0.rawValue)" } ?? "kiln_identity"
    }

    /// The index into `operand` of output element `i` under NumPy broadcasting.
    func broadcastIndex(of operand: ValueID, into shape: Shape) -> String {
        let operandShape = graph.type(of: operand).shape
        if operandShape.elementCount == shape.elementCount { return "i" }
        if operandShape.elementCount == 1 { return "0" }
        let padded = [Int](repeating: 1, count: shape.rank - operandShape.rank) + operandShape.dimensions
        let operandStrides = Shape(padded).strides
        var terms: [String] = []
        for (axis, stride) in shape.strides.enumerated() where padded[axis] != 1 {
            terms.append("(i / \(stride) % \(shape[axis])) * \(operandStrides[axis])")
        }
        return terms.isEmpty ? "0" : terms.joined(separator: " + ")
    }

    /// The loops of a convolution or depthwise convolution over one output element `i`:
    /// `start`, then `tap(input, weight)` for every tap inside the input (padding skipped), then `finish`.
    func convolutionLoops(
        _ node: Node, _ attributes: Conv2DAttributes, start: String, tap: (String, String) -> String, finish: String
    ) -> String {
        let depthwise: Bool = if case .depthwiseConv2D = node.op { true } else { false }
        let input = graph.type(of: node.inputs[0]).shape
        let filter = graph.type(of: node.inputs[1]).shape
        let output = graph.type(of: node.outputs[0]).shape
        let (kernelHeight, kernelWidth) = (filter[1], filter[2])
        let (rows, columns) = attributes.geometry(input: input, kernel: (kernelHeight, kernelWidth))
        let (outHeight, outWidth, outChannels) = (output[1], output[2], output[3])
        let inChannels = input[3]
        let multiplier = max(outChannels / max(inChannels, 1), 1)
        let taps =
            depthwise
            ? tap("in0_(pixel + c / \(multiplier))", "in1_((ky * \(kernelWidth) + kx) * \(outChannels) + c)")
            : """
            const int w = (ky * \(kernelWidth) + kx) * \(inChannels);
                        for (int k = 0; k < \(inChannels); ++k) \(tap("in0_(pixel + k)", "in1_((w + k) * \(outChannels) + c)"))
            """
        return """
                const int c = i % \(outChannels);
                const int ox = i / \(outChannels) % \(outWidth);
                const int oy = i / \(outChannels * outWidth) % \(outHeight);
                const int b = i / \(outChannels * outWidth * outHeight);
                \(start)
                for (int ky = 0; ky < \(kernelHeight); ++ky) {
                    const int iy = oy * \(attributes.strides[0]) - \(rows.padBefore) + ky * \(attributes.dilations[0]);
                    if (iy < 0 || iy >= \(input[1])) continue;
                    for (int kx = 0; kx < \(kernelWidth); ++kx) {
                        const int ix = ox * \(attributes.strides[1]) - \(columns.padBefore) + kx * \(attributes.dilations[1]);
                        if (ix < 0 || ix >= \(input[2])) continue;
                        const int pixel = ((b * \(input[1]) + iy) * \(input[2]) + ix) * \(inChannels);
                        \(taps)
                    }
                }
                \(finish)
            """
    }

    /// The loops of a pooling window over output element `i`: `tap` for each in-bounds input
    /// element `v` (padding skipped, `count` counting taps), after `start`, then `finish`.
    func poolLoops(_ node: Node, _ attributes: Pool2DAttributes, start: String, tap: String, finish: String) -> String {
        let input = graph.type(of: node.inputs[0]).shape
        let output = graph.type(of: node.outputs[0]).shape
        let (rows, columns) = attributes.geometry(input: input)
        let channels = input[3]
        return """
                const int c = i % \(channels);
                const int ox = i / \(channels) % \(output[2]);
                const int oy = i / \(channels * output[2]) % \(output[1]);
                const int b = i / \(channels * output[2] * output[1]);
                int count = 0;
                \(start)
                for (int ky = 0; ky < \(attributes.window[0]); ++ky) {
                    const int iy = oy * \(attributes.strides[0]) - \(rows.padBefore) + ky;
                    if (iy < 0 || iy >= \(input[1])) continue;
                    for (int kx = 0; kx < \(attributes.window[1]); ++kx) {
                        const int ix = ox * \(attributes.strides[1]) - \(columns.padBefore) + kx;
                        if (ix < 0 || ix >= \(input[2])) continue;
                        const int v = ((b * \(input[1]) + iy) * \(input[2]) + ix) * \(channels) + c;
                        \(tap)
                        ++count;
                    }
                }
                \(finish)
            """
    }

    /// Float pooling: the average of in-bounds taps, or their maximum (NaN if any is NaN).
    private func floatPoolBody(_ node: Node, _ attributes: Pool2DAttributes, average: Bool) -> String {
        average
            ? poolLoops(node, attributes, start: "float sum = 0.0f;", tap: "sum += in0_(v);",
                finish: "out_(i, sum / (float)(count > 0 ? count : 1));")
            : poolLoops(
                node, attributes, start: "float best = 0.0f; bool nan = false;",
                tap: "const float x = in0_(v); nan |= isnan(x); best = count == 0 ? x : fmax(best, x);",
                finish: "out_(i, count == 0 ? 0.0f : (nan ? NAN : best));")
    }

    /// Output element `i` of a concatenation as `v` (of `valueType`), read by `read(operand, index)`, then `finish`.
    func concatenationBody(
        _ node: Node, axis: Int, read: (Int, String) -> String, finish: String, valueType: String
    ) -> String {
        let output = graph.type(of: node.outputs[0]).shape
        let axis = Op.normalizedAxis(axis, rank: output.rank) ?? 0
        let inner = output.dimensions[(axis + 1)...].reduce(1, *)
        var lines = [
            "    const int inner = i % \(inner);",
            "    const int a = i / \(inner) % \(output[axis]);",
            "    const int outer = i / \(inner * output[axis]);",
            "    \(valueType) v;",
        ]
        var start = 0
        for (position, operand) in node.inputs.enumerated() {
            let size = graph.type(of: operand).shape[axis]
            let condition = position == node.inputs.count - 1 ? "" : "if (a < \(start + size)) "
            let index = "(outer * \(size) + a - \(start)) * \(inner) + inner"
            lines.append("    \(position == 0 ? "" : "else ")\(condition)v = \(read(position, index));")
            start += size
        }
        lines.append("    \(finish)")
        return lines.joined(separator: "\n")
    }

    /// Output element `i` of a pad: `read(index)` inside the input, `outside` in the border.
    func padBody(_ node: Node, _ paddings: [[Int]], outside: String, read: (String) -> String) -> String {
        let input = graph.type(of: node.inputs[0]).shape
        let output = graph.type(of: node.outputs[0]).shape
        var lines = ["    int rest = i, source = 0; bool inside = true;"]
        for (axis, stride) in output.strides.enumerated() {
            lines.append(
                "    { const int c = rest / \(stride) - \(paddings[axis][0]); rest %= \(stride);"
                    + " inside &= c >= 0 && c < \(input[axis]); source += c * \(input.strides[axis]); }")
        }
        lines.append("    out_(i, inside ? \(read("source")) : \(outside));")
        return lines.joined(separator: "\n")
    }

    /// The input index of output element `i` of a slice starting at `begin`.
    func sliceIndex(_ node: Node, _ begin: [Int]) -> String {
        mappedIndex(node, inputAxis: { $0 }, offset: { begin[$0] })
    }

    /// The input index of output element `i` of a transpose.
    func transposeIndex(_ node: Node, _ permutation: [Int]) -> String {
        mappedIndex(node, inputAxis: { permutation[$0] }, offset: { _ in 0 })
    }

    /// The input index of output element `i` when output axis `a` walks input axis `inputAxis(a)`
    /// from `offset(a)`.
    private func mappedIndex(_ node: Node, inputAxis: (Int) -> Int, offset: (Int) -> Int) -> String {
        let input = graph.type(of: node.inputs[0]).shape
        let output = graph.type(of: node.outputs[0]).shape
        let terms = output.strides.enumerated().map { axis, stride in
            "(i / \(stride) % \(output[axis]) + \(offset(axis))) * \(input.strides[inputAxis(axis)])"
        }
        return terms.isEmpty ? "0" : terms.joined(separator: " + ")
    }

    /// How many input elements each output of a reduction over `axes` folds.
    func reducedCount(_ node: Node, _ axes: [Int]) -> Int {
        let input = graph.type(of: node.inputs[0]).shape
        return Set(axes.compactMap { Op.normalizedAxis($0, rank: input.rank) }).reduce(1) { $0 * input[$1] }
    }

    /// Folds the reduced axes of output element `i` in input order into `acc`, each element `v`
    /// read by `read` with `OFFSET` standing for its index.
    func reductionLoops(
        _ node: Node, axes: [Int], initial: String, combine: String, read: String, type: String = "float"
    ) -> String {
        let input = graph.type(of: node.inputs[0]).shape
        let reduced = Set(axes.compactMap { Op.normalizedAxis($0, rank: input.rank) })
        let kept = input.indices.filter { !reduced.contains($0) }
        let keptShape = Shape(kept.map { input[$0] })
        var lines = ["    int base = 0;"]
        for (position, axis) in kept.enumerated() {
            lines.append("    base += (i / \(keptShape.strides[position]) % \(input[axis])) * \(input.strides[axis]);")
        }
        lines.append("    \(type) acc = \(initial);")
        var offset = "base"
        for axis in reduced.sorted() {
            lines.append("    for (int r\(axis) = 0; r\(axis) < \(input[axis]); ++r\(axis)) {")
            offset += " + r\(axis) * \(input.strides[axis])"
        }
        lines.append("        const \(type) v = \(read.replacingOccurrences(of: "OFFSET", with: offset)); \(combine)")
        lines.append(String(repeating: "    }", count: reduced.count))
        return lines.joined(separator: "\n")
    }
}
