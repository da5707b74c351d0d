/// Limits and checks that make a tensor type safe to compile.
///
/// Everything a model file states (shapes, quantization parameters) passes
/// through these checks before any pass or kernel computes with it, so later
/// arithmetic on shapes cannot overflow and int8 arithmetic stays in range.
extension TensorType {
    /// The largest tensor Kiln compiles, in bytes: 2³¹ − 1, so that every
    /// element index and byte offset fits in 32 bits on every target, 32-bit
    /// microcontrollers included.
    public static let maximumByteCount = Int(Int32.max)

    /// Why a tensor of this type cannot be compiled, or `nil` if it can.
    public var problem: String? {
        if let problem = shape.problem { return problem }
        guard byteCount <= Self.maximumByteCount else {
            return "\(self) needs \(byteCount) bytes; Kiln compiles tensors of at most \(Self.maximumByteCount) bytes (2 GiB)"
        }
        if let quantization, let problem = quantization.problem(for: self) { return problem }
        return nil
    }
}

extension Shape {
    /// The largest dimension and element count: 2³¹ − 1 (see ``TensorType/maximumByteCount``).
    public static let maximumDimension = Int(Int32.max)

    /// Why this shape cannot be compiled, or `nil` if it can: negative or
    /// oversized dimensions, or more elements than ``maximumDimension``.
    public var problem: String? {
        if let negative = dimensions.first(where: { $0 < 0 }) {
            return "shape \(self) has a negative dimension (\(negative))"
        }
        if let huge = dimensions.first(where: { $0 > Self.maximumDimension }) {
            return "shape \(self) has a dimension of \(huge); dimensions may be at most \(Self.maximumDimension)"
        }
        guard let count = checkedElementCount, count <= Self.maximumDimension else {
            return "shape \(self) has more than \(Self.maximumDimension) elements"
        }
        return nil
    }
}

extension QuantizationParameters {
    /// Why these parameters do not fit a tensor of `type`, or `nil` if they do.
    ///
    /// Scales must be finite and positive; zero points must be values of the
    /// tensor's integer type (int8: −128…127); per-channel parameters need a
    /// valid axis and one scale per slice along it.
    public func problem(for type: TensorType) -> String? {
        guard !scales.isEmpty, scales.count == zeroPoints.count else {
            return "quantization needs one zero point per scale, got \(scales.count) scales and \(zeroPoints.count) zero points"
        }
        if let scale = scales.first(where: { !($0.isFinite && $0 > 0) }) {
            return "quantization scale \(scale) must be finite and positive"
        }
        if type.dtype == .int8, let zeroPoint = zeroPoints.first(where: { !(-128...127).contains($0) }) {
            return "int8 zero point \(zeroPoint) is outside -128…127"
        }
        if let axis {
            guard (0..<type.shape.rank).contains(axis) else {
                return "per-channel quantization axis \(axis) is out of range for \(type)"
            }
            guard scales.count == type.shape[axis] else {
                return "per-channel quantization along axis \(axis) of \(type) needs \(type.shape[axis]) scales, got \(scales.count)"
            }
        } else if scales.count != 1 {
            return "per-tensor quantization needs one scale, got \(scales.count)"
        }
        return nil
    }
}
