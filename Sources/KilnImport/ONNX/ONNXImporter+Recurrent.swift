import KilnIR

/// ONNX's recurrent operators `LSTM`, `GRU` and `RNN` (how PyTorch exports `nn.LSTM`, `nn.GRU` and
/// `nn.RNN`), unrolled at import over their static sequence into fully-connected layers, slices
/// and element-wise ops, in float32. In each direction (forward, reverse, or both), with `f`, `g`
/// and `h` the node's activations (Sigmoid, Tanh or Relu; by default σ, tanh, tanh):
///
///     LSTM  i = f(Wᵢx + Rᵢh + pᵢ⊙c + bᵢ)   f' = f(W_f x + R_f h + p_f⊙c + b_f)   ĉ = g(W_c x + R_c h + b_c)
///           c' = f'⊙c + i⊙ĉ (f' = 1 − i with input_forget)   o = f(Wₒx + Rₒh + pₒ⊙c' + bₒ)   h' = o⊙h(c')
///     GRU   z = f(W_z x + R_z h + b_z)   r = f(W_r x + R_r h + b_r)   h' = (1 − z)⊙n + z⊙h, where
///           n = g(W_n x + R_n(r⊙h) + b_n), or with linear_before_reset (PyTorch's) g(W_n x + W_bn + r⊙(R_n h + R_bn))
///     RNN   h' = f(Wx + Rh + b)
///
/// where each `b` sums the input and recurrent biases, the clip (when given) bounds every
/// activation's input, and a missing initial state is zero. Every step's input projection is one
/// fully-connected layer over the sequence; each step then adds the recurrent projection.
extension ONNXConversion {
    /// The recurrent operator being converted.
    enum RecurrentCell {
        case lstm, gru, rnn

        /// Gates stacked in `W`, `R` and `B`: LSTM's `iofc`, GRU's `zrh`, RNN's one.
        var gates: Int {
            switch self {
            case .lstm: 4
            case .gru: 3
            case .rnn: 1
            }
        }

        /// The activations when the node names none.
        var defaultActivations: [String] {
            switch self {
            case .lstm: ["Sigmoid", "Tanh", "Tanh"]
            case .gru: ["Sigmoid", "Tanh"]
            case .rnn: ["Tanh"]
            }
        }
    }

    /// The activations a recurrent node may name.
    static let recurrentActivations: [String: Activation] = ["Sigmoid": .sigmoid, "Tanh": .tanh, "Relu": .relu]

