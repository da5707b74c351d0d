import KilnIR

/// `fuse-bias-activation`: folds a bias add into the fully-connected,
/// convolution or depthwise node before it, and an activation into the node before it, so
/// codegen applies both in the producing kernel's epilogue.
///
/// A node is absorbed only when its operand has no other reader and is not a
/// model output, so no intermediate anyone can observe disappears.
public struct FuseBiasActivationPass: Pass {
    /// The stable id.
    public let id = "fuse-bias-activation"

    /// Creates the pass.
    public init() {}

    /// Fuses every eligible bias add and activation.
    public func run(on graph: inout Graph) throws(DiagnosticError) {
        var changed = true
        while changed {
            changed = false
            let consumers = graph.consumers()
            let producers = graph.producers()
            let outputs = Set(graph.outputs)
            for (index, node) in graph.nodes.enumerated() {
                let operand = node.inputs[0]
                guard let producerIndex = producers[operand], consumers[operand]?.count == 1,
                    !outputs.contains(operand)
                else { continue }
                let producer = graph.nodes[producerIndex]
                guard let fused = fuse(producer, into: node, graph: graph) else { continue }
                graph.nodes[producerIndex] = fused
                graph.nodes[producerIndex].outputs = node.outputs
                graph.nodes.remove(at: index)
                changed = true
                break
            }
        }
        graph = graph.compacted()
    }

    /// The producer with `node` folded in, or `nil` if `node` cannot be folded.
    private func fuse(_ producer: Node, into node: Node, graph: Graph) -> Node? {
        var fused = producer
        switch node.op {
        case .activation(let activation):
            // An int8 activation requantizes to its own parameters; only a clamp that keeps them folds into
            // the producer's epilogue (a sigmoid, say, is a lookup table between two scales).
            let produced = graph.type(of: producer.outputs[0])
            if produced.dtype == .int8 {
                guard activation == .relu || activation == .relu6,
                    graph.type(of: node.outputs[0]).quantization == produced.quantization
                else { return nil }
            }
            guard let op = producer.op.fusing(activation) else { return nil }
            fused.op = op
            return fused
        case .add(activation: nil):
            let bias = node.inputs[1]
            guard producer.inputs.count == 2, producer.op.fusedActivation == nil,
                graph.isConstant(bias), graph.type(of: bias).dtype == .float32
            else { return nil }
            switch producer.op {
            case .fullyConnected, .conv2D, .depthwiseConv2D:
                let channels = graph.type(of: producer.outputs[0]).shape.dimensions.last ?? 0
                guard graph.type(of: bias).shape == [channels] else { return nil }
                fused.inputs.append(bias)
                return fused
            default:
                return nil
            }
        default:
            return nil
        }
    }
}
