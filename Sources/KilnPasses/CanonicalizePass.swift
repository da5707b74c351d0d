import KilnIR

/// `canonicalize`: removes reshapes that change nothing, merges chains of
/// reshapes, and deletes nodes whose results nothing uses. A reshape that
/// requantizes (int8 to other parameters) is kept: it rounds and clamps.
public struct CanonicalizePass: Pass {
    /// The stable id.
    public let id = "canonicalize"

    /// Creates the pass.
    public init() {}

    /// Whether a reshape from `source` to `result` keeps every stored value: same element type and
    /// quantization. An int8 reshape to other parameters requantizes, rounding and clamping.
    static func keepsValues(_ source: ValueID, _ result: ValueID, in graph: Graph) -> Bool {
        let (from, to) = (graph.type(of: source), graph.type(of: result))
        return from.dtype == to.dtype && from.quantization == to.quantization
    }

    /// Rewrites `graph` into canonical form.
    public func run(on graph: inout Graph) throws(DiagnosticError) {
        var replacements: [ValueID: ValueID] = [:]
        func resolve(_ id: ValueID) -> ValueID { replacements[id] ?? id }
        let outputSet = Set(graph.outputs)
        var kept: [Node] = []
        var producerOf: [ValueID: Node] = [:]
        for var node in graph.nodes {
            node.inputs = node.inputs.map(resolve)
            if case .reshape(let shape) = node.op {
                let source = node.inputs[0]
                let result = node.outputs[0]
                if graph.type(of: source).shape == shape, Self.keepsValues(source, result, in: graph),
                    !outputSet.contains(result)
                {
                    replacements[result] = source
                    continue
                }
                // reshape(reshape(x)) is reshape(x): read the inner reshape's operand, unless the
                // inner one requantizes (its rounding and clamping must happen).
                if let inner = producerOf[source], case .reshape = inner.op,
                    Self.keepsValues(inner.inputs[0], source, in: graph)
                {
                    node.inputs = [inner.inputs[0]]
                }
            }
            for output in node.outputs { producerOf[output] = node }
            kept.append(node)
        }
        graph.outputs = graph.outputs.map(resolve)
        graph.nodes = Self.removingDeadNodes(kept, outputs: graph.outputs)
        // Compacting also drops constants that only dead nodes read.
        graph = graph.compacted()
    }

    /// Nodes that contribute to `outputs`, in their original order.
    static func removingDeadNodes(_ nodes: [Node], outputs: [ValueID]) -> [Node] {
        var needed = Set(outputs)
        var live: [Node] = []
        for node in nodes.reversed() where node.outputs.contains(where: needed.contains) {
            needed.formUnion(node.inputs)
            live.append(node)
        }
        return live.reversed()
    }
}
