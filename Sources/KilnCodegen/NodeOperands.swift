import KilnIR

/// How a node's operands reach its kernel: buffers passed as pointers, or
/// constants the kernel bakes in (packed filters, biases).
struct NodeOperands {
    /// Operands passed to the node function as pointers, in order.
    var bufferOperands: [ValueID]
    /// The other operand of a residual add fused into the node, passed after the buffer operands.
    var residual: ValueID?

    /// Every operand passed as a pointer: the buffer operands, then the residual.
    var pointerOperands: [ValueID] { bufferOperands + (residual.map { [$0] } ?? []) }

    init(node: Node, graph: Graph) throws {
        switch node.op {
        case .fullyConnected, .conv2D, .depthwiseConv2D:
            guard graph.constantData(node.inputs[1]) != nil else {
                throw CodegenError("layer '\(node.name)': filters must be constants; a computed filter is not supported yet")
            }
            if node.inputs.count > 2, graph.constantData(node.inputs[2]) == nil {
                throw CodegenError("layer '\(node.name)': biases must be constants")
            }
            bufferOperands = [node.inputs[0]]
        default:
            bufferOperands = node.inputs
        }
    }
}
