import KilnIR

extension SymbolicTensor {
    /// A tensor of `shape` loaded from the model's weights under `NAME.value`
    /// (zeros when the model has no weight file), for an operand that is a
    /// fixed tensor: slopes, offsets, an embedding table, indices. `dtype` is
    /// float32, int32, or int8 with `scale` and `zeroPoint`.
    ///
    /// ```swift
    /// let slopes = x.constant(named: "prelu_0", shape: [1, 1, 16])
    /// let y = combine(x, slopes, .prelu)
    /// ```
    public func constant(
        named name: String, shape: [Int], dtype: DType = .float32, scale: Float = 1, zeroPoint: Int32 = 0
    ) -> SymbolicTensor {
        let key = tracer.layerName(name, kind: "constant", at: location)
        let id = tracer.addParameter(
            layer: key, suffix: "value", shape: Shape(shape), scheme: .zeros, fanIn: 1, fanOut: 1, dtype: dtype,
            quantization: dtype == .int8 ? .perTensor(scale: scale, zeroPoint: zeroPoint) : nil,
            at: dtype == .float32 ? nil : location)
        return SymbolicTensor(id: id, tracer: tracer, location: location)
    }
}

/// The slices of `data` along `axis` at the int32 positions in `indices`
/// (negative ones count from the end; one outside the axis gives zeros); `name`
/// names the layer (`gather_N` by default).
///
/// ```swift
/// let embedded = gather(x.constant(named: "table", shape: [50, 16]), at: tokens, axis: 0)
/// ```
public func gather(_ data: SymbolicTensor, at indices: SymbolicTensor, axis: Int, name: String? = nil) -> SymbolicTensor {
    let tracer = data.tracer
    guard let table = data.id, let positions = indices.id else {
        return SymbolicTensor(id: nil, tracer: tracer, location: data.location)
    }
    let name = tracer.layerName(name, kind: "gather", at: data.location)
    let result = tracer.node(.gather(axis: axis), inputs: [table, positions], name: name, at: data.location, quantization: nil)
    return SymbolicTensor(id: result, tracer: tracer, location: data.location)
}

/// The model's results, when it has several: a function from the current
/// value to the outputs, in order. It ends the body.
///
/// ```swift
/// Outputs { x in
///     let features = x.applying(Dense(32, activation: .relu))
///     return [features.applying(Dense(10)), features.applying(Dense(1))]
/// }
/// ```
public struct Outputs: NamedLayer {
    /// The block's function.
    public var function: (SymbolicTensor) -> [SymbolicTensor]
    /// Unused: sub-layers name themselves.
    public var name: String?
    /// Unused: sub-layers carry their own parameters.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates the block of outputs.
    public init(
        file: String = #filePath, line: Int = #line, column: Int = #column,
        _ function: @escaping (SymbolicTensor) -> [SymbolicTensor]
    ) {
        self.function = function
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Runs the function on the current value and records its results as the model's outputs.
    public func trace(into tracer: Tracer) {
        guard let start = tracer.startValue(for: "Outputs", at: location) else { return }
        let results = function(SymbolicTensor(id: start, tracer: tracer, location: location))
        guard !results.isEmpty else { return tracer.fail("Outputs needs at least one result", at: location) }
        let ids = results.compactMap(\.id)
        guard ids.count == results.count else { return }
        tracer.setOutputs(ids, at: location)
    }
}
