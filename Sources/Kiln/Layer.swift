import KilnIR

/// A building block of a model's body. Layers add themselves to a ``Tracer``,
/// which records the graph.
public protocol Layer {
    /// Appends this layer's operations to the graph being traced.
    func trace(into tracer: Tracer)
}

/// A layer with a user-settable name, used for its graph nodes and weight
/// keys, and, on int8 data, the quantization of its output.
public protocol NamedLayer: Layer {
    /// The explicit name, or `nil` for an automatic one such as `dense_0`.
    var name: String? { get set }
    /// The output's int8 quantization parameters, for layers in a quantized model.
    var quantization: QuantizationParameters? { get set }
}

extension NamedLayer {
    /// The same layer, named: weights load from `NAME.weight` and `NAME.bias`.
    ///
    /// ```swift
    /// Dense(10).named("classifier")
    /// ```
    public func named(_ name: String) -> Self {
        var copy = self
        copy.name = name
        return copy
    }

    /// The same layer producing int8 values `q` that stand for `scale · (q - zeroPoint)`.
    ///
    /// On an ``Input`` it makes the model take int8 data; on a layer reading
    /// int8 data it fixes the layer's output parameters (from calibration or
    /// an imported model). Int8 layers load their weights as int8 with
    /// `NAME.weight_scale` and int32 biases.
    ///
    /// ```swift
    /// Conv2D(64, kernel: 3, activation: .relu).quantized(scale: 0.021, zeroPoint: -128)
    /// ```
    public func quantized(scale: Float, zeroPoint: Int32) -> Self {
        var copy = self
        copy.quantization = .perTensor(scale: scale, zeroPoint: zeroPoint)
        return copy
    }
}

/// Layers applied one after another; what a ``LayerBuilder`` block builds.
public struct Sequential: Layer {
    /// The layers, in order.
    public var layers: [any Layer]

    /// Creates a sequence from a builder block.
    public init(@LayerBuilder _ content: () -> Sequential) {
        self = content()
    }

    /// Creates a sequence from layers.
    public init(layers: [any Layer]) {
        self.layers = layers
    }

    /// Traces each layer in order.
    public func trace(into tracer: Tracer) {
        for layer in layers { layer.trace(into: tracer) }
    }
}

/// Builds a ``Sequential`` from the layers written in a block, with `if`,
/// `if`/`else` and `for` loops.
@resultBuilder
public enum LayerBuilder {
    /// One layer.
    public static func buildExpression(_ layer: some Layer) -> [any Layer] { [layer] }

    /// The layers of a block, in order.
    public static func buildBlock(_ components: [any Layer]...) -> [any Layer] { components.flatMap { $0 } }

    /// An `if` without `else`.
    public static func buildOptional(_ component: [any Layer]?) -> [any Layer] { component ?? [] }

    /// The `if` branch.
    public static func buildEither(first component: [any Layer]) -> [any Layer] { component }

    /// The `else` branch.
    public static func buildEither(second component: [any Layer]) -> [any Layer] { component }

    /// A `for` loop.
    public static func buildArray(_ components: [[any Layer]]) -> [any Layer] { components.flatMap { $0 } }

    /// The finished block.
    public static func buildFinalResult(_ component: [any Layer]) -> Sequential { Sequential(layers: component) }
}

/// A windowed layer whose border can be given row by row, as ONNX models state it.
public protocol ExplicitlyPadded: NamedLayer {
    /// `[[top, bottom], [left, right]]`, overriding the layer's `padding`.
    var explicitPadding: [[Int]]? { get set }
}

extension ExplicitlyPadded {
    /// The same layer with `top`, `bottom`, `left` and `right` rows and columns
    /// of padding (zeros for convolutions, never counted by pooling).
    ///
    /// ```swift
    /// Conv2D(8, kernel: 3, strides: 2).padded(top: 0, bottom: 1, left: 0, right: 1)
    /// ```
    public func padded(top: Int, bottom: Int, left: Int, right: Int) -> Self {
        var copy = self
        copy.explicitPadding = [[top, bottom], [left, right]]
        return copy
    }
}
