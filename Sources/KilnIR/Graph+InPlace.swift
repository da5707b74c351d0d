extension Graph {
    /// Results that can be computed into the bytes of one of their node's operands, each mapped
    /// to that operand.
    ///
    /// The node must compute element `i` of its result from element `i` of the operand alone
    /// (a reshape, an activation, a binary op whose operand has the result's shape; broadcast
    /// operands are read at other positions), with as many bytes, and be the operand's last
    /// reader (``lifetimes()``), so nothing reads the overwritten bytes. Both must live in the
    /// arena: model inputs belong to the caller and are never written, outputs are the caller's
    /// buffers. A residual add fused into its layer is written by that layer and stays out.
    public func inPlaceOperands() -> [ValueID: ValueID] {
        let lifetimes = lifetimes()
        let fusedAdds = residualAdds()
        var result: [ValueID: ValueID] = [:]
        for (index, node) in nodes.enumerated() where node.outputs.count == 1 && fusedAdds[index] == nil {
            let produced = node.outputs[0]
            guard lifetimes[produced] != nil, let candidates = elementwiseOperands(of: node) else { continue }
            let resultType = type(of: produced)
            let operand = candidates.first { operand in
                let operandType = type(of: operand)
                return operandType.shape.elementCount == resultType.shape.elementCount
                    && operandType.byteCount == resultType.byteCount
                    && lifetimes[operand]?.upperBound == index
            }
            if let operand { result[produced] = operand }
        }
        return result
    }

    /// The operands `node` reads only at the position it writes, or nil for an op that reads
    /// elsewhere too.
    private func elementwiseOperands(of node: Node) -> [ValueID]? {
        switch node.op {
        case .reshape, .activation:
            return [node.inputs[0]]
        case .add, .multiply, .subtract, .binary:
            let shape = type(of: node.outputs[0]).shape
            return node.inputs.filter { type(of: $0).shape == shape }
        default:
            return nil
        }
    }

    /// The arena's buffers: each value that is not computed in place (`inPlace`, result to operand,
    /// as ``inPlaceOperands()`` gives), with the values written over it, and the nodes during which
    /// any of them is live.
    public func arenaBuffers(inPlace: [ValueID: ValueID]) -> [ValueID: (values: [ValueID], live: ClosedRange<Int>)] {
        let lifetimes = lifetimes()
        func root(of value: ValueID) -> ValueID {
            var value = value
            // A chain is at most as long as the graph; the bound guards a malformed map's cycle.
            for _ in 0...nodes.count {
                guard let operand = inPlace[value] else { break }
                value = operand
            }
            return value
        }
        var buffers: [ValueID: (values: [ValueID], live: ClosedRange<Int>)] = [:]
        for (value, live) in lifetimes.sorted(by: { $0.key < $1.key }) {
            let owner = root(of: value)
            if let buffer = buffers[owner] {
                let lower = min(buffer.live.lowerBound, live.lowerBound)
                let upper = max(buffer.live.upperBound, live.upperBound)
                buffers[owner] = (buffer.values + [value], lower...upper)
            } else {
                buffers[owner] = ([value], live)
            }
        }
        return buffers
    }
}
