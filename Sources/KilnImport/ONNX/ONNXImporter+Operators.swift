import KilnIR

/// The table from ONNX `op_type` to the function converting such a node.
extension ONNXConversion {
    typealias Converter = @Sendable (inout ONNXConversion, ONNXNode) throws -> Void

    static let converters: [String: Converter] = {
        var table: [String: Converter] = [
            "Conv": { try $0.convertConv($1) },
            "MaxPool": { try $0.convertPool($1, average: false) },
            "AveragePool": { try $0.convertPool($1, average: true) },
            "GlobalAveragePool": { try $0.convertGlobalPool($1, average: true) },
            "GlobalMaxPool": { try $0.convertGlobalPool($1, average: false) },
            "BatchNormalization": { try $0.convertBatchNormalization($1) },
            "Gemm": { try $0.convertGemm($1) },
            "MatMul": { try $0.convertMatMul($1) },
            "Clip": { try $0.convertClip($1) },
            "LeakyRelu": { try $0.convertLeakyRelu($1) },
            "Reciprocal": { try $0.convertReciprocal($1) },
            "HardSigmoid": { try $0.convertHardSigmoid($1) },
            "Softmax": { try $0.convertSoftmax($1) },
            "LayerNormalization": { try $0.convertLayerNormalization($1) },
            "Flatten": { try $0.convertFlatten($1) },
            "Reshape": { try $0.convertReshape($1) },
            "Transpose": { try $0.convertTranspose($1) },
            "Squeeze": { try $0.convertSqueeze($1, unsqueeze: false) },
            "Unsqueeze": { try $0.convertSqueeze($1, unsqueeze: true) },
            "Concat": { try $0.convertConcat($1) },
            "Slice": { try $0.convertSlice($1) },
            "Split": { try $0.convertSplit($1) },
            "Expand": { try $0.convertExpand($1) },
            "Pad": { try $0.convertPad($1) },
            "ReduceMean": { try $0.convertReduce($1, nil) },
            "ReduceSum": { try $0.convertReduce($1, .sum) },
            "ReduceMax": { try $0.convertReduce($1, .maximum) },
            "ReduceMin": { try $0.convertReduce($1, .minimum) },
            "ReduceProd": { try $0.convertReduce($1, .product) },
            "ArgMax": { try $0.convertArgExtremum($1, .maximum) },
            "ArgMin": { try $0.convertArgExtremum($1, .minimum) },
            "Resize": { try $0.convertResize($1) },
            "DepthToSpace": { try $0.convertSpaceDepth($1, toDepth: false) },
            "SpaceToDepth": { try $0.convertSpaceDepth($1, toDepth: true) },
            "Tile": { try $0.convertTile($1) },
            "LogSoftmax": { try $0.convertLogSoftmax($1) },
            "ConvTranspose": { try $0.convertConvTranspose($1) },
            "Shape": { try $0.convertShape($1) },
            "Gather": { try $0.convertGather($1) },
            "Cast": { try $0.convertCast($1) },
            "Constant": { try $0.convertConstant($1) },
            "Identity": { try $0.alias($1) },
            "Dropout": { try $0.alias($1) },
            "QuantizeLinear": { try $0.convertQuantize($1) },
            "QLinearConv": { try $0.convertQLinearConv($1) },
            "QLinearMatMul": { try $0.convertQLinearMatMul($1) },
            "DequantizeLinear": { try $0.convertDequantize($1) },
            "LSTM": { try $0.convertRecurrent($1, .lstm) },
            "GRU": { try $0.convertRecurrent($1, .gru) },
            "RNN": { try $0.convertRecurrent($1, .rnn) },
        ]
        for name in unaryFunctions.keys { table[name] = { try $0.convertUnary($1) } }
        for name in binaryOperators.keys { table[name] = { try $0.convertBinary($1) } }
        return table
    }()

    /// Operators applying one function to each element.
    static let unaryFunctions: [String: Activation] = [
        "Relu": .relu, "Sigmoid": .sigmoid, "Tanh": .tanh, "HardSwish": .hardSwish, "Gelu": .gelu, "Elu": .elu,
        "Abs": .abs, "Neg": .negate, "Exp": .exp, "Log": .log, "Sqrt": .sqrt, "Erf": .erf,
    ]

    /// Element-wise operators of two operands, with NumPy broadcasting.
    static let binaryOperators: [String: Op] = [
        "Add": .add(activation: nil), "Sub": .subtract(activation: nil), "Mul": .multiply(activation: nil),
        "Div": .binary(.divide, activation: nil), "Pow": .binary(.power, activation: nil),
        "Max": .binary(.maximum, activation: nil), "Min": .binary(.minimum, activation: nil),
        "PRelu": .binary(.prelu, activation: nil),
    ]
}
