import KilnIR

/// Folds the input over some axes with a sum, product, maximum or minimum.
///
/// ```swift
/// Reduce(.maximum, axes: [1, 2])  // global max pooling of NHWC data to [N, C]
/// ```
public struct Reduce: NamedLayer {
    /// The folding function.
    public var function: ReduceFunction
    /// The axes folded; negative axes count from the back.
    public var axes: [Int]
    /// Whether folded axes stay as size 1.
    public var keepDimensions: Bool
    /// The layer's name; `reduce_FUNCTION_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters; the input's by default for maxima and minima.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a reduction over `axes`.
    public init(
        _ function: ReduceFunction, axes: [Int], keepDimensions: Bool = false, file: String = #filePath, line: Int = #line,
        column: Int = #column
    ) {
        self.function = function
        self.axes = axes
        self.keepDimensions = keepDimensions
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the reduce node.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "reduce_\(function.rawValue)", at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.apply(.reduce(function, axes: axes, keepDimensions: keepDimensions), name: name, at: location, quantization: quantization)
    }
}

/// The int32 position of the largest (or smallest) element along an axis, which is removed unless kept as size 1.
///
/// ```swift
/// ArgExtremum(.maximum, axis: -1)  // the predicted class of [N, classes] scores
/// ```
public struct ArgExtremum: NamedLayer {
    /// Largest or smallest.
    public var extremum: Extremum
    /// The axis searched; negative axes count from the back.
    public var axis: Int
    /// Whether the axis stays as size 1.
    public var keepDimensions: Bool
    /// The layer's name; `arg_max_N` or `arg_min_N` by default.
    public var name: String?
    /// Unused: the result is int32 positions.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates an arg-reduction along `axis`.
    public init(
        _ extremum: Extremum, axis: Int = -1, keepDimensions: Bool = false, file: String = #filePath, line: Int = #line,
        column: Int = #column
    ) {
        self.extremum = extremum
        self.axis = axis
        self.keepDimensions = keepDimensions
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the arg-reduction node.
    public func trace(into tracer: Tracer) {
        let op = Op.argExtremum(extremum, axis: axis, keepDimensions: keepDimensions)
        let name = tracer.layerName(name, kind: op.kindName, at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.apply(op, name: name, at: location)
    }
}

/// Resizes the height and width of NHWC data by nearest-neighbour or bilinear sampling.
///
/// ```swift
/// Resize(height: 32, width: 32, method: .bilinear, coordinates: .halfPixel)  // Keras's Resizing
/// ```
public struct Resize: NamedLayer {
    /// The output size, coordinate mapping and rounding.
    public var attributes: ResizeAttributes
    /// The layer's name; `resize_METHOD_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters; the input's by default.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a resize to `height` × `width`; a bicubic one with `cubic`'s kernel (Keys' with
    /// `a = −0.75`, edge pixels repeated, by default).
    public init(
        height: Int, width: Int, method: ResizeMethod, coordinates: ResizeCoordinates = .halfPixel,
        rounding: NearestRounding = .floor, cubic: ResizeAttributes.CubicKernel? = nil, file: String = #filePath,
        line: Int = #line, column: Int = #column
    ) {
        attributes = ResizeAttributes(
            size: [height, width], method: method, coordinates: coordinates, rounding: rounding, cubic: cubic)
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the resize node.
    public func trace(into tracer: Tracer) {
        let op = Op.resize(attributes)
        let name = tracer.layerName(name, kind: op.kindName, at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.apply(op, name: name, at: location, quantization: quantization)
    }
}

/// The slices of the input along an axis at fixed indices (negative ones count from the end; one outside the axis gives zeros).
///
/// ```swift
/// Gather(indices: [0, 2, 4], axis: 1)  // every other time step of [N, T, F] features
/// ```
public struct Gather: NamedLayer {
    /// The positions picked along `axis`.
    public var indices: [Int]
    /// The axis picked from; negative axes count from the back.
    public var axis: Int
    /// The layer's name; `gather_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters; the input's by default.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a gather of `indices` along `axis`.
    public init(indices: [Int], axis: Int, file: String = #filePath, line: Int = #line, column: Int = #column) {
        self.indices = indices
        self.axis = axis
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the indices constant and the gather node.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "gather", at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        let positions = indices.map { Int32(clamping: $0) }
        let constant = tracer.addConstant(name: "\(name).indices", data: TensorData(int32: positions, shape: [positions.count]))
        tracer.apply(.gather(axis: axis), operands: [constant], name: name, at: location, quantization: quantization)
    }
}

/// `x < 0 ? alpha · x : x`, the leaky ReLU.
///
/// ```swift
/// LeakyReLU(alpha: 0.2)
/// ```
public struct LeakyReLU: NamedLayer {
    /// The slope below zero.
    public var alpha: Float
    /// The layer's name; `leaky_relu_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters, if the layer runs on int8 data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a leaky ReLU with slope `alpha` below zero.
    public init(alpha: Float = 0.3, file: String = #filePath, line: Int = #line, column: Int = #column) {
        self.alpha = alpha
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the slope constant and the node.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "leaky_relu", at: location)
        guard let input = tracer.requireInput(for: name, at: location) else { return }
        // On int8 data the slope is one step of scale |alpha|, which holds it exactly.
        let slope =
            input.dtype == .int8
            ? tracer.addConstant(
                name: "\(name).alpha", data: TensorData(int8: [alpha < 0 ? -1 : alpha > 0 ? 1 : 0], shape: [1]),
                quantization: .perTensor(scale: alpha == 0 ? 1 : abs(alpha), zeroPoint: 0))
            : tracer.addConstant(name: "\(name).alpha", data: TensorData([alpha], shape: [1]))
        tracer.apply(.binary(.prelu, activation: nil), operands: [slope], name: name, at: location, quantization: quantization)
    }
}

/// Converts float32 values to int32 (toward zero, saturating; NaN becomes 0), or int32 to float32.
///
/// ```swift
/// Cast(to: .int32)  // float token ids into indices for Gather
/// ```
public struct Cast: NamedLayer {
    /// The element type of the result: int32 or float32.
    public var dtype: DType
    /// The layer's name; `cast_N` by default.
    public var name: String?
    /// Unused: the result is not quantized.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a conversion to `dtype`.
    public init(to dtype: DType, file: String = #filePath, line: Int = #line, column: Int = #column) {
        self.dtype = dtype
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the cast node.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "cast", at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.apply(.cast(to: dtype), name: name, at: location)
    }
}
