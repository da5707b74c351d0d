/// Affine quantization parameters: `real = scale * (quantized - zeroPoint)`.
///
/// Per-tensor parameters hold one scale and zero point; per-channel parameters
/// hold one per slice along `axis`.
public struct QuantizationParameters: Hashable, Sendable, Codable {
    /// One scale per tensor, or one per channel along `axis`.
    public var scales: [Float]
    /// Zero points, the same count as `scales`.
    public var zeroPoints: [Int32]
    /// The channel axis for per-channel parameters; `nil` for per-tensor.
    public var axis: Int?

    /// Creates quantization parameters.
    public init(scales: [Float], zeroPoints: [Int32], axis: Int? = nil) {
        precondition(scales.count == zeroPoints.count, "one zero point per scale")
        self.scales = scales
        self.zeroPoints = zeroPoints
        self.axis = axis
    }

    /// Per-tensor parameters.
    public static func perTensor(scale: Float, zeroPoint: Int32) -> Self {
        .init(scales: [scale], zeroPoints: [zeroPoint])
    }

    /// Symmetric per-channel parameters (all zero points 0).
    public static func symmetric(scales: [Float], axis: Int) -> Self {
        .init(scales: scales, zeroPoints: [Int32](repeating: 0, count: scales.count), axis: axis)
    }

    /// Whether there is one scale per channel.
    public var isPerChannel: Bool { axis != nil }
}

extension QuantizationParameters {
    /// The real values of integer `data` quantized with these parameters (per tensor or per channel).
    public func dequantize(_ data: TensorData) -> [Float] {
        let raw = data.floats()
        guard let axis, axis < data.shape.rank else {
            return raw.map { scales[0] * ($0 - Float(zeroPoints[0])) }
        }
        let inner = data.shape.dimensions[(axis + 1)...].reduce(1, *)
        let channels = data.shape[axis]
        return raw.enumerated().map { index, value in
            let channel = (index / max(inner, 1)) % max(channels, 1)
            return scales[channel] * (value - Float(zeroPoints[channel]))
        }
    }
}
