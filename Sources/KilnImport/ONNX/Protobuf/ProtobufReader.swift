/// Bounds-checked reads of the protocol buffers wire format, the container of `.onnx` files.
///
/// A message is a sequence of fields, each a key (field number and wire type, as a varint)
/// and a value: a varint, 4 or 8 little-endian bytes, or a length-prefixed byte range that
/// holds a string, bytes, a nested message or a packed run of numbers. Every length is
/// checked against the enclosing range, so a truncated or hostile file yields a
/// ``ProtobufError``, never a crash. Nothing is shared between fields, so decoding needs
/// memory proportional to the file, and the schema-driven callers bound the nesting depth.
///
/// ```swift
/// var reader = ProtobufReader(bytes)
/// while let field = try reader.nextField() {
///     switch field.number {
///     case 1: name = try reader.string(field)
///     default: try reader.skip(field)
///     }
/// }
/// ```
struct ProtobufReader {
    /// How a field's value is laid out.
    enum WireType: UInt8, CustomStringConvertible {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5

        var description: String {
            switch self {
            case .varint: "varint"
            case .fixed64: "64-bit"
            case .lengthDelimited: "length-delimited"
            case .fixed32: "32-bit"
            }
        }
    }

    /// A field's key: which field, and how its value is written.
    struct Field {
        var number: Int
        var wireType: WireType
    }

    /// The whole file; a nested message reads a range of it without copying.
    private let bytes: [UInt8]
    /// The next byte to read.
    private(set) var position: Int
    /// The end of this message's range.
    private let end: Int

    /// A reader of the message that is all of `bytes`.
    init(_ bytes: [UInt8]) {
        self.init(bytes, range: 0..<bytes.count)
    }

    private init(_ bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        position = range.lowerBound
        end = range.upperBound
    }

    /// Whether every field of the message has been read.
    var isAtEnd: Bool { position >= end }

    /// The next field's key, or `nil` at the end of the message.
    mutating func nextField() throws(ProtobufError) -> Field? {
        guard !isAtEnd else { return nil }
        let start = position
        let key = try varint()
        let number = key >> 3
        guard number >= 1, number <= 536_870_911 else { throw .invalidFieldNumber(at: start) }
        guard let wireType = WireType(rawValue: UInt8(key & 7)) else {
            throw .unsupportedWireType(UInt8(key & 7), at: start)
        }
        return Field(number: Int(number), wireType: wireType)
    }

    /// Skips the value of a field the caller does not read.
    mutating func skip(_ field: Field) throws(ProtobufError) {
        switch field.wireType {
        case .varint: _ = try varint()
        case .fixed64: _ = try take(8)
        case .lengthDelimited: _ = try lengthDelimited()
        case .fixed32: _ = try take(4)
        }
    }

    // MARK: Scalars

    /// A `uint64` or the bits of any varint-encoded integer.
    mutating func uint64(_ field: Field) throws(ProtobufError) -> UInt64 {
        try expect(.varint, field)
        return try varint()
    }

    /// An `int64` field (negative values take ten bytes, two's complement).
    mutating func int64(_ field: Field) throws(ProtobufError) -> Int64 {
        Int64(bitPattern: try uint64(field))
    }

    /// An `int32` or enum field: the low 32 bits, as protobuf parsers read them.
    mutating func int32(_ field: Field) throws(ProtobufError) -> Int32 {
        Int32(truncatingIfNeeded: try uint64(field))
    }

    /// A `float` field.
    mutating func float(_ field: Field) throws(ProtobufError) -> Float {
        try expect(.fixed32, field)
        return Float(bitPattern: UInt32(truncatingIfNeeded: try littleEndian(4)))
    }

    /// A `bytes` field.
    mutating func bytes(_ field: Field) throws(ProtobufError) -> [UInt8] {
        try expect(.lengthDelimited, field)
        return Array(bytes[try lengthDelimited()])
    }

    /// A `string` field; invalid UTF-8 is repaired with replacement characters.
    mutating func string(_ field: Field) throws(ProtobufError) -> String {
        try expect(.lengthDelimited, field)
        return String(decoding: bytes[try lengthDelimited()], as: UTF8.self)
    }

    /// A reader of a nested message field.
    mutating func message(_ field: Field) throws(ProtobufError) -> ProtobufReader {
        try expect(.lengthDelimited, field)
        return ProtobufReader(bytes, range: try lengthDelimited())
    }

