/// One graph of a model: its tensors, the operators in execution order, and its inputs and outputs.
///
/// Subgraph 0 is the model's entry point; others are bodies of control-flow
/// operators such as WHILE and IF.
public struct TFLiteSubgraph: Hashable, Sendable {
    /// The subgraph's name, for debugging; may be empty.
    public var name: String
    /// Every tensor the subgraph uses; operators and inputs refer to them by index.
    public var tensors: [TFLiteTensor]
    /// Indices of the tensors the caller fills before a run.
    public var inputs: [Int]
    /// Indices of the tensors that hold the results after a run.
    public var outputs: [Int]
    /// The operators, in execution order.
    public var operators: [TFLiteOperator]

    /// Creates a subgraph description.
    public init(
        name: String, tensors: [TFLiteTensor], inputs: [Int], outputs: [Int],
        operators: [TFLiteOperator]
    ) {
        self.name = name
        self.tensors = tensors
        self.inputs = inputs
        self.outputs = outputs
        self.operators = operators
    }
}

extension TFLiteSubgraph {
    /// Decodes a schema `SubGraph` table.
    init(_ table: FlatBufferTable) throws {
        let tensors = try table.tables(0, "tensors") ?? []
        let inputs = try table.integers(1, Int32.self, "inputs") ?? []
        let outputs = try table.integers(2, Int32.self, "outputs") ?? []
        let operators = try table.tables(3, "operators") ?? []
        let name = try table.string(4, "name") ?? ""
        self.init(
            name: name, tensors: try tensors.map(TFLiteTensor.init),
            inputs: inputs.map(Int.init), outputs: outputs.map(Int.init),
            operators: try operators.map(TFLiteOperator.init))
    }
}
