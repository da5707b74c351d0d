extension TFLiteModel {
    /// A human-readable listing of every subgraph and operator, with tensor shapes and types, for debugging.
    ///
    /// One line per operator:
    /// `  #0 CONV_2D v3: t0 INT8[1,49,10,1], t17 INT8[64,10,4,1] const, … → t22 INT8[1,25,5,64]`.
    public var summary: String {
        var lines = [
            "TensorFlow Lite model, schema version \(version)"
                + (description.isEmpty ? "" : ", \"\(description)\"")
                + ": \(subgraphs.count) subgraph(s), \(operatorCodes.count) operator code(s), "
                + "\(buffers.count) buffer(s)"
        ]
        for (subgraphIndex, subgraph) in subgraphs.enumerated() {
            let label = subgraph.name.isEmpty ? "" : " '\(subgraph.name)'"
            lines.append(
                "subgraph \(subgraphIndex)\(label): \(subgraph.tensors.count) tensors, "
                    + "\(subgraph.operators.count) operators")
            let describe = { (index: Int) in describeTensor(index, in: subgraph) }
            lines.append("  inputs: " + subgraph.inputs.map(describe).joined(separator: ", "))
            for (operatorIndex, op) in subgraph.operators.enumerated() {
                let code =
                    operatorCodes.indices.contains(op.opcodeIndex)
                    ? operatorCodes[op.opcodeIndex] : nil
                let name =
                    code.map { $0.customCode.map { "CUSTOM '\($0)'" } ?? $0.builtinCode.name }
                    ?? "opcode \(op.opcodeIndex)?"
                let version = code.map { " v\($0.version)" } ?? ""
                lines.append(
                    "  #\(operatorIndex) \(name)\(version): "
                        + op.inputs.map(describe).joined(separator: ", ") + " → "
                        + op.outputs.map(describe).joined(separator: ", "))
            }
            lines.append("  outputs: " + subgraph.outputs.map(describe).joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    /// `t17 INT8[64,10,4,1] const`: index, type, shape, and whether the tensor holds constant data.
    private func describeTensor(_ index: Int, in subgraph: TFLiteSubgraph) -> String {
        guard index != -1 else { return "(none)" }
        guard subgraph.tensors.indices.contains(index) else { return "t\(index)?" }
        let tensor = subgraph.tensors[index]
        let shape = tensor.shape.map(String.init).joined(separator: ",")
        let isConstant = buffers.indices.contains(tensor.buffer) && !buffers[tensor.buffer].isEmpty
        return "t\(index) \(tensor.type.name)[\(shape)]" + (isConstant ? " const" : "")
    }
}
