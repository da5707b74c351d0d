import KilnIR

/// Rearranges blocks of pixels into channels (`toDepth`) or channels into blocks of pixels.
///
/// ```swift
/// DepthToSpace(blockSize: 2)  // sub-pixel upsampling: [N, H, W, 4C] → [N, 2H, 2W, C]
/// ```
public struct DepthToSpace: NamedLayer {
    /// The side of each block of pixels.
    public var blockSize: Int
    /// The layer's name; `depth_to_space_N` by default.
    public var name: String?
    /// Unused: the values keep their quantization.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a depth-to-space rearrangement (TensorFlow's and ONNX's DCR order).
    public init(blockSize: Int, file: String = #filePath, line: Int = #line, column: Int = #column) {
        self.blockSize = blockSize
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the reshape, transpose and reshape.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "depth_to_space", at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.applyComposition(at: location) { graph, x in
            try graph.addSpaceDepthRearrangement(x, blockSize: blockSize, toDepth: false, name: name)
        }
    }
}

/// Moves each block of pixels into the channels: `[N, H, W, C]` → `[N, H/b, W/b, b·b·C]`.
///
/// ```swift
/// SpaceToDepth(blockSize: 2)
/// ```
public struct SpaceToDepth: NamedLayer {
    /// The side of each block of pixels.
    public var blockSize: Int
    /// The layer's name; `space_to_depth_N` by default.
    public var name: String?
    /// Unused: the values keep their quantization.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a space-to-depth rearrangement.
    public init(blockSize: Int, file: String = #filePath, line: Int = #line, column: Int = #column) {
        self.blockSize = blockSize
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the reshape, transpose and reshape.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "space_to_depth", at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.applyComposition(at: location) { graph, x in
            try graph.addSpaceDepthRearrangement(x, blockSize: blockSize, toDepth: true, name: name)
        }
    }
}

/// Repeats the input `multiples[axis]` times along each axis.
///
/// ```swift
/// Tile([1, 1, 2, 1])  // two copies side by side along W
/// ```
public struct Tile: NamedLayer {
    /// How many copies along each axis, batch first.
    public var multiples: [Int]
    /// The layer's name; `tile_N` by default.
    public var name: String?
    /// Unused: the values keep their quantization.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a tiling.
    public init(_ multiples: [Int], file: String = #filePath, line: Int = #line, column: Int = #column) {
        self.multiples = multiples
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds one concatenation per tiled axis.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "tile", at: location)
        guard tracer.requireInput(for: name, at: location) != nil else { return }
        tracer.applyComposition(at: location) { graph, x in try graph.addTile(x, multiples: multiples, name: name) }
    }
}

/// `log(softmax(x))` along the last axis, computed as `(x − max) − log Σ e^(x − max)` on float data.
///
/// ```swift
/// LogSoftmax()
/// ```
public struct LogSoftmax: NamedLayer {
    /// The layer's name; `log_softmax_N` by default.
    public var name: String?
    /// Unused: the layer runs on float data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a log-softmax.
    public init(file: String = #filePath, line: Int = #line, column: Int = #column) {
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the reductions and element-wise ops.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "log_softmax", at: location)
        guard let input = tracer.requireInput(for: name, at: location) else { return }
        guard input.dtype == .float32 else { return tracer.fail("LogSoftmax '\(name)' needs float data", at: location) }
        tracer.applyComposition(at: location) { graph, x in
            try graph.addLogSoftmax(x, axis: input.shape.rank - 1, name: name)
        }
    }
}

/// `x / max(√Σ x², 10⁻⁶)` over the last axis (TensorFlow Lite's L2_NORMALIZATION), on float data.
///
/// ```swift
/// L2Normalization()  // unit-length embeddings
/// ```
public struct L2Normalization: NamedLayer {
    /// The layer's name; `l2_normalization_N` by default.
    public var name: String?
    /// Unused: the layer runs on float data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates an L2 normalization.
    public init(file: String = #filePath, line: Int = #line, column: Int = #column) {
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the sum of squares, square root and division.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "l2_normalization", at: location)
        guard let input = tracer.requireInput(for: name, at: location) else { return }
        guard input.dtype == .float32 else { return tracer.fail("L2Normalization '\(name)' needs float data", at: location) }
        tracer.applyComposition(at: location) { graph, x in try graph.addL2Normalization(x, name: name) }
    }
}
