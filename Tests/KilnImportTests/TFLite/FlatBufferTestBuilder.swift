@testable import KilnImport

/// A FlatBuffers value tree, for building small test files by hand.
///
/// Serialized front to back (each table's vtable just before it, children
/// after their parent) so every unsigned offset points forward, as the
/// format requires.
indirect enum FB {
    case int8(Int8)
    case uint8(UInt8)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case float(Float)
    case bool(Bool)
    /// A table: field number → value.
    case table([Int: FB])
    case vector([FB])
    case string(String)

    /// The bytes the value takes inline in its parent: its own size, or a 4-byte offset.
    var inlineSize: Int {
        switch self {
        case .int8, .uint8, .bool: 1
        case .int32, .uint32, .float: 4
        case .int64, .uint64: 8
        case .table, .vector, .string: 4
        }
    }

    var isReference: Bool {
        switch self {
        case .table, .vector, .string: true
        default: false
        }
    }

    /// A whole file: root offset, file identifier, then `root`.
    static func file(root: FB, identifier: String = "TFL3") -> [UInt8] {
        var writer = FBWriter(bytes: [0, 0, 0, 0] + Array(identifier.utf8))
        let position = writer.write(root)
        writer.patch(at: 0, UInt32(position))
        return writer.bytes
    }
}

/// Appends FlatBuffers values to a byte array.
struct FBWriter {
    var bytes: [UInt8]

    mutating func patch(at position: Int, _ value: UInt32) {
        for index in 0..<4 {
            bytes[position + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
        }
    }

    mutating func writeScalar(_ value: FB) {
        switch value {
        case .int8(let v): bytes.appendLittleEndian(v)
        case .uint8(let v): bytes.appendLittleEndian(v)
        case .bool(let v): bytes.appendLittleEndian(UInt8(v ? 1 : 0))
        case .int32(let v): bytes.appendLittleEndian(v)
        case .uint32(let v): bytes.appendLittleEndian(v)
        case .float(let v): bytes.appendLittleEndian(v.bitPattern)
        case .int64(let v): bytes.appendLittleEndian(v)
        case .uint64(let v): bytes.appendLittleEndian(v)
        case .table, .vector, .string: bytes.appendLittleEndian(UInt32(0))
        }
    }

    /// Writes `value` and everything it refers to; returns where it starts.
    mutating func write(_ value: FB) -> Int {
        switch value {
        case .table(let fields):
            let sorted = fields.sorted { $0.key < $1.key }
            let fieldCount = (sorted.last?.key ?? -1) + 1
            var offsets = [Int](repeating: 0, count: fieldCount)
            var cursor = 4
            for (index, field) in sorted {
                offsets[index] = cursor
                cursor += field.inlineSize
            }
            let vtable = bytes.count
            bytes.appendLittleEndian(UInt16(4 + 2 * fieldCount))
            bytes.appendLittleEndian(UInt16(cursor))
            for offset in offsets { bytes.appendLittleEndian(UInt16(offset)) }
            let table = bytes.count
            bytes.appendLittleEndian(Int32(table - vtable))
            var pending: [(slot: Int, value: FB)] = []
            for (_, field) in sorted {
                if field.isReference { pending.append((bytes.count, field)) }
                writeScalar(field)
            }
            for (slot, child) in pending {
                let target = write(child)
                patch(at: slot, UInt32(target - slot))
            }
            return table
        case .vector(let elements):
            let start = bytes.count
            bytes.appendLittleEndian(UInt32(elements.count))
            var pending: [(slot: Int, value: FB)] = []
            for element in elements {
                if element.isReference { pending.append((bytes.count, element)) }
                writeScalar(element)
            }
            for (slot, child) in pending {
                let target = write(child)
                patch(at: slot, UInt32(target - slot))
            }
            return start
        case .string(let string):
            let start = bytes.count
            let utf8 = Array(string.utf8)
            bytes.appendLittleEndian(UInt32(utf8.count))
            bytes += utf8 + [0]
            return start
        default:
            let start = bytes.count
            writeScalar(value)
            return start
        }
    }
}

/// Schema-shaped pieces of a TensorFlow Lite model, by the schema's field numbers.
enum SyntheticTFLite {
    static func operatorCode(deprecated: Int8, builtin: Int32? = nil, custom: String? = nil)
        -> FB
    {
        var fields: [Int: FB] = [0: .int8(deprecated), 2: .int32(1)]
        if let builtin { fields[3] = .int32(builtin) }
        if let custom { fields[1] = .string(custom) }
        return .table(fields)
    }

    static func tensor(_ name: String, shape: [Int32], type: Int8 = 0, buffer: UInt32 = 0) -> FB {
        .table([
            0: .vector(shape.map(FB.int32)), 1: .int8(type), 2: .uint32(buffer), 3: .string(name),
        ])
    }

    static func op(
        opcode: UInt32, inputs: [Int32], outputs: [Int32], optionsType: UInt8 = 0,
        options: [Int: FB]? = nil
    ) -> FB {
        var fields: [Int: FB] = [
            0: .uint32(opcode), 1: .vector(inputs.map(FB.int32)),
            2: .vector(outputs.map(FB.int32)), 3: .uint8(optionsType),
        ]
        if let options { fields[4] = .table(options) }
        return .table(fields)
    }

    static func buffer(_ data: [UInt8]) -> FB {
        data.isEmpty ? .table([:]) : .table([0: .vector(data.map(FB.uint8))])
    }

    /// A one-subgraph model; tensor 0 is the input and the last tensor the output.
    static func model(
        version: UInt32 = 3, operatorCodes: [FB], tensors: [FB], operators: [FB],
        buffers: [FB] = [buffer([])], inputs: [Int32] = [0], outputs: [Int32]? = nil
    ) -> FB {
        let outputs = outputs ?? [Int32(tensors.count - 1)]
        let subgraph = FB.table([
            0: .vector(tensors), 1: .vector(inputs.map(FB.int32)),
            2: .vector(outputs.map(FB.int32)), 3: .vector(operators), 4: .string("main"),
        ])
        return .table([
            0: .uint32(version), 1: .vector(operatorCodes), 2: .vector([subgraph]),
            3: .string("synthetic"), 4: .vector(buffers),
        ])
    }
}
