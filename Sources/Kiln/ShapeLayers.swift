import KilnIR

/// Pads each axis with zeros (the zero point on int8 data).
///
/// ```swift
/// Pad([[0, 0], [1, 1], [1, 1], [0, 0]])  // one pixel around an NHWC image
/// ```
public struct Pad: NamedLayer {
    /// `[before, after]` for every axis, batch first.
    public var paddings: [[Int]]
    /// The layer's name; `pad_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters; the input's by default.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a padding layer.
    public init(_ paddings: [[Int]], file: String = #filePath, line: Int = #line, column: Int = #column) {
        self.paddings = paddings
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the pad node.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "pad", at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.apply(.pad(paddings: paddings), name: name, at: location, quantization: quantization)
    }
}

/// The block of the input starting at `begin` with extent `size` along each axis.
///
/// ```swift
/// Slice(begin: [0, 32], size: [1, 32])  // the second 32 features of a [1, 128] row
/// ```
public struct Slice: NamedLayer {
    /// Where the block starts on each axis, batch first.
    public var begin: [Int]
    /// The block's extent on each axis.
    public var size: [Int]
    /// The layer's name; `slice_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters; the input's by default.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a slicing layer.
    public init(begin: [Int], size: [Int], file: String = #filePath, line: Int = #line, column: Int = #column) {
        self.begin = begin
        self.size = size
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the slice node.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "slice", at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.apply(.slice(begin: begin, size: size), name: name, at: location, quantization: quantization)
    }
}

/// Reorders the axes: result axis `i` is input axis `permutation[i]`.
///
/// ```swift
/// Transpose([0, 2, 1, 3])  // [batch, tokens, heads, depth] to [batch, heads, tokens, depth]
/// ```
public struct Transpose: NamedLayer {
    /// The input axis each result axis takes.
    public var permutation: [Int]
    /// The layer's name; `transpose_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters; the input's by default.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a transposition.
    public init(_ permutation: [Int], file: String = #filePath, line: Int = #line, column: Int = #column) {
        self.permutation = permutation
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the transpose node.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "transpose", at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.apply(.transpose(permutation: permutation), name: name, at: location, quantization: quantization)
    }
}

/// The mean over some axes.
///
/// ```swift
/// Mean(axes: [1, 2])  // global average pooling of NHWC data to [N, C]
/// ```
public struct Mean: NamedLayer {
    /// The axes averaged over; negative axes count from the back.
    public var axes: [Int]
    /// Whether averaged axes stay as size 1.
    public var keepDimensions: Bool
    /// The layer's name; `mean_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters, if the layer runs on int8 data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a mean over `axes`.
    public init(
        axes: [Int], keepDimensions: Bool = false, file: String = #filePath, line: Int = #line, column: Int = #column
    ) {
        self.axes = axes
        self.keepDimensions = keepDimensions
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the mean node.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "mean", at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.apply(.mean(axes: axes, keepDimensions: keepDimensions), name: name, at: location, quantization: quantization)
    }
}

/// Converts float32 data to int8 with the given parameters, or requantizes int8 data.
///
/// ```swift
/// Quantize(scale: 0.05, zeroPoint: -3)
/// ```
public struct Quantize: NamedLayer {
    /// The layer's name; `quantize_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a quantize layer producing `scale · (q - zeroPoint)`.
    public init(scale: Float, zeroPoint: Int32, file: String = #filePath, line: Int = #line, column: Int = #column) {
        quantization = .perTensor(scale: scale, zeroPoint: zeroPoint)
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the quantize node.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "quantize", at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.apply(.quantize(to: .int8), name: name, at: location, quantization: quantization)
    }
}

/// Converts int8 data to float32.
public struct Dequantize: NamedLayer {
    /// The layer's name; `dequantize_N` by default.
    public var name: String?
    /// Unused: the output is float32.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a dequantize layer.
    public init(file: String = #filePath, line: Int = #line, column: Int = #column) {
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the dequantize node.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "dequantize", at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.apply(.dequantize, name: name, at: location)
    }
}

/// Rounds float data to the int8 grid its own range gives (per batch entry or
/// per row) and passes on the dequantized values: how dynamic-range ("hybrid")
/// layers of imported models see their input.
public struct DynamicRangeQuantize: NamedLayer {
    /// Which values share one grid.
    public var scope: DynamicQuantizationScope
    /// The layer's name; `dynamic_range_quantize_N` by default.
    public var name: String?
    /// Unused: the output is float32.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a dynamic-range rounding layer.
    public init(_ scope: DynamicQuantizationScope, file: String = #filePath, line: Int = #line, column: Int = #column) {
        self.scope = scope
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the rounding node.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "dynamic_range_quantize", at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.apply(.dynamicRangeQuantize(scope), name: name, at: location)
    }
}
