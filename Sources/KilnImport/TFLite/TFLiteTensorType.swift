/// A tensor's element type, as the schema's `TensorType` enum numbers it.
public enum TFLiteTensorType: Hashable, Sendable {
    /// `FLOAT32` (0): IEEE 754 single precision.
    case float32
    /// `FLOAT16` (1): IEEE 754 half precision.
    case float16
    /// `INT32` (2).
    case int32
    /// `UINT8` (3).
    case uint8
    /// `INT64` (4).
    case int64
    /// `STRING` (5): variable-length strings with an offset table.
    case string
    /// `BOOL` (6): one byte per element.
    case bool
    /// `INT16` (7).
    case int16
    /// `COMPLEX64` (8): two float32 values per element.
    case complex64
    /// `INT8` (9).
    case int8
    /// `FLOAT64` (10): IEEE 754 double precision.
    case float64
    /// `COMPLEX128` (11): two float64 values per element.
    case complex128
    /// `UINT64` (12).
    case uint64
    /// `RESOURCE` (13): a handle to runtime state, such as a hash table.
    case resource
    /// `VARIANT` (14): a nested tensor type, experimental.
    case variant
    /// `UINT32` (15).
    case uint32
    /// `UINT16` (16).
    case uint16
    /// `INT4` (17): two elements packed per byte.
    case int4
    /// A code this reader does not know, kept so newer files still read.
    case other(Int)

    /// Every named type, in code order; `code` of each is its index.
    private static let known: [TFLiteTensorType] = [
        .float32, .float16, .int32, .uint8, .int64, .string, .bool, .int16, .complex64, .int8,
        .float64, .complex128, .uint64, .resource, .variant, .uint32, .uint16, .int4,
    ]

    /// The type the schema numbers `code`.
    public init(code: Int) {
        self = Self.known.indices.contains(code) ? Self.known[code] : .other(code)
    }

    /// The schema's number for this type.
    public var code: Int {
        switch self {
        case .float32: 0
        case .float16: 1
        case .int32: 2
        case .uint8: 3
        case .int64: 4
        case .string: 5
        case .bool: 6
        case .int16: 7
        case .complex64: 8
        case .int8: 9
        case .float64: 10
        case .complex128: 11
        case .uint64: 12
        case .resource: 13
        case .variant: 14
        case .uint32: 15
        case .uint16: 16
        case .int4: 17
        case .other(let code): code
        }
    }

    /// The schema's name for this type, such as `FLOAT32`.
    public var name: String {
        switch self {
        case .float32: "FLOAT32"
        case .float16: "FLOAT16"
        case .int32: "INT32"
        case .uint8: "UINT8"
        case .int64: "INT64"
        case .string: "STRING"
        case .bool: "BOOL"
        case .int16: "INT16"
        case .complex64: "COMPLEX64"
        case .int8: "INT8"
        case .float64: "FLOAT64"
        case .complex128: "COMPLEX128"
        case .uint64: "UINT64"
        case .resource: "RESOURCE"
        case .variant: "VARIANT"
        case .uint32: "UINT32"
        case .uint16: "UINT16"
        case .int4: "INT4"
        case .other(let code): "TensorType(\(code))"
        }
    }

    /// Bytes per element in a buffer, or `nil` where elements are not fixed whole bytes.
    ///
    /// Strings are variable-length, INT4 packs two elements per byte, and
    /// resources and variants hold no plain data.
    public var elementSize: Int? {
        switch self {
        case .bool, .int8, .uint8: 1
        case .float16, .int16, .uint16: 2
        case .float32, .int32, .uint32: 4
        case .float64, .int64, .uint64, .complex64: 8
        case .complex128: 16
        case .string, .resource, .variant, .int4, .other: nil
        }
    }
}
