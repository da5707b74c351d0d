import KilnIR

/// A fully-connected layer over the last axis: `y = x · Wᵀ + b`.
///
/// Its weight is `[units, inputs]` and its bias `[units]`.
///
/// ```swift
/// Dense(128, activation: .relu)
/// ```
public struct Dense: NamedLayer {
    /// Output features.
    public var units: Int
    /// Activation applied to the result.
    public var activation: Activation?
    /// Whether the layer adds a bias.
    public var useBias: Bool
    /// The layer's name; `dense_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters, if the layer runs on int8 data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a fully-connected layer with `units` outputs.
    public init(
        _ units: Int, activation: Activation? = nil, useBias: Bool = true, file: String = #filePath, line: Int = #line, column: Int = #column
    ) {
        self.units = units
        self.activation = activation
        self.useBias = useBias
        self.location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the matrix product, bias and activation; fusion passes merge them later.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "dense", at: location)
        guard let input = tracer.requireInput(for: name, at: location) else { return }
        guard units > 0 else { return tracer.fail("Dense needs at least one unit, got \(units)", at: location) }
        let features = input.shape.dimensions.last ?? 0
        if input.shape.rank >= 4 {
            // Legal (each position of the leading axes gets its own product, as in Keras), but an
            // image's features usually go to a classifier flattened; rank 3 is left alone, since
            // sequence models apply Dense per position on purpose.
            let result = Shape(input.shape.dimensions.dropLast() + [units])
            tracer.warn(
                "Dense(\(units)) applies to the last axis of its \(input.shape) input, giving \(result);"
                    + " did you forget Flatten() before it?", at: location)
        }
        tracer.addWeightedLayer(
            .init(
                op: { .fullyConnected(activation: $0) }, name: name, weightShape: [units, features], channelAxis: 0,
                channels: units, useBias: useBias, activation: activation, fanIn: features, fanOut: units,
                location: location, quantization: quantization))
    }
}

extension Optional where Wrapped == Activation {
    /// He initialization suits ReLU-family layers; Glorot suits the rest.
    var initializerScheme: WeightInitializer.Scheme {
        switch self {
        case .relu?, .relu6?, .gelu?, .hardSwish?: .heUniform
        default: .glorotUniform
        }
    }
}
