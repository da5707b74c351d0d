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