    /// Converts an `LSTM`, `GRU` or `RNN` node; outputs `Y`, `Y_h` and (LSTM) `Y_c` where named.
    mutating func convertRecurrent(_ node: ONNXNode, _ cell: RecurrentCell) throws {
        let name = resultName(node)
        let x = try plain(try operand(node.input(0)), name: name)
        let xType = graph.type(of: x)
        guard xType.dtype == .float32, xType.shape.rank == 3 else {
            throw ONNXProblem("X must be a float32 sequence of rank 3, got \(xType)")
        }
        let layout = node.int("layout", default: 0)
        guard layout == 0 || layout == 1 else { throw ONNXProblem("layout must be 0 or 1, got \(layout)") }
        let batchMajor = layout == 1
        let (steps, batch, features) =
            batchMajor ? (xType.shape[1], xType.shape[0], xType.shape[2]) : (xType.shape[0], xType.shape[1], xType.shape[2])
        let reversed: [Bool]
        switch node.string("direction") ?? "forward" {
        case "forward": reversed = [false]
        case "reverse": reversed = [true]
        case "bidirectional": reversed = [false, true]
        case let other: throw ONNXProblem("direction must be forward, reverse or bidirectional, got '\(other)'")
        }
        let (directions, units, gates) = (reversed.count, node.int("hidden_size", default: 0), cell.gates)
        guard let (wShape, w) = try floats(node, 1), let (rShape, r) = try floats(node, 2) else {
            throw ONNXProblem("W and R must be constant weights")
        }
        guard steps > 0, units > 0, wShape == [directions, gates * units, features],
            rShape == [directions, gates * units, units]
        else {
            throw ONNXProblem(
                "W \(wShape) and R \(rShape) do not fit \(directions) direction(s) of \(gates) gate(s) of hidden_size "
                    + "\(units) over \(features) features and \(steps) steps")
        }
        var biases = [Float](repeating: 0, count: directions * 2 * gates * units)
        if let (shape, values) = try floats(node, 3) {
            guard shape == [directions, 2 * gates * units] else {
                throw ONNXProblem("B has shape \(shape), not [\(directions), \(2 * gates * units)]")
            }
            biases = values
        }
        guard unrolledSteps + steps * directions <= RecurrentUnrolling.maximumSteps else {
            throw ONNXProblem(
                "the sequence has \(steps) steps in \(directions) direction(s), more than the \(RecurrentUnrolling.maximumSteps) "
                    + "Kiln unrolls in a model (with its other recurrent layers)")
        }
        unrolledSteps += steps * directions
        if let lengths = try integers(node, 4), lengths.contains(where: { $0 != steps }) {
            throw ONNXProblem("sequence_lens \(lengths) must all be the sequence's \(steps) steps (Kiln unrolls whole sequences)")
        }
        let activations = try recurrentActivations(node, cell, directions: directions)
        let clip = node.attributes["clip"].map { $0.f }
        let couplesGates = node.int("input_forget", default: 0) != 0
        let linearBeforeReset = node.int("linear_before_reset", default: 0) != 0
        var peepholes: [Float]?
        if cell == .lstm, let (shape, values) = try floats(node, 7) {
            guard shape == [directions, 3 * units] else {
                throw ONNXProblem("P has shape \(shape), not [\(directions), \(3 * units)]")
            }
            peepholes = values
        }
        /// The initial state input `index` of direction `d` as `[batch, units]`, zeros when absent.
        func initialState(_ index: Int, _ d: Int, _ label: String) throws -> ValueID {
            guard index < node.inputs.count, !node.inputs[index].isEmpty else {
                return constant([Float](repeating: 0, count: batch * units), [batch, units], "\(name).\(label)\(d).zero")
            }
            let state = try plain(try operand(node.inputs[index]), name: name)
            let expected = batchMajor ? [batch, directions, units] : [directions, batch, units]
            guard graph.type(of: state).shape.dimensions == expected else {
                throw ONNXProblem("the initial \(label) has shape \(graph.type(of: state).shape), not \(expected)")
            }
            let begin = batchMajor ? [0, d, 0] : [d, 0, 0]
            let size = batchMajor ? [batch, 1, units] : [1, batch, units]
            let slice = try graph.addNode(.slice(begin: begin, size: size), inputs: [state], name: "\(name).\(label)\(d)")
            return try graph.addNode(.reshape([batch, units]), inputs: [slice], name: "\(name).\(label)\(d).rows")
        }

        // Rows of the sequence in its own order, for the input projection of every step at once.
        let rows = try graph.addNode(.reshape([steps * batch, features]), inputs: [x], name: "\(name).rows")
        var hiddens: [[ValueID]] = []  // [direction][time step]
        var finals: [(hidden: ValueID, cell: ValueID?)] = []
        for (d, isReversed) in reversed.enumerated() {
            let prefix = "\(name).\(isReversed ? "backward" : "forward")"
            let span = gates * units
            let inputWeights = Array(w[(d * span * features)..<((d + 1) * span * features)])
            let recurrentWeights = Array(r[(d * span * units)..<((d + 1) * span * units)])
            let inputBias = Array(biases[(d * 2 * span)..<(d * 2 * span + span)])
            let recurrentBias = Array(biases[(d * 2 * span + span)..<((d + 1) * 2 * span)])
            // GRU keeps the candidate's recurrent bias with its recurrent term (inside the reset).
            let keepsCandidateBias = cell == .gru
            let summedBias = (0..<span).map { index in
                inputBias[index] + (keepsCandidateBias && index >= 2 * units ? 0 : recurrentBias[index])
            }
            let projection = try graph.addNode(
                .fullyConnected(activation: nil),
                inputs: [
                    rows, constant(inputWeights, [span, features], "\(prefix).W"), constant(summedBias, [span], "\(prefix).B"),
                ], name: "\(prefix).input_projection")
            let sequence = try graph.addNode(
                .reshape(batchMajor ? [batch, steps, span] : [steps, batch, span]), inputs: [projection],
                name: "\(prefix).input_projection_steps")
            // GRU's candidate reads its recurrent rows through the reset gate: without linear_before_reset they
            // multiply r⊙h in a product of their own, so the shared product covers the two gates only.
            let separateCandidate = cell == .gru && !linearBeforeReset
            let sharedRows = separateCandidate ? 2 * units : span
            let recurrentFilter = constant(
                Array(recurrentWeights[..<(sharedRows * units)]), [sharedRows, units], "\(prefix).R")
            let candidate =
                keepsCandidateBias
                ? (
                    bias: constant(Array(recurrentBias[(2 * units)...]), [units], "\(prefix).Rb_candidate"),
                    filter: separateCandidate
                        ? constant(Array(recurrentWeights[(2 * units * units)...]), [units, units], "\(prefix).R_candidate")
                        : nil
                ) : nil
            var hidden = try initialState(5, d, "initial_h")
            var state = cell == .lstm ? try initialState(6, d, "initial_c") : nil
            var outputs = [ValueID?](repeating: nil, count: steps)
            for t in isReversed ? Array((0..<steps).reversed()) : Array(0..<steps) {
                let stepName = "\(prefix).t\(t)"
                func add(_ op: Op, _ inputs: [ValueID], _ suffix: String) throws -> ValueID {
                    try graph.addNode(op, inputs: inputs, name: "\(stepName).\(suffix)")
                }
                let slice = try add(
                    .slice(begin: batchMajor ? [0, t, 0] : [t, 0, 0], size: batchMajor ? [batch, 1, span] : [1, batch, span]),
                    [sequence], "x")
                let projected = try add(.reshape([batch, span]), [slice], "x_rows")
                func part(_ value: ValueID, _ gate: Int, of count: Int, _ suffix: String) throws -> ValueID {
                    count == 1 ? value : try add(.slice(begin: [0, gate * units], size: [batch, units]), [value], suffix)
                }
                func activate(_ value: ValueID, _ activation: Activation, _ suffix: String) throws -> ValueID {
                    var value = value
                    if let clip {
                        value = try add(.binary(.maximum, activation: nil), [value, constant([-clip], [1], "\(stepName).low")], "\(suffix).floor")
                        value = try add(.binary(.minimum, activation: nil), [value, constant([clip], [1], "\(stepName).high")], "\(suffix).clipped")
                    }
                    return try add(.activation(activation), [value], suffix)
                }
                let (f, g, h) = (activations[d][0], activations[d].count > 1 ? activations[d][1] : .tanh, activations[d].last ?? .tanh)
                switch cell {
                case .rnn:
                    let recurrent = try add(.fullyConnected(activation: nil), [hidden, recurrentFilter], "recurrent")
                    hidden = try activate(try add(.add(activation: nil), [projected, recurrent], "preactivation"), f, "hidden")
                case .lstm:
                    let recurrent = try add(.fullyConnected(activation: nil), [hidden, recurrentFilter], "recurrent")
                    let sum = try add(.add(activation: nil), [projected, recurrent], "preactivation")
                    let previous = state ?? hidden
                    func peeped(_ gate: Int, _ peephole: Int, _ cellState: ValueID, _ suffix: String) throws -> ValueID {
                        let value = try part(sum, gate, of: 4, suffix)
                        guard let peepholes else { return value }
                        let weights = constant(
                            Array(peepholes[(d * 3 + peephole) * units..<(d * 3 + peephole + 1) * units]), [units],
                            "\(prefix).P\(peephole)")
                        let product = try add(.multiply(activation: nil), [cellState, weights], "\(suffix).peephole")
                        return try add(.add(activation: nil), [value, product], "\(suffix).peeped")
                    }
                    // Gate order i, o, f, c; peepholes i, o, f. Coupled, the forget gate is 1 − i (ONNX Runtime's
                    // reading of input_forget; TFLite's CIFG couples the other way).
                    let input = try activate(try peeped(0, 0, previous, "i"), f, "input_gate")
                    let forget =
                        couplesGates
                        ? try add(.subtract(activation: nil), [constant([1], [1], "\(stepName).one"), input], "forget_gate")
                        : try activate(try peeped(2, 2, previous, "f"), f, "forget_gate")
                    let candidate = try activate(try part(sum, 3, of: 4, "c"), g, "candidate")
                    let kept = try add(.multiply(activation: nil), [forget, previous], "kept")
                    let admitted = try add(.multiply(activation: nil), [input, candidate], "admitted")
                    let newState = try add(.add(activation: nil), [kept, admitted], "cell")
                    let output = try activate(try peeped(1, 1, newState, "o"), f, "output_gate")
                    let squashed = try add(.activation(h), [newState], "squashed")
                    hidden = try add(.multiply(activation: nil), [output, squashed], "hidden")
                    state = newState
                case .gru:
                    guard let candidate else { throw ONNXProblem("internal error: a GRU without its candidate's weights") }
                    let recurrent = try add(.fullyConnected(activation: nil), [hidden, recurrentFilter], "recurrent")
                    func gate(_ index: Int, _ suffix: String) throws -> ValueID {
                        try add(
                            .add(activation: nil), [try part(projected, index, of: 3, "\(suffix).x"), try part(recurrent, index, of: 3, "\(suffix).h")],
                            suffix)
                    }
                    let update = try activate(try gate(0, "z_sum"), f, "update_gate")
                    let reset = try activate(try gate(1, "r_sum"), f, "reset_gate")
                    let candidateInput = try part(projected, 2, of: 3, "n.x")
                    let candidateRecurrent: ValueID
                    if let filter = candidate.filter {
                        let resetHidden = try add(.multiply(activation: nil), [reset, hidden], "reset_hidden")
                        candidateRecurrent = try add(.fullyConnected(activation: nil), [resetHidden, filter, candidate.bias], "n.h")
                    } else {
                        let biased = try add(.add(activation: nil), [try part(recurrent, 2, of: 3, "n.h"), candidate.bias], "n.h_biased")
                        candidateRecurrent = try add(.multiply(activation: nil), [reset, biased], "n.reset")
                    }
                    let proposal = try activate(try add(.add(activation: nil), [candidateInput, candidateRecurrent], "n_sum"), g, "candidate")
                    // h' = n + z⊙(h − n)
                    let difference = try add(.subtract(activation: nil), [hidden, proposal], "difference")
                    let moved = try add(.multiply(activation: nil), [update, difference], "moved")
                    hidden = try add(.add(activation: nil), [proposal, moved], "hidden")
                }
                outputs[t] = hidden
            }
            hiddens.append(outputs.compactMap { $0 })
            finals.append((hidden, state))
        }
        try defineRecurrentOutputs(node, hiddens: hiddens, finals: finals, batchMajor: batchMajor, units: units)
    }

