import KilnIR

/// UNIDIRECTIONAL_SEQUENCE_LSTM, unrolled over its static time steps into
/// fully-connected layers, slices and element-wise ops.
///
/// The input's projection onto every gate is one fully-connected layer over
/// all time steps (the gates' weights stacked); each step then adds the
/// recurrent projection of the previous output and applies
///
///     i = σ(xᵢ + Rᵢh + pᵢ⊙c)    f = σ(x_f + R_f h + p_f⊙c)    g = act(x_c + R_c h)
///     c' = f⊙c + i⊙g (clipped)  o = σ(x_o + R_o h + p_o⊙c')   h' = proj(o⊙act(c'))
///
/// with CIFG (`i = 1 − f`), peepholes `p` and the projection where the model
/// has them. The states start at zero, as LiteRT's variable tensors do.
///
/// An int8 LSTM (TensorFlow Lite's 8x8_16 integer kernel: int8 weights, input
/// and hidden state, int32 biases, an int16 cell state) runs the same float
/// steps on its dequantized weights, between a dequantize of its input and a
/// quantize of its result. What the integer kernel's number formats do to the
/// values is kept: the hidden state is rounded to its int8 grid at every step,
/// since that is what the next step reads, and the cell state saturates where
/// its int16 format ends. The gates' own int16 rounding (steps of 2⁻¹² before
/// the activations, 2⁻¹⁵ after) is not reproduced: far finer than the int8
/// output, it left `lstm_fused_int8`'s output equal to LiteRT's.
extension TFLiteConversion {
    /// The gates in the order of the operator's inputs.
    private enum Gate: Int, CaseIterable {
        case input, forget, cell, output
    }

    mutating func convertSequenceLSTM(_ op: TFLiteOperator, _ options: TFLiteSequenceLSTMOptions, _ output: TFLiteTensor) throws
        -> ValueID
    {
        guard !options.diagonalRecurrentTensors else {
            throw TFLiteError(message: "\(source): diagonal recurrent weights are not supported")
        }
        func present(_ index: Int) -> Int? { index < op.inputs.count && op.inputs[index] >= 0 ? op.inputs[index] : nil }
        guard (20...23).allSatisfy({ present($0) == nil }) else {
            throw TFLiteError(message: "\(source): layer-normalized LSTMs are not supported")
        }
        let input = try value(of: try present(0) ?? { throw TFLiteError(message: "\(source): the LSTM has no input") }())
        guard graph.type(of: input).dtype == .int8 else {
            return try floatSequenceLSTM(op, options, input, output, resultName: output.name, integerStates: nil)
        }
        // The integer kernel's state formats: the output state's int8 grid and the cell state's int16 scale.
        let hidden = try present(18).flatMap { try quantization(subgraph.tensors[$0], dtype: .int8) }
            ?? quantization(output, dtype: .int8)
        guard let hidden, let cellTensor = present(19), let cellScale = subgraph.tensors[cellTensor].quantization?.scale.first,
            cellScale > 0
        else {
            throw TFLiteError(
                message: "\(source): an int8 LSTM needs its output state's int8 and its cell state's int16 quantization (inputs 18 and 19)")
        }
        let states = IntegerLSTMStates(hidden: hidden, cellBound: Float(Int16.max) * cellScale)
        return try inFloat(input, output) { conversion, x, name in
            try conversion.floatSequenceLSTM(op, options, x, output, resultName: name, integerStates: states)
        }
    }

    /// The number formats of an int8 LSTM's states that the float steps keep.
    struct IntegerLSTMStates {
        /// The hidden state's int8 grid, which each step's output is rounded to.
        var hidden: QuantizationParameters
        /// Where the int16 cell state saturates: ±(2¹⁵ − 1) steps of its scale.
        var cellBound: Float
    }

