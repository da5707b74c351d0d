extension Graph {
    /// Residual `add` nodes that code generation fuses into the layer producing
    /// one of their operands, by the add's node index, with the layer's index
    /// and the other operand.
    ///
    /// The layer (a convolution, depthwise convolution or fully-connected
    /// layer) must come right before the add, feed nothing else and not be a
    /// model output; the add must not broadcast and, for int8, use per-tensor
    /// parameters throughout. The fused layer computes its own result exactly
    /// as before, then the add, and writes only the add's result: one pass over
    /// memory instead of two. Its result is then written while the layer runs,
    /// which ``lifetimes()`` accounts for.
    public func residualAdds() -> [Int: (layer: Int, residual: ValueID)] {
        let consumers = consumers()
        let producers = producers()
        let outputSet = Set(outputs)
        var result: [Int: (layer: Int, residual: ValueID)] = [:]
        for (index, node) in nodes.enumerated().dropFirst() {
            guard case .add = node.op, node.inputs.count == 2, node.inputs[0] != node.inputs[1] else { continue }
            let layerIndex = index - 1
            let layer = nodes[layerIndex]
            guard let fused = node.inputs.firstIndex(of: layer.outputs[0]) else { continue }
            let produced = layer.outputs[0]
            let residual = node.inputs[1 - fused]
            let resultType = type(of: node.outputs[0])
            guard isResidualProducer(layer, producers: producers), consumers[produced] == [index],
                !outputSet.contains(produced), layer.outputs.count == 1,
                node.inputs.allSatisfy({ type(of: $0).shape == resultType.shape }),
                [produced, residual].allSatisfy({ type(of: $0).dtype == resultType.dtype })
            else { continue }
            if resultType.dtype == .int8 {
                let parameters = [produced, residual, node.outputs[0]].map { type(of: $0).quantization }
                guard parameters.allSatisfy({ $0?.scales.count == 1 }) else { continue }
            } else if resultType.dtype != .float32 {
                continue
            }
            result[index] = (layerIndex, residual)
        }
        return result
    }

    /// Whether `node` is a layer whose epilogue can take a residual add: a
    /// convolution, depthwise convolution or fully-connected layer, not one
    /// reading a per-row rounding (whose fused kernel has its own epilogue).
    private func isResidualProducer(_ node: Node, producers: [ValueID: Int]) -> Bool {
        switch node.op {
        case .conv2D, .depthwiseConv2D, .fullyConnected:
            guard let source = producers[node.inputs[0]] else { return true }
            if case .dynamicRangeQuantize = nodes[source].op { return false }
            return true
        default:
            return false
        }
    }
}
