// Float values to and from a tensor's stored elements, for the array APIs. Quantized int8 follows
// TensorFlow Lite's QUANTIZE and DEQUANTIZE: q = clamp(round(x / scale) + zero point), rounding
// half away from zero; x = (q − zero point) · scale.

extension TensorSignature {
    /// Writes `values` into `buffer` (exactly ``byteCount`` bytes) as this tensor's elements:
    /// float32 as is, int8 quantized with ``scale`` and ``zeroPoint`` (1 and 0 when absent),
    /// int32 when every value is a whole number in range.
    ///
    /// - Throws: `RuntimeError` for an int32 value that is not a whole number or a float16 tensor.
    func encode(_ values: [Float], into buffer: UnsafeMutableRawBufferPointer, role: String) throws {
        switch elementType {
        case .float32:
            values.withUnsafeBytes { buffer.copyMemory(from: $0) }
        case .int8:
            let (scale, zeroPoint) = (scale ?? 1, Float(zeroPoint ?? 0))
            let elements = buffer.bindMemory(to: Int8.self)
            for (index, value) in values.enumerated() {
                // NaN has no int8 value: it becomes the zero point, the code for 0.
                let steps = value.isNaN ? 0 : (value / scale).rounded(.toNearestOrAwayFromZero)
                elements[index] = Int8(min(max(steps + zeroPoint, -128), 127))
            }
        case .int32:
            let elements = buffer.bindMemory(to: Int32.self)
            for (index, value) in values.enumerated() {
                guard let whole = Int32(exactly: value) else {
                    throw RuntimeError(
                        "\(role) '\(name)' takes int32 values, but element \(index) is \(value); pass whole numbers")
                }
                elements[index] = whole
            }
        case .float16:
            throw RuntimeError(
                "\(role) '\(name)' is float16, which the array API does not convert; use run(inputs:outputs:) with raw buffers")
        }
    }

    /// This tensor's elements in `buffer` as floats: int8 dequantized, int32 converted.
    func decode(_ buffer: UnsafeRawBufferPointer, role: String) throws -> [Float] {
        switch elementType {
        case .float32:
            return Array(buffer.bindMemory(to: Float.self))
        case .int8:
            let (scale, zeroPoint) = (scale ?? 1, zeroPoint ?? 0)
            return buffer.bindMemory(to: Int8.self).map { Float(Int32($0) - zeroPoint) * scale }
        case .int32:
            return buffer.bindMemory(to: Int32.self).map { Float($0) }
        case .float16:
            throw RuntimeError(
                "\(role) '\(name)' is float16, which the array API does not convert; use run(inputs:outputs:) with raw buffers")
        }
    }
}
