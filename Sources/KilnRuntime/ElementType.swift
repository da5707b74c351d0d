/// The scalar type of a tensor's elements, as stored in input and output buffers.
public enum ElementType: String, Codable, Hashable, Sendable, CaseIterable {
    /// IEEE 754 binary32.
    case float32
    /// IEEE 754 binary16.
    case float16
    /// Signed 8-bit integer, usually quantized (see `TensorSignature.scale`).
    case int8
    /// Signed 32-bit integer.
    case int32

    /// The number of bytes one element occupies.
    public var byteSize: Int {
        switch self {
        case .float32, .int32: 4
        case .float16: 2
        case .int8: 1
        }
    }
}
