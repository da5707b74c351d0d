import KilnIR

/// An activation applied element-wise as a layer of its own.
///
/// ```swift
/// ActivationLayer(.gelu)
/// ```
public struct ActivationLayer: NamedLayer {
    /// The function applied.
    public var function: Activation
    /// The layer's name; the function's name with a counter by default.
    public var name: String?
    /// The output's int8 quantization parameters, if the layer runs on int8 data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates an activation layer.
    public init(_ function: Activation, file: String = #filePath, line: Int = #line, column: Int = #column) {
        self.function = function
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the activation node.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: function.rawValue, at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.apply(.activation(function), name: name, at: location, quantization: quantization)
    }
}

/// `max(x, 0)` as a layer.
public func ReLU(file: String = #filePath, line: Int = #line, column: Int = #column) -> ActivationLayer {
    ActivationLayer(.relu, file: file, line: line, column: column)
}

/// `min(max(x, 0), 6)` as a layer.
public func ReLU6(file: String = #filePath, line: Int = #line, column: Int = #column) -> ActivationLayer {
    ActivationLayer(.relu6, file: file, line: line, column: column)
}

/// The logistic function as a layer.
public func Sigmoid(file: String = #filePath, line: Int = #line, column: Int = #column) -> ActivationLayer {
    ActivationLayer(.sigmoid, file: file, line: line, column: column)
}

/// The hyperbolic tangent as a layer.
public func Tanh(file: String = #filePath, line: Int = #line, column: Int = #column) -> ActivationLayer {
    ActivationLayer(.tanh, file: file, line: line, column: column)
}

/// The exact GELU, `x · Φ(x)`, as a layer.
public func GELU(file: String = #filePath, line: Int = #line, column: Int = #column) -> ActivationLayer {
    ActivationLayer(.gelu, file: file, line: line, column: column)
}

/// MobileNetV3's hard swish, `x/6 · min(max(x + 3, 0), 6)`, as a layer.
public func HardSwish(file: String = #filePath, line: Int = #line, column: Int = #column) -> ActivationLayer {
    ActivationLayer(.hardSwish, file: file, line: line, column: column)
}

/// Softmax over the last axis.
public struct Softmax: NamedLayer {
    /// The layer's name; `softmax_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters, if the layer runs on int8 data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a softmax layer.
    public init(file: String = #filePath, line: Int = #line, column: Int = #column) {
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the softmax node.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "softmax", at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.apply(.softmax, name: name, at: location, quantization: quantization)
    }
}
