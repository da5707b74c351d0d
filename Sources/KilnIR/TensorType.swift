/// The static type of a value in the graph: element type, shape and, for
/// quantized tensors, how stored integers map to real numbers.
public struct TensorType: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The element type.
    public var dtype: DType
    /// The static shape.
    public var shape: Shape
    /// Quantization parameters for integer tensors that represent reals.
    public var quantization: QuantizationParameters?

    /// Creates a tensor type.
    public init(_ dtype: DType, _ shape: Shape, quantization: QuantizationParameters? = nil) {
        self.dtype = dtype
        self.shape = shape
        self.quantization = quantization
    }

    /// The number of elements.
    public var elementCount: Int { shape.elementCount }

    /// The number of bytes a dense buffer of this type occupies (saturating at `Int.max`, like ``Shape/elementCount``).
    public var byteCount: Int {
        let (bytes, overflow) = shape.elementCount.multipliedReportingOverflow(by: dtype.byteSize)
        return overflow ? .max : bytes
    }

    /// Written as `f32[1x8x8x1]`.
    public var description: String { "\(dtype)\(shape)" }
}