    /// `Y` (every step's hidden state), `Y_h` and `Y_c` (the last ones) in the node's layout, where named.
    private mutating func defineRecurrentOutputs(
        _ node: ONNXNode, hiddens: [[ValueID]], finals: [(hidden: ValueID, cell: ValueID?)], batchMajor: Bool, units: Int
    ) throws {
        let name = resultName(node)
        let (directions, steps) = (hiddens.count, hiddens.first?.count ?? 0)
        guard let batch = hiddens.first?.first.map({ graph.type(of: $0).shape[0] }) else { return }
        func named(_ index: Int) -> Bool { index < node.outputs.count && !node.outputs[index].isEmpty }
        func joined(_ values: [ValueID], axis: Int, _ suffix: String) throws -> ValueID {
            values.count == 1 ? values[0] : try graph.addNode(.concatenation(axis: axis, activation: nil), inputs: values, name: "\(name).\(suffix)")
        }
        if named(0) {
            // [steps, directions, batch, units], or [batch, steps, directions, units].
            let perStep = try (0..<steps).map { t in
                let parts = try (0..<directions).map { d in
                    try graph.addNode(
                        .reshape(batchMajor ? [batch, 1, 1, units] : [1, 1, batch, units]), inputs: [hiddens[d][t]],
                        name: "\(name).y\(t).\(d)")
                }
                return try joined(parts, axis: batchMajor ? 2 : 1, "y\(t)")
            }
            define(node, try joined(perStep, axis: batchMajor ? 1 : 0, "Y"), output: 0)
        }
        for (index, states) in [(1, finals.map(\.hidden)), (2, finals.compactMap(\.cell))] where named(index) && !states.isEmpty {
            let label = index == 1 ? "Y_h" : "Y_c"
            let parts = try states.enumerated().map { d, state in
                try graph.addNode(
                    .reshape(batchMajor ? [batch, 1, units] : [1, batch, units]), inputs: [state], name: "\(name).\(label).\(d)")
            }
            define(node, try joined(parts, axis: batchMajor ? 1 : 0, label), output: index)
        }
    }

