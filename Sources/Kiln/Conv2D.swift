import KilnIR

/// A 2-D convolution over NHWC input.
///
/// Its weight is `[filters, kernelHeight, kernelWidth, inputChannels]` and its bias `[filters]`.
///
/// ```swift
/// Conv2D(16, kernel: 3, padding: .same, activation: .relu)
/// ```
public struct Conv2D: NamedLayer, ExplicitlyPadded {
    /// Output channels.
    public var filters: Int
    /// Kernel height and width.
    public var kernel: (height: Int, width: Int)
    /// Steps between windows (height, width).
    public var strides: (height: Int, width: Int)
    /// Spacing between kernel taps (height, width).
    public var dilation: (height: Int, width: Int)
    /// Border handling.
    public var padding: Padding
    /// `[[top, bottom], [left, right]]` zero rows and columns, overriding `padding` (see ``ExplicitlyPadded``).
    public var explicitPadding: [[Int]]?
    /// Activation applied to the result.
    public var activation: Activation?
    /// Whether the layer adds a bias.
    public var useBias: Bool
    /// The layer's name; `conv2d_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters, if the layer runs on int8 data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a convolution with a square kernel and equal strides and dilation.
    public init(
        _ filters: Int, kernel: Int, strides: Int = 1, dilation: Int = 1, padding: Padding = .valid,
        activation: Activation? = nil, useBias: Bool = true, file: String = #filePath, line: Int = #line, column: Int = #column
    ) {
        self.init(
            filters, kernel: (kernel, kernel), strides: (strides, strides), dilation: (dilation, dilation),
            padding: padding, activation: activation, useBias: useBias, file: file, line: line, column: column)
    }

    /// Creates a convolution with per-axis kernel size, strides and dilation.
    public init(
        _ filters: Int, kernel: (Int, Int), strides: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1),
        padding: Padding = .valid, activation: Activation? = nil, useBias: Bool = true,
        file: String = #filePath, line: Int = #line, column: Int = #column
    ) {
        self.filters = filters
        self.kernel = kernel
        self.strides = strides
        self.dilation = dilation
        self.padding = padding
        self.activation = activation
        self.useBias = useBias
        self.location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the convolution, bias and activation; fusion passes merge them later.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "conv2d", at: location)
        guard let input = tracer.requireInput(for: name, at: location) else { return }
        guard input.shape.rank == 4 else {
            return tracer.fail(
                "Conv2D '\(name)' needs an NHWC input of rank 4, got \(input.shape); add Reshape first", at: location)
        }
        guard filters > 0, kernel.height > 0, kernel.width > 0 else {
            return tracer.fail("Conv2D '\(name)' needs positive filters and kernel size", at: location)
        }
        let channels = input.shape[3]
        let attributes = Conv2DAttributes(
            strides: [strides.height, strides.width], dilations: [dilation.height, dilation.width], padding: padding,
            explicitPadding: explicitPadding)
        tracer.addWeightedLayer(
            .init(
                op: { activation in
                    var fused = attributes
                    fused.activation = activation
                    return .conv2D(fused)
                }, name: name, weightShape: [filters, kernel.height, kernel.width, channels], channelAxis: 0,
                channels: filters, useBias: useBias, activation: activation,
                fanIn: Shape([kernel.height, kernel.width, channels]).elementCount,
                fanOut: Shape([kernel.height, kernel.width, filters]).elementCount,
                location: location, quantization: quantization))
    }
}
