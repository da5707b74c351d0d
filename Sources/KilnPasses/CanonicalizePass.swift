import KilnIR

/// `canonicalize`: removes reshapes that change nothing, merges chains of
/// reshapes, and deletes nodes whose results nothing uses.
public struct CanonicalizePass: Pass {
    /// The stable id.
    public let id = "canonicalize"

    /// Creates the pass.
    public init() {}

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
                if graph.type(of: source).shape == shape, !outputSet.contains(result) {
                    replacements[result] = source
                    continue
                }
                // reshape(reshape(x)) is reshape(x): read the inner reshape's operand.
                if let inner = producerOf[source], case .reshape = inner.op {
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
