extension TFLiteModel {
    /// Checks that every index in the model points at something that exists.
    ///
    /// Done once here so the importer can index arrays without checking and a
    /// corrupt file fails with a message instead of a trap later.
    func validate(source: String) throws {
        guard !subgraphs.isEmpty else {
            throw TFLiteError(source, "the model has no subgraphs, so there is nothing to run")
        }
        for (subgraphIndex, subgraph) in subgraphs.enumerated() {
            let place = "subgraph \(subgraphIndex)"
            let tensorCount = subgraph.tensors.count
            for (tensorIndex, tensor) in subgraph.tensors.enumerated() {
                // A file without buffers still lets tensors name the empty buffer 0.
                guard buffers.indices.contains(tensor.buffer) || tensor.buffer == 0 else {
                    throw TFLiteError(
                        source,
                        "\(place), tensor \(tensorIndex) ('\(tensor.name)'): buffer index "
                            + "\(tensor.buffer) is out of range; the model has \(buffers.count) buffers"
                    )
                }
                guard tensor.shape.allSatisfy({ $0 >= 0 }) else {
                    throw TFLiteError(
                        source,
                        "\(place), tensor \(tensorIndex) ('\(tensor.name)'): shape \(tensor.shape) "
                            + "has a negative dimension")
                }
            }
            try checkTensorIndices(
                subgraph.inputs, allowingAbsent: false, count: tensorCount, "\(place) inputs",
                source)
            try checkTensorIndices(
                subgraph.outputs, allowingAbsent: false, count: tensorCount, "\(place) outputs",
                source
            )
            for (operatorIndex, op) in subgraph.operators.enumerated() {
                let location = "\(place), operator \(operatorIndex)"
                guard operatorCodes.indices.contains(op.opcodeIndex) else {
                    throw TFLiteError(
                        source,
                        "\(location): operator code index \(op.opcodeIndex) is out of range; the "
                            + "model has \(operatorCodes.count) operator codes")
                }
                let name = operatorCodes[op.opcodeIndex].builtinCode.name
                // The runtime accepts -1 ("absent") in both lists, for optional tensors.
                try checkTensorIndices(
                    op.inputs, allowingAbsent: true, count: tensorCount,
                    "\(location) (\(name)) inputs",
                    source)
                try checkTensorIndices(
                    op.outputs, allowingAbsent: true, count: tensorCount,
                    "\(location) (\(name)) outputs", source)
            }
        }
    }

    private func checkTensorIndices(
        _ indices: [Int], allowingAbsent: Bool, count: Int, _ what: String, _ source: String
    ) throws {
        for index in indices where !(0..<count).contains(index) && !(allowingAbsent && index == -1)
        {
            throw TFLiteError(
                source,
                "\(what): tensor index \(index) is out of range; the subgraph has \(count) tensors")
        }
    }
}
