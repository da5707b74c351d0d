/// An activation an operator applies to its result, as the schema's `ActivationFunctionType` numbers it.
public enum TFLiteActivation: Int, Hashable, Sendable {
    /// No activation.
    case none = 0
    /// `max(0, x)`.
    case relu = 1
    /// `min(1, max(-1, x))`.
    case reluN1To1 = 2
    /// `min(6, max(0, x))`.
    case relu6 = 3
    /// `tanh(x)`.
    case tanh = 4
    /// The sign bit, used by a few legacy operators.
    case signBit = 5
}

/// How a convolution or pooling window treats the input's edges, as the schema's `Padding` numbers it.
public enum TFLitePadding: Int, Hashable, Sendable {
    /// Zero-pads so the output has `ceil(input / stride)` positions.
    case same = 0
    /// No padding: windows lie wholly inside the input.
    case valid = 1
}

/// How a fully connected operator's weights are laid out in their buffer.
public enum TFLiteWeightsFormat: Int, Hashable, Sendable {
    /// Plain row-major `[outputs, inputs]`.
    case `default` = 0
    /// int8 weights shuffled into 4×16 blocks for one CPU kernel.
    case shuffled4x16Int8 = 1
}
