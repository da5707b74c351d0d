import KilnIR

/// What the OpenCL delegate takes: every op, in float32 (float16 weights included), in Kiln's int8
/// arithmetic, and as dynamic-range layers (int8 filters under float activations), except float16
/// tensors computed at run time and int8 results a fused activation cannot clamp. ``reason(against:in:)`` words why a node is refused, as the placement report prints it.
public enum OpenCLSupport {
    /// The delegate's name in reports and messages.
    public static let name = "opencl"

    /// Why `node` cannot run on the OpenCL delegate, or `nil` when it can.
    public static func reason(against node: Node, in graph: Graph) -> String? {
        let kind = node.op.kindName
        for value in node.inputs + node.outputs {
            let type = graph.type(of: value)
            let role = node.inputs.contains(value) ? "operand" : "result"
            switch type.dtype {
            case .float32, .int8, .int32: break
            case .float16:
                // Float16 weights are read with vload_half; float16 tensors computed at run time do not occur.
                if !graph.isConstant(value) {
                    return "\(kind) with float16 \(role) '\(graph[value].name)': not supported by \(name)"
                }
            }
            if type.dtype == .int8, type.quantization == nil {
                return "\(kind) with unquantized int8 \(role) '\(graph[value].name)': not supported by \(name)"
            }
            if graph.isConstant(value), graph.constantData(value) == nil {
                return "\(kind): its weights '\(graph[value].name)' are not loaded"
            }
        }
        let result = graph.type(of: node.outputs[0])
        let makesIndices: Bool =
            switch node.op {
            case .argExtremum, .cast(to: .int32): true
            default: false
            }
        if (result.dtype == .int32 && !makesIndices) || (result.dtype == .int8 && result.quantization?.scales.count != 1) {
            return "\(kind) with a \(result.dtype.rawValue) result: not supported by \(name)"
        }
        if result.dtype == .int8, QuantizedArithmetic.activationRange(
            node.op.fusedActivation, scale: result.quantization?.scales[0] ?? 1,
            zeroPoint: result.quantization?.zeroPoints[0] ?? 0) == nil
        {
            return "int8 \(kind) with fused \(node.op.fusedActivation?.rawValue ?? ""): not supported by \(name)"
        }
        switch node.op {
        case .fullyConnected, .conv2D, .depthwiseConv2D, .maxPool2D, .averagePool2D, .reshape, .activation, .softmax,
            .add, .multiply, .subtract, .binary, .concatenation, .pad, .slice, .transpose, .mean, .quantize, .dequantize,
            .dynamicRangeQuantize, .resize, .gather, .argExtremum:
            return nil
        case .cast:
            let from = graph.type(of: node.inputs[0]).dtype
            return [.float32, .int32].contains(from) && [.float32, .int32].contains(result.dtype) && from != result.dtype
                ? nil : "\(kind) from \(from.rawValue) to \(result.dtype.rawValue): not supported by \(name)"
        case .batchMatMul, .reduce:
            return nil
        }
    }
}
