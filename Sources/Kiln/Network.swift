import KilnIR

/// A model's whole graph as a function from its inputs to its outputs, for
/// models with several inputs: it reads every ``Input`` declared before it, in
/// order, and ends the body.
///
/// ```swift
/// var body: some Layer {
///     Input(shape: [1, 20, 10, 1]).named("spectrogram")
///     Input(shape: [1, 4]).named("context")
///     Network { inputs in
///         let features = inputs[0].applying(Conv2D(8, kernel: 3, activation: .relu)).applying(Flatten())
///         let context = inputs[1].applying(Dense(8, activation: .relu))
///         return [concatenate([features, context]).applying(Dense(6))]
///     }
/// }
/// ```
public struct Network: NamedLayer {
    /// The block's function: the model's inputs in declaration order to its outputs in order.
    public var function: ([SymbolicTensor]) -> [SymbolicTensor]
    /// Unused: sub-layers name themselves.
    public var name: String?
    /// Unused: sub-layers carry their own parameters.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates the block.
    public init(
        file: String = #filePath, line: Int = #line, column: Int = #column,
        _ function: @escaping ([SymbolicTensor]) -> [SymbolicTensor]
    ) {
        self.function = function
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Runs the function on the model's inputs and records its results as the model's outputs.
    public func trace(into tracer: Tracer) {
        guard let inputs = tracer.networkInputs(at: location) else { return }
        let results = function(inputs.map { SymbolicTensor(id: $0, tracer: tracer, location: location) })
        guard !results.isEmpty else { return tracer.fail("Network needs at least one result", at: location) }
        let ids = results.compactMap(\.id)
        guard ids.count == results.count else { return }
        tracer.setOutputs(ids, at: location)
    }
}
