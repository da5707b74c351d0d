/// One tensor of a subgraph: its shape, element type, data buffer and quantization.
public struct TFLiteTensor: Hashable, Sendable {
    /// The tensor's name, for debugging; may be empty.
    public var name: String
    /// The dimensions, outermost first (NHWC for images); `[]` for scalars.
    public var shape: [Int]
    /// The shape with unknown dimensions as -1, when the file records one.
    public var shapeSignature: [Int]?
    /// The element type.
    public var type: TFLiteTensorType
    /// Index into the model's buffers; buffer 0 is the empty buffer of non-constant tensors.
    public var buffer: Int
    /// How to map stored integers to real values, when the tensor is quantized.
    public var quantization: TFLiteQuantization?
    /// Whether the tensor is mutable state (such as an RNN's), kept between runs.
    public var isVariable: Bool

    /// Creates a tensor description.
    public init(
        name: String, shape: [Int], shapeSignature: [Int]? = nil, type: TFLiteTensorType,
        buffer: Int, quantization: TFLiteQuantization? = nil, isVariable: Bool = false
    ) {
        self.name = name
        self.shape = shape
        self.shapeSignature = shapeSignature
        self.type = type
        self.buffer = buffer
        self.quantization = quantization
        self.isVariable = isVariable
    }
}

/// Affine quantization of a tensor: `real = scale × (stored − zeroPoint)`.
///
/// With one scale the whole tensor shares it; with several, element `i`
/// along `quantizedDimension` uses `scale[i]` and `zeroPoint[i]`.
public struct TFLiteQuantization: Hashable, Sendable {
    /// One scale for the tensor, or one per slice along `quantizedDimension`.
    public var scale: [Float]
    /// The stored value that represents real zero, matching `scale` in count.
    public var zeroPoint: [Int64]
    /// The dimension that per-channel parameters run along.
    public var quantizedDimension: Int
    /// The real-valued minimum the converter recorded, when it did.
    public var min: [Float]?
    /// The real-valued maximum the converter recorded, when it did.
    public var max: [Float]?

    /// Creates quantization parameters.
    public init(
        scale: [Float], zeroPoint: [Int64], quantizedDimension: Int = 0, min: [Float]? = nil,
        max: [Float]? = nil
    ) {
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.quantizedDimension = quantizedDimension
        self.min = min
        self.max = max
    }

    /// Whether the tensor has one scale per slice rather than one in all.
    public var isPerChannel: Bool { scale.count > 1 }
}

extension TFLiteTensor {
    /// Decodes a schema `Tensor` table.
    init(_ table: FlatBufferTable) throws {
        let shape = try table.integers(0, Int32.self, "shape") ?? []
        let type = try table.integer(1, default: Int8(0), "type")
        let buffer = try table.integer(2, default: UInt32(0), "buffer")
        let name = try table.string(3, "name") ?? ""
        let quantization = try table.table(4, "quantization").flatMap(TFLiteQuantization.init)
        let isVariable = try table.bool(5, default: false, "is_variable")
        // Field 6 is sparsity, which this reader does not decode.
        let signature = try table.integers(7, Int32.self, "shape_signature")
        self.init(
            name: name, shape: shape.map(Int.init), shapeSignature: signature?.map(Int.init),
            type: TFLiteTensorType(code: Int(type)), buffer: Int(buffer),
            quantization: quantization, isVariable: isVariable)
    }
}

extension TFLiteQuantization {
    /// Decodes a schema `QuantizationParameters` table; `nil` when it holds no parameters.
    ///
    /// Converters write this table for every tensor, float ones included, with
    /// empty or absent vectors; those tensors are not quantized.
    init?(_ table: FlatBufferTable) throws {
        let min = try table.floats(0, "min")
        let max = try table.floats(1, "max")
        let scale = try table.floats(2, "scale") ?? []
        let zeroPoint = try table.integers(3, Int64.self, "zero_point") ?? []
        // Fields 4 and 5 are the custom `details` union, which this reader skips.
        let dimension = try table.integer(6, default: Int32(0), "quantized_dimension")
        let hasRange = !(min ?? []).isEmpty || !(max ?? []).isEmpty
        guard !scale.isEmpty || !zeroPoint.isEmpty || hasRange else { return nil }
        self.init(
            scale: scale, zeroPoint: zeroPoint, quantizedDimension: Int(dimension), min: min,
            max: max)
    }
}
