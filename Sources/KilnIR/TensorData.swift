/// The contents of a constant tensor: its type and its little-endian,
/// row-major bytes.
///
/// ```swift
/// let bias = TensorData([0.5, -1], shape: [2])
/// bias.floats()  // [0.5, -1.0]
/// ```
public struct TensorData: Hashable, Sendable {
    /// The element type of `bytes`.
    public var dtype: DType
    /// The tensor's shape.
    public var shape: Shape
    /// Raw element bytes, little-endian, row-major.
    public var bytes: [UInt8]

    /// Creates tensor data from raw bytes; `bytes` must hold exactly the shape's elements.
    public init(dtype: DType, shape: Shape, bytes: [UInt8]) {
        precondition(bytes.count == shape.elementCount * dtype.byteSize, "byte count does not match shape")
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Creates float32 data.
    public init(_ values: [Float], shape: Shape) {
        precondition(values.count == shape.elementCount, "value count does not match shape")
        self.init(dtype: .float32, shape: shape, bytes: Self.littleEndianBytes(of: values.map(\.bitPattern)))
    }

    /// Creates int8 data.
    public init(int8 values: [Int8], shape: Shape) {
        precondition(values.count == shape.elementCount, "value count does not match shape")
        self.init(dtype: .int8, shape: shape, bytes: values.map { UInt8(bitPattern: $0) })
    }

    /// Creates int32 data.
    public init(int32 values: [Int32], shape: Shape) {
        precondition(values.count == shape.elementCount, "value count does not match shape")
        self.init(dtype: .int32, shape: shape, bytes: Self.littleEndianBytes(of: values.map { UInt32(bitPattern: $0) }))
    }

    /// Creates float16 data, rounding each value to the nearest half.
    public init(float16 values: [Float], shape: Shape) {
        precondition(values.count == shape.elementCount, "value count does not match shape")
        self.init(
            dtype: .float16, shape: shape,
            bytes: Self.littleEndianBytes(of: values.map { Float16($0).bitPattern }))
    }

    /// The number of elements.
    public var elementCount: Int { shape.elementCount }

    /// The elements converted to `Float` (integers are converted by value, not dequantized).
    public func floats() -> [Float] {
        switch dtype {
        case .float32: return words(UInt32.self).map { Float(bitPattern: $0) }
        case .float16: return words(UInt16.self).map { Float(Float16(bitPattern: $0)) }
        case .int8: return bytes.map { Float(Int8(bitPattern: $0)) }
        case .int32: return words(UInt32.self).map { Float(Int32(bitPattern: $0)) }
        }
    }

    /// The elements of int8 data.
    public func int8s() -> [Int8] {
        precondition(dtype == .int8, "int8s() needs int8 data")
        return bytes.map { Int8(bitPattern: $0) }
    }

    /// The elements of int32 data.
    public func int32s() -> [Int32] {
        precondition(dtype == .int32, "int32s() needs int32 data")
        return words(UInt32.self).map { Int32(bitPattern: $0) }
    }

    /// The same bytes viewed with another shape of the same element count.
    public func reshaped(_ newShape: Shape) -> TensorData {
        TensorData(dtype: dtype, shape: newShape, bytes: bytes)
    }

    private func words<W: FixedWidthInteger>(_: W.Type) -> [W] {
        let size = MemoryLayout<W>.size
        return (0..<(bytes.count / size)).map { index in
            var word: W = 0
            for byte in 0..<size {
                word |= W(bytes[index * size + byte]) << (8 * byte)
            }
            return word
        }
    }

    private static func littleEndianBytes<W: FixedWidthInteger>(of words: [W]) -> [UInt8] {
        let size = MemoryLayout<W>.size
        var result = [UInt8]()
        result.reserveCapacity(words.count * size)
        for word in words {
            for byte in 0..<size {
                result.append(UInt8(truncatingIfNeeded: word >> (8 * byte)))
            }
        }
        return result
    }
}
