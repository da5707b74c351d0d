import KilnIR

/// WHILE loops whose trip count is known at import, unrolled: how TensorFlow's converter writes
/// Keras' recurrent layers (GRU, LSTM and SimpleRNN without `unroll=True`). Their loops carry
/// integer counters compared with the sequence length, the hidden state, and the sequence, whose
/// step the body reads with GATHER or SLICE at a counter.
///
/// The condition runs at import on the loop's integer values (integer arithmetic, comparisons
/// and logic on known values). While it holds, the body's operators are converted again with
/// the loop's current values as its inputs, so each step becomes ordinary layers, named after the
/// body's tensors with `@step`, that share the body's constants.
extension TFLiteConversion {
    /// The most steps unrolled in one model, every loop, nested loop (which multiply their steps)
    /// and sequence LSTM together.
    static let maximumUnrolledSteps = RecurrentUnrolling.maximumSteps

    /// The deepest nesting of loops converted.
    static let maximumLoopDepth = 8

    /// One value a loop carries: known at import (its counters), or computed by the graph.
    enum LoopValue {
        case known(StaticTensor)
        case computed(ValueID)
    }

    /// Unrolls the WHILE operator `op` with `condition` and `body` subgraphs.
    mutating func convertWhile(_ op: TFLiteOperator, condition: Int, body: Int) throws {
        let subgraphs = model.subgraphs
        guard subgraphs.indices.contains(condition), subgraphs.indices.contains(body), condition > 0, body > 0 else {
            throw TFLiteError(
                message: "\(source): the loop's condition (subgraph \(condition)) and body (subgraph \(body)) must be "
                    + "subgraphs of the model other than the main one, which has \(subgraphs.count)")
        }
        guard loopDepth < Self.maximumLoopDepth else {
            throw TFLiteError(message: "\(source): loops are nested more than \(Self.maximumLoopDepth) deep")
        }
        let carried = op.inputs.count
        for (name, index) in [("condition", condition), ("body", body)] where subgraphs[index].inputs.count != carried {
            throw TFLiteError(
                message: "\(source): the loop carries \(carried) values but its \(name) (subgraph \(index)) "
                    + "takes \(subgraphs[index].inputs.count)")
        }
        guard subgraphs[body].outputs.count == carried, op.outputs.count == carried else {
            throw TFLiteError(
                message: "\(source): the loop carries \(carried) values but its body returns "
                    + "\(subgraphs[body].outputs.count) and the operator has \(op.outputs.count) outputs")
        }
        var state = try op.inputs.map { index -> LoopValue in
            guard index >= 0 else { throw TFLiteError(message: "\(source): a loop value is missing") }
            if let known = try staticTensor(index) { return .known(known) }
            return .computed(try value(of: index))
        }
        var constants: [Int: ValueID] = [:]
        var step = 0
        while try conditionHolds(subgraph: condition, state) {
            guard unrolledSteps < Self.maximumUnrolledSteps else {
                throw TFLiteError(
                    message: "\(source): the loop runs more than \(Self.maximumUnrolledSteps) steps (with the model's other "
                        + "loops); Kiln unrolls loops at import")
            }
            unrolledSteps += 1
            do {
                state = try unrolledStep(subgraph: body, state, step: step, constants: &constants)
            } catch let error as TFLiteError {
                let prefix = "\(source): "
                let problem = error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : error.message
                throw TFLiteError(message: "\(prefix)step \(step) of the body (subgraph \(body)): \(problem)")
            }
            step += 1
        }
        for (index, value) in zip(op.outputs, state) where index >= 0 {
            switch value {
            case .known(let tensor): known[index] = tensor
            case .computed(let id): values[index] = id
            }
        }
    }

    /// A conversion of subgraph `index` with `state` as its inputs, in this conversion's graph.
    private func nested(_ index: Int, _ state: [LoopValue]) -> TFLiteConversion {
        var inner = TFLiteConversion(model: model, subgraph: model.subgraphs[index], source: source, graph: graph)
        inner.loopDepth = loopDepth + 1
        inner.unrolledSteps = unrolledSteps
        for (input, value) in zip(inner.subgraph.inputs, state) {
            switch value {
            case .known(let tensor): inner.known[input] = tensor
            case .computed(let id): inner.values[input] = id
            }
        }
        return inner
    }

