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
        let weight = tracer.addParameter(
            layer: name, suffix: "weight", shape: [units, features], scheme: activation.initializerScheme,
            fanIn: features, fanOut: units)
        tracer.apply(.fullyConnected(activation: nil), operands: [weight], name: name, at: location)
        if useBias {
            let bias = tracer.addParameter(
                layer: name, suffix: "bias", shape: [units], scheme: .zeros, fanIn: features, fanOut: units)
            tracer.apply(.add(activation: nil), operands: [bias], name: "\(name).bias_add", at: location)
        }
        if let activation {
            tracer.apply(.activation(activation), name: "\(name).\(activation.rawValue)", at: location)
        }
    }
}

extension Optional where Wrapped == Activation {
    /// He initialization suits ReLU-family layers; Glorot suits the rest.
    var initializerScheme: WeightInitializer.Scheme {
        switch self {
        case .relu?, .relu6?, .gelu?: .heUniform
        default: .glorotUniform
        }
    }
}
