/// A protobuf message read as its wire format: numbered fields and raw values, no schema.
///
/// The ONNX fuzz target edits models at this level, so mutations change field
/// values (a dimension, an attribute, a tensor name an edge refers to) rather
/// than bytes, without the fuzzer depending on the generated ONNX types.
public struct ProtobufWireMessage: Hashable, Sendable {
    /// One field's value, by wire type.
    public indirect enum Value: Hashable, Sendable {
        /// Wire type 0: integers, booleans, enums.
        case varint(UInt64)
        /// Wire type 1: 64-bit fixed-width values.
        case fixed64(UInt64)
        /// Wire type 2, when the bytes parse as a message of their own.
        case message(ProtobufWireMessage)
        /// Wire type 2 otherwise: strings, bytes, packed arrays.
        case bytes([UInt8])
        /// Wire type 5: floats and 32-bit fixed-width values.
        case fixed32(UInt32)
    }

    /// The fields in file order; a repeated field appears once per element.
    public var fields: [(number: Int, value: Value)]

    /// A message of `fields`.
    public init(_ fields: [(number: Int, value: Value)] = []) { self.fields = fields }

    public static func == (a: Self, b: Self) -> Bool {
        a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0.number == $1.number && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for field in fields {
            hasher.combine(field.number)
            hasher.combine(field.value)
        }
    }

    /// Parses `bytes`; `nil` when they are not a well-formed message (groups count as malformed).
    public init?(parsing bytes: [UInt8], depth: Int = 0) {
        var fields: [(Int, Value)] = []
        var position = 0
        func varint() -> UInt64? {
            var result: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                guard position < bytes.count else { return nil }
                let byte = bytes[position]
                position += 1
                result |= UInt64(byte & 0x7F) << UInt64(shift)
                if byte & 0x80 == 0 { return result }
            }
            return nil
        }
        func fixed(_ size: Int) -> UInt64? {
            guard bytes.count - position >= size else { return nil }
            defer { position += size }
            return (0..<size).reduce(0) { $0 | UInt64(bytes[position + $1]) << UInt64(8 * $1) }
        }
        while position < bytes.count {
            guard let key = varint(), key >> 3 > 0, key >> 3 < 1 << 29 else { return nil }
            let number = Int(key >> 3)
            switch key & 7 {
            case 0:
                guard let value = varint() else { return nil }
                fields.append((number, .varint(value)))
            case 1:
                guard let value = fixed(8) else { return nil }
                fields.append((number, .fixed64(value)))
            case 2:
                guard let length = varint(), length <= UInt64(bytes.count - position) else { return nil }
                let payload = Array(bytes[position..<(position + Int(length))])
                position += Int(length)
                // Nested messages are parsed to a bounded depth; anything that does not parse stays bytes.
                if depth < 8, !payload.isEmpty, let message = ProtobufWireMessage(parsing: payload, depth: depth + 1) {
                    fields.append((number, .message(message)))
                } else {
                    fields.append((number, .bytes(payload)))
                }
            case 5:
                guard let value = fixed(4) else { return nil }
                fields.append((number, .fixed32(UInt32(value))))
            default:
                return nil
            }
        }
        self.fields = fields
    }

    /// The message's wire-format bytes.
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        func varint(_ value: UInt64) {
            var value = value
            while value >= 0x80 {
                out.append(UInt8(value & 0x7F) | 0x80)
                value >>= 7
            }
            out.append(UInt8(value))
        }
        for (number, value) in fields {
            switch value {
            case .varint(let v):
                varint(UInt64(number) << 3)
                varint(v)
            case .fixed64(let v):
                varint(UInt64(number) << 3 | 1)
                for byte in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * byte))) }
            case .message(let message):
                let payload = message.encoded
                varint(UInt64(number) << 3 | 2)
                varint(UInt64(payload.count))
                out += payload
            case .bytes(let payload):
                varint(UInt64(number) << 3 | 2)
                varint(UInt64(payload.count))
                out += payload
            case .fixed32(let v):
                varint(UInt64(number) << 3 | 5)
                for byte in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> UInt32(8 * byte))) }
            }
        }
        return out
    }
}

extension ProtobufWireMessage {
    /// A string or bytes field.
    static func string(_ number: Int, _ text: String) -> (number: Int, value: Value) { (number, .bytes(Array(text.utf8))) }
    /// An integer field (negative values as two's complement, as int64 fields are written).
    static func int(_ number: Int, _ value: Int) -> (number: Int, value: Value) { (number, .varint(UInt64(bitPattern: Int64(value)))) }
    /// A float field.
    static func float(_ number: Int, _ value: Float) -> (number: Int, value: Value) { (number, .fixed32(value.bitPattern)) }
    /// A nested message field.
    static func message(_ number: Int, _ fields: [(number: Int, value: Value)]) -> (number: Int, value: Value) {
        (number, .message(ProtobufWireMessage(fields)))
    }
}
