import KilnIR

/// A value flowing through a ``Functional`` block: apply layers to it and
/// combine it with others to build any graph.
public struct SymbolicTensor {
    let id: ValueID?
    let tracer: Tracer
    let location: SourceLocation

    /// The tensor's shape, or `[]` after a tracing error.
    public var shape: [Int] { id.map { tracer.type(of: $0).shape.dimensions } ?? [] }

    /// The result of running `layer` on this tensor.
    ///
    /// ```swift
    /// let y = x.applying(Conv2D(16, kernel: 3, padding: .same, activation: .relu))
    /// ```
    public func applying(_ layer: some Layer) -> SymbolicTensor {
        guard let id else { return self }
        tracer.current = id
        layer.trace(into: tracer)
        return SymbolicTensor(id: tracer.current, tracer: tracer, location: location)
    }

    /// The element-wise sum (with NumPy broadcasting).
    public static func + (lhs: SymbolicTensor, rhs: SymbolicTensor) -> SymbolicTensor {
        merge([lhs, rhs], .add(), kind: "add")
    }

    /// The element-wise difference (with NumPy broadcasting).
    public static func - (lhs: SymbolicTensor, rhs: SymbolicTensor) -> SymbolicTensor {
        merge([lhs, rhs], .subtract(), kind: "subtract")
    }

    /// The element-wise product (with NumPy broadcasting).
    public static func * (lhs: SymbolicTensor, rhs: SymbolicTensor) -> SymbolicTensor {
        merge([lhs, rhs], .multiply(), kind: "multiply")
    }

    /// The element-wise quotient (with NumPy broadcasting).
    public static func / (lhs: SymbolicTensor, rhs: SymbolicTensor) -> SymbolicTensor {
        merge([lhs, rhs], .binary(.divide), kind: "divide")
    }

    static func merge(_ tensors: [SymbolicTensor], _ merge: Merge, kind: String, quantization: QuantizationParameters? = nil)
        -> SymbolicTensor
    {
        let first = tensors[0]
        let ids = tensors.compactMap(\.id)
        guard ids.count == tensors.count else { return SymbolicTensor(id: nil, tracer: first.tracer, location: first.location) }
        let name = first.tracer.layerName(nil, kind: kind, at: first.location)
        let result = first.tracer.merge(ids, merge, name: name, at: first.location, quantization: quantization)
        return SymbolicTensor(id: result, tracer: first.tracer, location: first.location)
    }
}

/// `tensors` joined along `axis` (the channel axis by default), then `activation`;
/// on int8 data the result takes `scale` and `zeroPoint`.
public func concatenate(
    _ tensors: [SymbolicTensor], axis: Int = -1, activation: Activation? = nil, scale: Float? = nil, zeroPoint: Int32 = 0
) -> SymbolicTensor {
    precondition(!tensors.isEmpty, "concatenate needs at least one tensor")
    let result = SymbolicTensor.merge(
        tensors, .concatenate(axis: axis), kind: "concatenate",
        quantization: scale.map { .perTensor(scale: $0, zeroPoint: zeroPoint) })
    return activation.map { result.applying(ActivationLayer($0)) } ?? result
}

/// The element-wise sum of `a` and `b`, then `activation`; on int8 data the
/// result takes `scale` and `zeroPoint`.
public func add(
    _ a: SymbolicTensor, _ b: SymbolicTensor, activation: Activation? = nil, scale: Float? = nil, zeroPoint: Int32 = 0
) -> SymbolicTensor {
    SymbolicTensor.merge(
        [a, b], .add(activation: activation), kind: "add", quantization: scale.map { .perTensor(scale: $0, zeroPoint: zeroPoint) })
}