    // MARK: Repeated numbers, packed or not

    /// Appends a repeated varint field's values: one value, or a packed run of them.
    mutating func appendVarints<T>(_ field: Field, to values: inout [T], _ convert: (UInt64) -> T)
        throws(ProtobufError)
    {
        guard field.wireType == .lengthDelimited else {
            values.append(convert(try uint64(field)))
            return
        }
        var run = ProtobufReader(bytes, range: try lengthDelimited())
        while !run.isAtEnd { values.append(convert(try run.varint())) }
    }

    /// Appends a repeated `float` field's values.
    mutating func appendFloats(_ field: Field, to values: inout [Float]) throws(ProtobufError) {
        try appendFixed(field, size: 4, to: &values) { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) }
    }

    /// Appends a repeated `double` field's values.
    mutating func appendDoubles(_ field: Field, to values: inout [Double]) throws(ProtobufError) {
        try appendFixed(field, size: 8, to: &values) { Double(bitPattern: $0) }
    }

    private mutating func appendFixed<T>(_ field: Field, size: Int, to values: inout [T], _ convert: (UInt64) -> T)
        throws(ProtobufError)
    {
        let single: WireType = size == 4 ? .fixed32 : .fixed64
        guard field.wireType == .lengthDelimited else {
            try expect(single, field)
            values.append(convert(try littleEndian(size)))
            return
        }
        let range = try lengthDelimited()
        guard range.count % size == 0 else { throw .packedLength(range.count, elementSize: size, at: range.lowerBound) }
        values.reserveCapacity(values.count + range.count / size)
        var run = ProtobufReader(bytes, range: range)
        while !run.isAtEnd { values.append(convert(try run.littleEndian(size))) }
    }

    // MARK: Wire primitives

    private func expect(_ wireType: WireType, _ field: Field) throws(ProtobufError) {
        guard field.wireType == wireType else {
            throw .wrongWireType(field: field.number, found: field.wireType, expected: wireType, at: position)
        }
    }

    private mutating func varint() throws(ProtobufError) -> UInt64 {
        let start = position
        var value: UInt64 = 0
        for index in 0..<10 {
            guard position < end else { throw .truncated(at: start) }
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7F) << (7 * UInt64(index))
            if byte < 0x80 { return value }
        }
        throw .malformedVarint(at: start)
    }

    private mutating func take(_ count: Int) throws(ProtobufError) -> Range<Int> {
        guard count >= 0, count <= end - position else { throw .truncated(at: position) }
        defer { position += count }
        return position..<(position + count)
    }

    private mutating func lengthDelimited() throws(ProtobufError) -> Range<Int> {
        let start = position
        let length = try varint()
        guard length <= UInt64(end - position) else { throw .truncated(at: start) }
        return try take(Int(length))
    }

    private mutating func littleEndian(_ size: Int) throws(ProtobufError) -> UInt64 {
        var value: UInt64 = 0
        for (index, offset) in try take(size).enumerated() { value |= UInt64(bytes[offset]) << (8 * UInt64(index)) }
        return value
    }
}

/// Why bytes are not a well-formed protocol buffer.
enum ProtobufError: Error, Equatable, CustomStringConvertible {
    case truncated(at: Int)
    case malformedVarint(at: Int)
    case invalidFieldNumber(at: Int)
    case unsupportedWireType(UInt8, at: Int)
    case wrongWireType(field: Int, found: ProtobufReader.WireType, expected: ProtobufReader.WireType, at: Int)
    case packedLength(Int, elementSize: Int, at: Int)

    var description: String {
        switch self {
        case .truncated(let offset): "it ends inside the field at byte \(offset)"
        case .malformedVarint(let offset): "the integer at byte \(offset) is longer than 10 bytes"
        case .invalidFieldNumber(let offset): "the field key at byte \(offset) has field number 0 or above 2²⁹"
        case .unsupportedWireType(let type, let offset): "the field at byte \(offset) has wire type \(type) (groups are not read)"
        case .wrongWireType(let field, let found, let expected, let offset):
            "field \(field) before byte \(offset) is \(found), but the schema makes it \(expected)"
        case .packedLength(let length, let size, let offset):
            "the packed run at byte \(offset) has \(length) bytes, not a multiple of \(size)"
        }
    }
}
