import KilnIR

/// Max pooling over height and width of NHWC input.
///
/// ```swift
/// MaxPool2D(2)  // 2×2 windows, stride 2
/// ```
public struct MaxPool2D: NamedLayer, ExplicitlyPadded {
    /// Window size and strides.
    public var geometry: PoolGeometry
    /// The layer's name; `max_pool2d_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters; the input's by default.
    public var quantization: QuantizationParameters?

    /// Positions outside the input that windows may cover, overriding the padding (see ``ExplicitlyPadded``).
    public var explicitPadding: [[Int]]? {
        get { geometry.attributes.explicitPadding }
        set { geometry.attributes.explicitPadding = newValue }
    }

    /// Creates max pooling with a square window; strides default to the window size.
    public init(
        _ size: Int, strides: Int? = nil, padding: Padding = .valid, file: String = #filePath, line: Int = #line,
        column: Int = #column
    ) {
        geometry = PoolGeometry(
            size: (size, size), strides: strides.map { ($0, $0) }, padding: padding, file: file, line: line, column: column)
    }

    /// Creates max pooling with a `(height, width)` window; strides default to the window size.
    public init(
        size: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid, file: String = #filePath,
        line: Int = #line, column: Int = #column
    ) {
        geometry = PoolGeometry(size: size, strides: strides, padding: padding, file: file, line: line, column: column)
    }

    /// Adds the pooling node.
    public func trace(into tracer: Tracer) {
        geometry.trace(into: tracer, name: name, kind: "max_pool2d", quantization: quantization) { .maxPool2D($0) }
    }
}

/// Average pooling over height and width of NHWC input; padded positions are not counted.
///
/// ```swift
/// AveragePool2D(2)
/// ```
public struct AveragePool2D: NamedLayer, ExplicitlyPadded {
    /// Window size and strides.
    public var geometry: PoolGeometry
    /// The layer's name; `average_pool2d_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters; the input's by default.
    public var quantization: QuantizationParameters?

    /// Positions outside the input that windows may cover, overriding the padding (see ``ExplicitlyPadded``).
    public var explicitPadding: [[Int]]? {
        get { geometry.attributes.explicitPadding }
        set { geometry.attributes.explicitPadding = newValue }
    }

    /// Creates average pooling with a square window; strides default to the window size.
    public init(
        _ size: Int, strides: Int? = nil, padding: Padding = .valid, file: String = #filePath, line: Int = #line,
        column: Int = #column
    ) {
        geometry = PoolGeometry(
            size: (size, size), strides: strides.map { ($0, $0) }, padding: padding, file: file, line: line, column: column)
    }

    /// Creates average pooling with a `(height, width)` window; strides default to the window size.
    public init(
        size: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid, file: String = #filePath,
        line: Int = #line, column: Int = #column
    ) {
        geometry = PoolGeometry(size: size, strides: strides, padding: padding, file: file, line: line, column: column)
    }

    /// Adds the pooling node.
    public func trace(into tracer: Tracer) {
        geometry.trace(into: tracer, name: name, kind: "average_pool2d", quantization: quantization) {
            .averagePool2D($0)
        }
    }
}

/// The window, strides and padding shared by the pooling layers.
public struct PoolGeometry: Sendable {
    /// Window height and width, strides and padding.
    public var attributes: Pool2DAttributes
    let location: SourceLocation

    init(size: (Int, Int), strides: (Int, Int)?, padding: Padding, file: String, line: Int, column: Int) {
        let step = strides ?? size
        attributes = Pool2DAttributes(window: [size.0, size.1], strides: [step.0, step.1], padding: padding)
        location = SourceLocation(file: file, line: line, column: column)
    }

    func trace(
        into tracer: Tracer, name: String?, kind: String, quantization: QuantizationParameters?,
        op: (Pool2DAttributes) -> Op
    ) {
        let name = tracer.layerName(name, kind: kind, at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.apply(op(attributes), name: name, at: location, quantization: quantization)
    }
}
