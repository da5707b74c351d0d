import KilnIR

/// A depthwise 2-D convolution: each input channel is convolved with its own
/// `depthMultiplier` filters.
///
/// Its weight is `[1, kernelHeight, kernelWidth, channels · depthMultiplier]`
/// and its bias `[channels · depthMultiplier]`.
///
/// ```swift
/// DepthwiseConv2D(kernel: 3, padding: .same, activation: .relu6)
/// ```
public struct DepthwiseConv2D: NamedLayer, ExplicitlyPadded {
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
    /// Filters per input channel.
    public var depthMultiplier: Int
    /// Activation applied to the result.
    public var activation: Activation?
    /// Whether the layer adds a bias.
    public var useBias: Bool
    /// The layer's name; `depthwise_conv2d_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters, if the layer runs on int8 data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a depthwise convolution with per-axis kernel size, strides and dilation.
    public init(
        kernel: (Int, Int), strides: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1), padding: Padding = .valid,
        depthMultiplier: Int = 1, activation: Activation? = nil, useBias: Bool = true, file: String = #filePath,
        line: Int = #line, column: Int = #column
    ) {
        self.kernel = kernel
        self.strides = strides
        self.dilation = dilation
        self.padding = padding
        self.depthMultiplier = depthMultiplier
        self.activation = activation
        self.useBias = useBias
        self.location = SourceLocation(file: file, line: line, column: column)
    }

    /// Creates a depthwise convolution with a square kernel and equal strides and dilation.
    public init(
        kernel: Int, strides: Int = 1, dilation: Int = 1, padding: Padding = .valid, depthMultiplier: Int = 1,
        activation: Activation? = nil, useBias: Bool = true, file: String = #filePath, line: Int = #line,
        column: Int = #column
    ) {
        self.init(
            kernel: (kernel, kernel), strides: (strides, strides), dilation: (dilation, dilation), padding: padding,
            depthMultiplier: depthMultiplier, activation: activation, useBias: useBias, file: file, line: line,
            column: column)
    }

    /// Adds the convolution, bias and activation.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "depthwise_conv2d", at: location)
        guard let input = tracer.requireInput(for: name, at: location) else { return }
        guard input.shape.rank == 4, depthMultiplier > 0, kernel.height > 0, kernel.width > 0 else {
            return tracer.fail(
                "DepthwiseConv2D '\(name)' needs an NHWC input, a positive kernel and multiplier; got input \(input.shape)",
                at: location)
        }
        // Saturating: an oversized multiplier is reported by shape validation at this layer, not trapped here.
        let channels = Shape([input.shape[3], depthMultiplier]).elementCount
        let attributes = Conv2DAttributes(
            strides: [strides.height, strides.width], dilations: [dilation.height, dilation.width], padding: padding,
            explicitPadding: explicitPadding)
        tracer.addWeightedLayer(
            .init(
                op: { activation in
                    var fused = attributes
                    fused.activation = activation
                    return .depthwiseConv2D(fused)
                }, name: name, weightShape: [1, kernel.height, kernel.width, channels], channelAxis: 3,
                channels: channels, useBias: useBias, activation: activation,
                fanIn: Shape([kernel.height, kernel.width]).elementCount,
                fanOut: Shape([kernel.height, kernel.width, depthMultiplier]).elementCount,
                location: location, quantization: quantization))
    }
}
