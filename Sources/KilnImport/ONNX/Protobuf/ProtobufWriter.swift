/// Writes the protocol buffers wire format that ``ProtobufReader`` reads: for ONNX models
/// built in code (tests, fuzzing seeds).
///
/// Fields are written in the order the caller gives; as proto3 does, callers skip fields
/// holding their default value.
struct ProtobufWriter {
    /// The encoded message so far.
    private(set) var bytes: [UInt8] = []

    /// A varint-encoded field (`int32`, `int64`, `uint64`, enums; negative values take ten bytes).
    mutating func varint(_ number: Int, _ value: UInt64) {
        key(number, .varint)
        appendVarint(value)
    }

    /// A signed varint field.
    mutating func int64(_ number: Int, _ value: Int64) {
        varint(number, UInt64(bitPattern: value))
    }

    /// A `float` field.
    mutating func float(_ number: Int, _ value: Float) {
        key(number, .fixed32)
        appendLittleEndian(UInt64(value.bitPattern), size: 4)
    }

    /// A `bytes` field.
    mutating func bytes(_ number: Int, _ value: [UInt8]) {
        key(number, .lengthDelimited)
        appendVarint(UInt64(value.count))
        bytes += value
    }

    /// A `string` field.
    mutating func string(_ number: Int, _ value: String) {
        bytes(number, Array(value.utf8))
    }

    /// A nested message field.
    mutating func message(_ number: Int, _ message: ProtobufWriter) {
        bytes(number, message.bytes)
    }

    /// A packed run of varint-encoded values.
    mutating func packedVarints(_ number: Int, _ values: [UInt64]) {
        var run = ProtobufWriter()
        for value in values { run.appendVarint(value) }
        bytes(number, run.bytes)
    }

    /// A packed run of `float` values.
    mutating func packedFloats(_ number: Int, _ values: [Float]) {
        var run = ProtobufWriter()
        for value in values { run.appendLittleEndian(UInt64(value.bitPattern), size: 4) }
        bytes(number, run.bytes)
    }

    /// A packed run of `double` values.
    mutating func packedDoubles(_ number: Int, _ values: [Double]) {
        var run = ProtobufWriter()
        for value in values { run.appendLittleEndian(value.bitPattern, size: 8) }
        bytes(number, run.bytes)
    }

    private mutating func key(_ number: Int, _ wireType: ProtobufReader.WireType) {
        appendVarint(UInt64(number) << 3 | UInt64(wireType.rawValue))
    }

    private mutating func appendVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private mutating func appendLittleEndian(_ value: UInt64, size: Int) {
        for index in 0..<size { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
    }
}
