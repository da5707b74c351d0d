/// Writes FlatBuffers, the container format of `.tflite` files, from a tree of values.
///
/// The writer lays the buffer out front to back: each table, vector or string
/// is written after the field that points at it, so every unsigned offset is
/// positive, as the format requires. Vtables are not shared; the files are a
/// little larger than a deduplicating builder's and read the same.
struct FlatBufferWriter {
    /// A field's value: a scalar stored inline, or something reached through an offset.
    indirect enum Value {
        /// A little-endian scalar of 1, 2, 4 or 8 bytes, stored in the table itself.
        case scalar([UInt8])
        /// A nested table.
        case table(Table)
        /// A vector of tables.
        case tables([Table])
        /// A vector of scalars: their little-endian bytes, `elementSize` bytes each.
        case scalars(elementSize: Int, [UInt8])
        /// A UTF-8 string, NUL-terminated as the format requires.
        case string(String)
    }

    /// A table: its present fields by their schema index.
    struct Table {
        var fields: [(index: Int, value: Value)] = []

        /// Adds field `index`; `nil` leaves it absent so readers see the schema default.
        mutating func set(_ index: Int, _ value: Value?) {
            if let value { fields.append((index, value)) }
        }
    }

    /// The bytes written so far.
    private(set) var bytes: [UInt8] = []
    /// Where each inline scalar and each small vector's elements were written.
    ///
    /// Structure-aware fuzzers overwrite these ranges to change field values
    /// while keeping the buffer's offsets intact.
    private(set) var scalarRanges: [Range<Int>] = []

    /// Vectors with more elements than this (weights) are not listed in `scalarRanges`.
    private static let listedVectorLimit = 256

    /// A finished buffer: the root offset, the 4-byte file identifier, then `root`.
    static func buffer(root: Table, identifier: String) -> FlatBufferWriter {
        var writer = FlatBufferWriter()
        writer.bytes = [0, 0, 0, 0] + Array(identifier.utf8.prefix(4))
        let position = writer.write(root)
        writer.patchOffset(at: 0, to: position)
        return writer
    }

    private mutating func align(_ alignment: Int, after extra: Int = 0) {
        while (bytes.count + extra) % alignment != 0 { bytes.append(0) }
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private mutating func patchOffset(at position: Int, to target: Int) {
        let offset = UInt32(truncatingIfNeeded: target - position)
        withUnsafeBytes(of: offset.littleEndian) { bytes.replaceSubrange(position..<(position + 4), with: $0) }
    }

    private static func inlineSize(of value: Value) -> Int {
        if case .scalar(let scalar) = value { return scalar.count }
        return 4
    }

    /// Writes `table` (its vtable first, then the table, then what it points at); returns the table's position.
    private mutating func write(_ table: Table) -> Int {
        // Larger fields first, so every field is aligned without padding between them.
        let fields = table.fields.sorted { Self.inlineSize(of: $0.value) > Self.inlineSize(of: $1.value) }
        var fieldOffsets: [Int: Int] = [:]
        var size = 4  // the vtable offset
        var alignment = 4
        for field in fields {
            let fieldSize = Self.inlineSize(of: field.value)
            size = (size + fieldSize - 1) / fieldSize * fieldSize
            fieldOffsets[field.index] = size
            size += fieldSize
            alignment = max(alignment, fieldSize)
        }
        let slotCount = (table.fields.map(\.index).max() ?? -1) + 1
        align(2)
        let vtablePosition = bytes.count
        append(UInt16(4 + 2 * slotCount))
        append(UInt16(size))
        for slot in 0..<slotCount { append(UInt16(fieldOffsets[slot] ?? 0)) }
        align(alignment)
        let tablePosition = bytes.count
        append(Int32(tablePosition - vtablePosition))
        bytes.append(contentsOf: repeatElement(0, count: size - 4))
        var pending: [(position: Int, value: Value)] = []
        for field in fields {
            let position = tablePosition + (fieldOffsets[field.index] ?? 0)
            if case .scalar(let scalar) = field.value {
                bytes.replaceSubrange(position..<(position + scalar.count), with: scalar)
                scalarRanges.append(position..<(position + scalar.count))
            } else {
                pending.append((position, field.value))
            }
        }
        for (position, value) in pending {
            patchOffset(at: position, to: write(value))
        }
        return tablePosition
    }

    /// Writes a non-inline value; returns its position.
    private mutating func write(_ value: Value) -> Int {
        switch value {
        case .scalar:
            preconditionFailure("scalars are stored inline")
        case .table(let table):
            return write(table)
        case .tables(let tables):
            align(4)
            let position = bytes.count
            append(UInt32(tables.count))
            let slots = bytes.count
            bytes.append(contentsOf: repeatElement(0, count: 4 * tables.count))
            for (index, table) in tables.enumerated() {
                patchOffset(at: slots + 4 * index, to: write(table))
            }
            return position
        case .scalars(let elementSize, let data):
            // The length word comes first; the elements after it must be aligned to their size.
            align(max(4, elementSize), after: 4)
            let position = bytes.count
            let count = data.count / elementSize
            append(UInt32(count))
            if elementSize >= 4 && count <= Self.listedVectorLimit {
                scalarRanges += (0..<count).map { (bytes.count + $0 * elementSize)..<(bytes.count + ($0 + 1) * elementSize) }
            }
            bytes.append(contentsOf: data)
            return position
        case .string(let string):
            align(4)
            let position = bytes.count
            let utf8 = Array(string.utf8)
            append(UInt32(utf8.count))
            bytes.append(contentsOf: utf8 + [0])
            return position
        }
    }
}

extension FlatBufferWriter.Value {
    /// A scalar of any fixed-width integer type.
    static func integer<T: FixedWidthInteger>(_ value: T) -> Self {
        .scalar(withUnsafeBytes(of: value.littleEndian) { Array($0) })
    }

    /// A float32 scalar.
    static func float(_ value: Float) -> Self { .integer(value.bitPattern) }

    /// A boolean, stored as one byte.
    static func bool(_ value: Bool) -> Self { .integer(UInt8(value ? 1 : 0)) }

    /// A vector of integers of type `T`, each value truncated to `T`'s width.
    static func integers<T: FixedWidthInteger>(_ values: [Int], as _: T.Type) -> Self {
        var data: [UInt8] = []
        data.reserveCapacity(values.count * MemoryLayout<T>.size)
        for value in values {
            withUnsafeBytes(of: T(truncatingIfNeeded: value).littleEndian) { data.append(contentsOf: $0) }
        }
        return .scalars(elementSize: MemoryLayout<T>.size, data)
    }

    /// A vector of float32 values.
    static func floats(_ values: [Float]) -> Self {
        .integers(values.map { Int($0.bitPattern) }, as: UInt32.self)
    }
}