    /// The node's activations per direction (`f`, `g`, `h` for LSTM; `f`, `g` for GRU; `f` for RNN).
    private func recurrentActivations(_ node: ONNXNode, _ cell: RecurrentCell, directions: Int) throws -> [[Activation]] {
        let count = cell.defaultActivations.count
        let names =
            node.attributes["activations"].map { $0.strings.map { String(decoding: $0, as: UTF8.self) } }
            ?? Array(repeatElement(cell.defaultActivations, count: directions).joined())
        guard names.count == count * directions else {
            throw ONNXProblem("activations lists \(names.count) functions; this node needs \(count) per direction")
        }
        if node.attributes["activation_alpha"] != nil || node.attributes["activation_beta"] != nil {
            throw ONNXProblem("activation_alpha and activation_beta are not supported")
        }
        return try (0..<directions).map { d in
            try names[(d * count)..<((d + 1) * count)].map { name in
                guard let activation = Self.recurrentActivations[name] else {
                    throw ONNXProblem("the activation '\(name)' is not supported (Sigmoid, Tanh or Relu)")
                }
                return activation
            }
        }
    }

    /// A float32 constant of `values` with `shape`.
    private mutating func constant(_ values: [Float], _ shape: [Int], _ name: String) -> ValueID {
        graph.addConstant(name: name, data: TensorData(values, shape: Shape(shape)))
    }
}
