import KilnIR

/// A transposed 2-D convolution (Keras's `Conv2DTranspose`, a decoder's upsampling layer), on float data.
///
/// Its weight is `[filters, kernelHeight, kernelWidth, inputChannels]`, as TensorFlow Lite's
/// TRANSPOSE_CONV stores it (Keras's kernel `[kh, kw, filters, in]` transposed), and its bias
/// `[filters]`. The output is `input · stride` with `.same` padding, `(input − 1) · stride + kernel` with `.valid`.
/// It runs as a convolution with the filter turned half a turn (folded at build time) over the input
/// with `stride − 1` zeros between pixels.
///
/// ```swift
/// Conv2DTranspose(16, kernel: 3, strides: 2, padding: .same, activation: .relu)
/// ```
public struct Conv2DTranspose: NamedLayer {
    /// Output channels.
    public var filters: Int
    /// Kernel height and width.
    public var kernel: (height: Int, width: Int)
    /// Steps between input pixels in the output (height, width).
    public var strides: (height: Int, width: Int)
    /// Border handling.
    public var padding: Padding
    /// Activation applied to the result.
    public var activation: Activation?
    /// Whether the layer adds a bias.
    public var useBias: Bool
    /// The layer's name; `conv2d_transpose_N` by default.
    public var name: String?
    /// Unused: the layer runs on float data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a transposed convolution with a square kernel and equal strides.
    public init(
        _ filters: Int, kernel: Int, strides: Int = 1, padding: Padding = .valid, activation: Activation? = nil,
        useBias: Bool = true, file: String = #filePath, line: Int = #line, column: Int = #column
    ) {
        self.filters = filters
        self.kernel = (kernel, kernel)
        self.strides = (strides, strides)
        self.padding = padding
        self.activation = activation
        self.useBias = useBias
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the zero stuffing and the convolution, whose filter is turned by two folded gathers.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "conv2d_transpose", at: location)
        guard let input = tracer.requireInput(for: name, at: location) else { return }
        guard input.shape.rank == 4, filters > 0, kernel.height > 0, kernel.width > 0, strides.height > 0, strides.width > 0
        else {
            return tracer.fail(
                "Conv2DTranspose '\(name)' needs an NHWC input and positive filters, kernel and strides; got input \(input.shape)",
                at: location)
        }
        let windows = [kernel.height, kernel.width]
        let steps = [strides.height, strides.width]
        var borders: [[Int]] = []
        for axis in 0..<2 {
            let size = input.shape[axis + 1]
            let output = padding == .same ? size * steps[axis] : (size - 1) * steps[axis] + windows[axis]
            let padBefore = max((size - 1) * steps[axis] + windows[axis] - output, 0) / 2
            do {
                borders.append(
                    try Graph.transposedConvolutionBorders(
                        input: size, window: windows[axis], stride: steps[axis], output: output, padBefore: padBefore))
            } catch {
                return tracer.fail("Conv2DTranspose '\(name)': \(error)", at: location)
            }
        }
        tracer.applyComposition(at: location) { graph, x in try graph.addZeroStuffing(x, strides: steps, name: name) }
        let channels = input.shape[3]
        let attributes = Conv2DAttributes(explicitPadding: borders)
        tracer.addWeightedLayer(
            .init(
                op: { activation in
                    var fused = attributes
                    fused.activation = activation
                    return .conv2D(fused)
                }, name: name, weightShape: [filters, kernel.height, kernel.width, channels], channelAxis: 0,
                channels: filters, useBias: useBias, activation: activation,
                fanIn: Shape([kernel.height, kernel.width, channels]).elementCount,
                fanOut: Shape([kernel.height, kernel.width, filters]).elementCount, location: location,
                quantization: quantization,
                prepareWeight: { tracer, weight in
                    // Reversed rows, then reversed columns: constants, folded before codegen.
                    var turned: ValueID? = weight
                    for (axis, size) in [(1, kernel.height), (2, kernel.width)] {
                        guard let current = turned else { return nil }
                        let indices = tracer.addConstant(
                            name: "\(name).reverse\(axis)", data: TensorData(int32: (0..<size).reversed().map(Int32.init), shape: [size]))
                        turned = tracer.node(
                            .gather(axis: axis), inputs: [current, indices], name: "\(name).turn\(axis)", at: location,
                            quantization: nil)
                    }
                    return turned
                }))
    }
}
