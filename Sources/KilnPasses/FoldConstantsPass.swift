import KilnIR
import KilnReference

/// `fold-constants`: evaluates nodes whose operands are all constants with
/// the reference interpreter and replaces them with their result.
public struct FoldConstantsPass: Pass {
    /// The stable id.
    public let id = "fold-constants"

    /// Creates the pass.
    public init() {}

    /// Folds every all-constant node.
    public func run(on graph: inout Graph) throws(DiagnosticError) {
        var remaining: [Node] = []
        for node in graph.nodes {
            let operands = node.inputs.compactMap { graph.constantData($0) }
            guard operands.count == node.inputs.count, let result = node.outputs.first else {
                remaining.append(node)
                continue
            }
            let type = graph.type(of: result)
            guard
                let folded = try? ReferenceInterpreter.evaluate(
                    node.op, operands: operands, operandTypes: node.inputs.map { graph.type(of: $0) }, resultType: type)
            else {
                remaining.append(node)
                continue
            }
            graph.constants[result] = .data(folded)
        }
        graph.nodes = remaining
        graph = graph.compacted()
    }
}