/// The element-wise product of `a` and `b`, then `activation`; on int8 data the
/// result takes `scale` and `zeroPoint`.
public func multiply(
    _ a: SymbolicTensor, _ b: SymbolicTensor, activation: Activation? = nil, scale: Float? = nil, zeroPoint: Int32 = 0
) -> SymbolicTensor {
    SymbolicTensor.merge(
        [a, b], .multiply(activation: activation), kind: "multiply",
        quantization: scale.map { .perTensor(scale: $0, zeroPoint: zeroPoint) })
}

/// The element-wise difference `a − b`, then `activation`; on int8 data the
/// result takes `scale` and `zeroPoint`.
public func subtract(
    _ a: SymbolicTensor, _ b: SymbolicTensor, activation: Activation? = nil, scale: Float? = nil, zeroPoint: Int32 = 0
) -> SymbolicTensor {
    SymbolicTensor.merge(
        [a, b], .subtract(activation: activation), kind: "subtract",
        quantization: scale.map { .perTensor(scale: $0, zeroPoint: zeroPoint) })
}

/// `function(a, b)` element by element (`.divide`, `.minimum`, `.maximum`,
/// `.squaredDifference`, `.power`), then `activation`; on int8 data the result
/// takes `scale` and `zeroPoint`.
///
/// ```swift
/// let variance = mean(combine(x, mu, .squaredDifference))
/// ```
public func combine(
    _ a: SymbolicTensor, _ b: SymbolicTensor, _ function: BinaryFunction, activation: Activation? = nil, scale: Float? = nil,
    zeroPoint: Int32 = 0
) -> SymbolicTensor {
    SymbolicTensor.merge(
        [a, b], .binary(function, activation: activation), kind: function.rawValue,
        quantization: scale.map { .perTensor(scale: $0, zeroPoint: zeroPoint) })
}

/// The matrix product of the last two axes of `a` and `b`, batched over the
/// leading axes (broadcast); `adjointA`/`adjointB` read an operand transposed.
/// On int8 data the result takes `scale` and `zeroPoint`.
///
/// ```swift
/// let scores = matmul(queries, keys, adjointB: true)  // [heads, tokens, tokens]
/// ```
public func matmul(
    _ a: SymbolicTensor, _ b: SymbolicTensor, adjointA: Bool = false, adjointB: Bool = false, scale: Float? = nil,
    zeroPoint: Int32 = 0
) -> SymbolicTensor {
    let tracer = a.tracer
    guard let left = a.id, let right = b.id else { return SymbolicTensor(id: nil, tracer: tracer, location: a.location) }
    let name = tracer.layerName(nil, kind: "matmul", at: a.location)
    let result = tracer.node(
        .batchMatMul(adjointA: adjointA, adjointB: adjointB), inputs: [left, right], name: name, at: a.location,
        quantization: scale.map { .perTensor(scale: $0, zeroPoint: zeroPoint) })
    return SymbolicTensor(id: result, tracer: tracer, location: a.location)
}

/// A block written as a function from its input to its output, for graphs a
/// list of layers cannot express.
///
/// ```swift
/// Functional { x in
///     let shortcut = x.applying(Conv2D(32, kernel: 1, strides: 2))
///     let main = x.applying(Conv2D(32, kernel: 3, strides: 2, padding: .same, activation: .relu))
///         .applying(Conv2D(32, kernel: 3, padding: .same))
///     return (main + shortcut).applying(ReLU())
/// }
/// ```
public struct Functional: NamedLayer {
    /// The block's function.
    public var function: (SymbolicTensor) -> SymbolicTensor
    /// Unused: sub-layers name themselves.
    public var name: String?
    /// Unused: sub-layers carry their own parameters.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a functional block.
    public init(
        file: String = #filePath, line: Int = #line, column: Int = #column,
        _ function: @escaping (SymbolicTensor) -> SymbolicTensor
    ) {
        self.function = function
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Runs the function on the current value.
    public func trace(into tracer: Tracer) {
        guard let start = tracer.startValue(for: "Functional", at: location) else { return }
        let output = function(SymbolicTensor(id: start, tracer: tracer, location: location))
        tracer.current = output.id
    }
}
