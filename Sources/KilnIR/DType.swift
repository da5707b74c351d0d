/// The element type of a tensor.
public enum DType: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case float32
    case float16
    case int8
    case int32

    /// Bytes one element occupies.
    public var byteSize: Int {
        switch self {
        case .float32, .int32: 4
        case .float16: 2
        case .int8: 1
        }
    }

    /// Whether the type holds floating-point values.
    public var isFloatingPoint: Bool { self == .float32 || self == .float16 }

    /// The short name used in dumps and metadata, e.g. `f32`.
    public var description: String {
        switch self {
        case .float32: "f32"
        case .float16: "f16"
        case .int8: "i8"
        case .int32: "i32"
        }
    }
}