    /// Runs the condition subgraph `index` at import on `state`; it must compute one boolean
    /// from known values.
    private func conditionHolds(subgraph index: Int, _ state: [LoopValue]) throws -> Bool {
        var inner = nested(index, state)
        for (position, op) in inner.subgraph.operators.enumerated() {
            let code = model.operatorCodes[op.opcodeIndex].builtinCode
            guard try inner.foldLogic(op, code) || inner.foldShapeArithmetic(op, code) else {
                throw TFLiteError(
                    message: "\(source): the loop's condition (subgraph \(index)), operator #\(position) \(code.name), "
                        + "does not compute on values known at import: Kiln unrolls loops whose step count is fixed")
            }
        }
        guard inner.subgraph.outputs.count == 1, let result = inner.known[inner.subgraph.outputs[0]], result.values.count == 1
        else {
            throw TFLiteError(
                message: "\(source): the loop's condition (subgraph \(index)) must compute one boolean known at import")
        }
        return result.values[0] != 0
    }

    /// Converts one step of the body subgraph `index` on `state` into this graph and returns the
    /// values it carries to the next; constants the body reads are created once, in `constants`.
    private mutating func unrolledStep(
        subgraph index: Int, _ state: [LoopValue], step: Int, constants: inout [Int: ValueID]
    ) throws -> [LoopValue] {
        var inner = nested(index, state)
        // The body's conversion extends the graph in place: holding it here too would copy it every step.
        graph = Graph(name: graph.name)
        let inputs = Set(inner.subgraph.inputs)
        for (tensor, id) in constants where !inputs.contains(tensor) { inner.values[tensor] = id }
        let (firstNode, firstValue) = (inner.graph.nodes.count, inner.graph.values.count)
        try inner.convertOperators()
        let next = try inner.subgraph.outputs.map { tensor -> LoopValue in
            if let known = inner.known[tensor] { return .known(known) }
            return .computed(try inner.value(of: tensor))
        }
        graph = inner.graph
        unrolledSteps = inner.unrolledSteps
        for node in firstNode..<graph.nodes.count { graph.nodes[node].name += "@\(step)" }
        for value in firstValue..<graph.values.count where !graph.isConstant(ValueID(value)) {
            graph.values[value].name += "@\(step)"
        }
        // The body's stored constants (weights), not values folded from this step's counters.
        for (tensor, id) in inner.values where !inputs.contains(tensor) && inner.known[tensor] == nil && graph.isConstant(id) {
            constants[tensor] = id
        }
        return next
    }

    /// Computes a comparison or logical operator at import when its inputs are known (as 0 and 1
    /// for booleans); returns `false` for other operators.
    mutating func foldLogic(_ op: TFLiteOperator, _ code: TFLiteBuiltinOperator) throws -> Bool {
        let comparisons: [TFLiteBuiltinOperator: (Int, Int) -> Bool] = [
            .less: (<), .lessEqual: (<=), .greater: (>), .greaterEqual: (>=), .equal: (==), .notEqual: (!=),
            .logicalAnd: { $0 != 0 && $1 != 0 }, .logicalOr: { $0 != 0 || $1 != 0 },
        ]
        guard comparisons[code] != nil || code == .logicalNot, op.outputs.count == 1, op.outputs[0] >= 0 else { return false }
        let inputs = try op.inputs.filter { $0 >= 0 }.map { index in
            guard let tensor = try staticTensor(index) else {
                throw TFLiteError(
                    message: "\(source): \(code.name) reads '\(subgraph.tensors[index].name)', which is not known at import")
            }
            return tensor
        }
        do {
            if let compare = comparisons[code], inputs.count == 2 {
                known[op.outputs[0]] = try StaticTensor.broadcast(inputs[0], inputs[1]) { compare($0, $1) ? 1 : 0 }
            } else if code == .logicalNot, inputs.count == 1 {
                known[op.outputs[0]] = StaticTensor(shape: inputs[0].shape, values: inputs[0].values.map { $0 == 0 ? 1 : 0 })
            } else {
                throw TFLiteError(message: "\(source): \(code.name) has \(inputs.count) inputs")
            }
        } catch let problem as StaticTensor.Problem {
            throw TFLiteError(message: "\(source): \(problem)")
        }
        return true
    }
}