    /// The LSTM's float steps on float input `x`, its last node named `resultName`.
    private mutating func floatSequenceLSTM(
        _ op: TFLiteOperator, _ options: TFLiteSequenceLSTMOptions, _ input: ValueID, _ output: TFLiteTensor, resultName: String,
        integerStates: IntegerLSTMStates?
    ) throws -> ValueID {
        func present(_ index: Int) -> Int? { index < op.inputs.count && op.inputs[index] >= 0 ? op.inputs[index] : nil }
        func weights(_ index: Int) throws -> TensorData? {
            guard let tensor = present(index) else { return nil }
            let id = try value(of: tensor)
            guard let data = graph.constantData(id) else {
                throw TFLiteError(message: "\(source): input \(index) '\(subgraph.tensors[tensor].name)' must be constant weights")
            }
            if data.dtype == .float32 { return data }
            // An int8 LSTM's int8 weights and int32 biases, at their real values.
            guard integerStates != nil, data.dtype == .int8 || data.dtype == .int32, let parameters = graph.type(of: id).quantization else {
                throw TFLiteError(
                    message: "\(source): input \(index) '\(subgraph.tensors[tensor].name)' holds \(data.dtype) weights "
                        + "in a float LSTM (dynamic-range LSTMs are not supported)")
            }
            return TensorData(parameters.dequantize(data), shape: data.shape)
        }
        var x = input
        if options.timeMajor { x = try intermediate(.transpose(permutation: [1, 0, 2]), [x], output, "batch_major") }
        let shape = graph.type(of: x).shape
        guard shape.rank == 3, graph.type(of: x).dtype == .float32 else {
            throw TFLiteError(message: "\(source): the LSTM's input must be float32 [batch, time, features], got \(graph.type(of: x))")
        }
        let (batch, steps, features) = (shape[0], shape[1], shape[2])
        guard unrolledSteps + steps <= Self.maximumUnrolledSteps else {
            throw TFLiteError(
                message: "\(source): the LSTM runs \(steps) steps, more than the \(Self.maximumUnrolledSteps) Kiln unrolls "
                    + "in a model (with its other recurrent layers and loops)")
        }
        unrolledSteps += steps
        let usesCIFG = present(1) == nil
        let gates: [Gate] = usesCIFG ? [.forget, .cell, .output] : Gate.allCases
        var inputWeights: [TensorData] = []
        var recurrentWeights: [TensorData] = []
        var biases: [[Float]] = []
        for gate in gates {
            guard let input = try weights(1 + gate.rawValue), let recurrent = try weights(5 + gate.rawValue) else {
                throw TFLiteError(message: "\(source): the \(gate) gate's weights are missing")
            }
            inputWeights.append(input)
            recurrentWeights.append(recurrent)
            biases.append(try weights(12 + gate.rawValue)?.floats() ?? Array(repeating: 0, count: input.shape[0]))
        }
        let cells = inputWeights[0].shape[0]
        let units = recurrentWeights[0].shape.dimensions.last ?? 0
        guard inputWeights.allSatisfy({ $0.shape == [cells, features] }), recurrentWeights.allSatisfy({ $0.shape == [cells, units] }),
            biases.allSatisfy({ $0.count == cells })
        else {
            throw TFLiteError(message: "\(source): the gates' weights do not agree on \(cells) cells over \(features) features")
        }
        func stacked(_ parts: [TensorData], columns: Int, _ suffix: String) -> ValueID {
            graph.addConstant(
                name: "\(output.name).\(suffix)", data: TensorData(parts.flatMap { $0.floats() }, shape: [gates.count * cells, columns]))
        }
        let inputFilter = stacked(inputWeights, columns: features, "input_weights")
        let recurrentFilter = stacked(recurrentWeights, columns: units, "recurrent_weights")
        let bias = graph.addConstant(name: "\(output.name).bias", data: TensorData(biases.flatMap { $0 }, shape: [gates.count * cells]))
        let peepholes = try [Gate.input, .forget, .output].map { gate in
            try weights(9 + [Gate.input: 0, .forget: 1, .output: 2][gate, default: 0]).map {
                graph.addConstant(name: "\(output.name).peephole_\(gate)", data: $0)
            }
        }
        let projection = try weights(16).map { graph.addConstant(name: "\(output.name).projection", data: $0) }
        let projectionBias = try weights(17).map { graph.addConstant(name: "\(output.name).projection_bias", data: $0) }
        let outputSize = projection.map { graph.type(of: $0).shape[0] } ?? units
        let activation = try Self.activation(options.activation) ?? .tanh

        // Every step's input projection at once.
        let rows = try intermediate(.reshape([batch * steps, features]), [x], output, "rows")
        let projected = try intermediate(
            .reshape([batch, steps, gates.count * cells]),
            [try intermediate(.fullyConnected(activation: nil), [rows, inputFilter, bias], output, "input_projection")],
            output, "input_projection_steps")
        var hidden: ValueID?
        var cell: ValueID?
        var results: [ValueID] = []
        for step in 0..<steps {
            func node(_ op: Op, _ inputs: [ValueID], _ suffix: String) throws -> ValueID {
                try intermediate(op, inputs, output, "t\(step).\(suffix)")
            }
            var preactivation = try node(
                .reshape([batch, gates.count * cells]),
                [try node(.slice(begin: [0, step, 0], size: [batch, 1, gates.count * cells]), [projected], "slice")], "x")
            if let hidden {
                let recurrent = try node(.fullyConnected(activation: nil), [hidden, recurrentFilter], "recurrent")
                preactivation = try node(.add(activation: nil), [preactivation, recurrent], "preactivation")
            }
            func gate(_ gate: Gate) throws -> ValueID {
                let index = gates.firstIndex(of: gate) ?? 0
                return try node(.slice(begin: [0, index * cells], size: [batch, cells]), [preactivation], "\(gate)")
            }
            func peephole(_ value: ValueID, _ index: Int, _ state: ValueID?) throws -> ValueID {
                guard let weights = peepholes[index], let state else { return value }
                return try node(
                    .add(activation: nil), [value, try node(.multiply(activation: nil), [state, weights], "peephole\(index)")],
                    "peeped\(index)")
            }
            let forget = try node(.activation(.sigmoid), [try peephole(try gate(.forget), 1, cell)], "forget_gate")
            let input =
                usesCIFG
                ? try node(.subtract(activation: nil), [scalar(1, output, "t\(step).one"), forget], "input_gate")
                : try node(.activation(.sigmoid), [try peephole(try gate(.input), 0, cell)], "input_gate")
            let candidate = try node(.activation(activation), [try gate(.cell)], "candidate")
            var newCell = try node(.multiply(activation: nil), [input, candidate], "admitted")
            if let cell {
                newCell = try node(
                    .add(activation: nil), [try node(.multiply(activation: nil), [forget, cell], "kept"), newCell], "cell")
            }
            let cellBound = min(options.cellClip > 0 ? options.cellClip : .infinity, integerStates?.cellBound ?? .infinity)
            if cellBound.isFinite { newCell = try clipped(newCell, cellBound, output, "t\(step).cell") }
            let outputGate = try node(.activation(.sigmoid), [try peephole(try gate(.output), 2, newCell)], "output_gate")
            var newHidden = try node(
                .multiply(activation: nil), [outputGate, try node(.activation(activation), [newCell], "squashed")], "hidden")
            if let projection {
                newHidden = try node(
                    .fullyConnected(activation: nil), [newHidden, projection] + (projectionBias.map { [$0] } ?? []), "projected")
                if options.projectionClip > 0 { newHidden = try clipped(newHidden, options.projectionClip, output, "t\(step).hidden") }
            }
            if let grid = integerStates?.hidden {
                let rounded = try graph.addNode(
                    .quantize(to: .int8), inputs: [newHidden], name: "\(output.name).t\(step).hidden_int8", quantization: grid)
                newHidden = try node(.dequantize, [rounded], "hidden_grid")
            }
            results.append(try node(.reshape([batch, 1, outputSize]), [newHidden], "step_output"))
            (hidden, cell) = (newHidden, newCell)
        }
        if options.timeMajor {
            let joined = try intermediate(.concatenation(axis: 1, activation: nil), results, output, "sequence")
            return try graph.addNode(.transpose(permutation: [1, 0, 2]), inputs: [joined], name: resultName)
        }
        return try graph.addNode(.concatenation(axis: 1, activation: nil), inputs: results, name: resultName)
    }

    /// `value` limited to `[-bound, bound]`.
    private mutating func clipped(_ value: ValueID, _ bound: Float, _ output: TFLiteTensor, _ suffix: String) throws -> ValueID {
        let low = try intermediate(.binary(.maximum, activation: nil), [value, scalar(-bound, output, "\(suffix).low")], output, "\(suffix).floor")
        return try intermediate(.binary(.minimum, activation: nil), [low, scalar(bound, output, "\(suffix).high")], output, "\(suffix).clipped")
    }
}
