/// Bounds-checked reads of a FlatBuffers buffer, the container format of `.tflite` files.
///
/// A FlatBuffer is a graph of offsets written by someone else, so every offset
/// and length is checked against the buffer before it is followed. Table and
/// vector offsets are unsigned and relative to where they are stored, so they
/// always point forward and cannot form cycles; only a table's vtable offset
/// is signed, and nothing is followed from a vtable. Decoding is driven by the
/// schema, which bounds how deep tables nest; the depth cap still guards
/// against a schema-driven caller that recurses (for example through subgraph
/// references).
///
/// Tables may legally share vectors, so a hostile file could make thousands
/// of tables point at one large vector and decode into far more memory than
/// it occupies. Every table and vector element decoded is therefore charged
/// against a budget proportional to the file's size.
final class FlatBufferReader {
    /// The buffer, with the file's path for messages.
    let file: ByteReader
    /// How deep tables may nest below the root table.
    static let maximumDepth = 32
    /// Decoding work left, in tables plus vector elements.
    private var budget: Int

    init(bytes: [UInt8], source: String) {
        file = ByteReader(bytes: bytes, source: source)
        // Four times the file covers every legitimate file (each byte is
        // decoded about once) with room for shared strings and vectors.
        budget = 4 * bytes.count + 65_536
    }

    /// The file's path as given, for error messages.
    var source: String { file.source }

    /// An error about the structure at `path`, naming the file.
    func error(_ path: String, _ problem: String) -> TFLiteError {
        TFLiteError(source, "\(path): \(problem)")
    }

    /// The table the buffer's first word points to.
    func rootTable(_ path: String) throws -> FlatBufferTable {
        try table(at: try target(ofOffsetAt: 0, path), depth: 0, path)
    }

    /// The little-endian integer of type `T` at `position`.
    func integer<T: FixedWidthInteger>(_: T.Type, at position: Int, _ path: String) throws -> T {
        let size = MemoryLayout<T>.size
        guard file.contains(offset: position, count: size) else {
            throw error(
                path,
                "the \(size)-byte value at byte \(position) lies outside the file (\(file.count) bytes); "
                    + "the file is truncated or corrupt")
        }
        var value: UInt64 = 0
        for index in 0..<size {
            value |= UInt64(file.bytes[position + index]) << (8 * index)
        }
        return T(truncatingIfNeeded: value)
    }

    /// Where the unsigned 32-bit offset stored at `position` points.
    func target(ofOffsetAt position: Int, _ path: String) throws -> Int {
        let offset = Int(try integer(UInt32.self, at: position, path))
        let target = position + offset
        guard target < file.count else {
            throw error(
                path,
                "the offset at byte \(position) points to byte \(target), past the end of the file "
                    + "(\(file.count) bytes); the file is truncated or corrupt")
        }
        return target
    }

    /// The table at `position`, with its vtable checked to lie inside the buffer.
    func table(at position: Int, depth: Int, _ path: String) throws -> FlatBufferTable {
        guard depth <= Self.maximumDepth else {
            throw error(
                path, "tables nest more than \(Self.maximumDepth) deep; the file is corrupt")
        }
        try charge(1, path)
        let relative = try integer(Int32.self, at: position, path)
        let vtable = position - Int(relative)
        guard file.contains(offset: vtable, count: 4) else {
            throw error(
                path,
                "the table at byte \(position) has its vtable at byte \(vtable), outside the file "
                    + "(\(file.count) bytes); the file is corrupt")
        }
        let vtableSize = Int(try integer(UInt16.self, at: vtable, path))
        let inlineSize = Int(try integer(UInt16.self, at: vtable + 2, path))
        guard vtableSize >= 4, vtableSize % 2 == 0, file.contains(offset: vtable, count: vtableSize)
        else {
            throw error(
                path,
                "the vtable at byte \(vtable) claims \(vtableSize) bytes, which is invalid or runs past "
                    + "the end of the file (\(file.count) bytes); the file is corrupt")
        }
        guard inlineSize >= 4, file.contains(offset: position, count: inlineSize) else {
            throw error(
                path,
                "the table at byte \(position) claims \(inlineSize) bytes, which is invalid or runs past "
                    + "the end of the file (\(file.count) bytes); the file is corrupt")
        }
        return FlatBufferTable(
            reader: self, position: position, vtable: vtable, vtableSize: vtableSize,
            inlineSize: inlineSize, depth: depth, path: path)
    }

    /// The vector at `position`: a 32-bit count, then the elements, all inside the buffer.
    func vector(at position: Int, elementSize: Int, _ path: String) throws -> FlatBufferVector {
        let count = Int(try integer(UInt32.self, at: position, path))
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow, file.contains(offset: position + 4, count: byteCount) else {
            throw error(
                path,
                "the vector of \(count) \(elementSize)-byte elements at byte \(position) runs past "
                    + "the end of the file (\(file.count) bytes); the file is truncated or corrupt")
        }
        try charge(count, path)
        return FlatBufferVector(start: position + 4, count: count, elementSize: elementSize)
    }

    /// Takes `units` of decoding work from the budget, or throws when it is spent.
    func charge(_ units: Int, _ path: String) throws {
        guard units <= budget else {
            throw error(
                path,
                "the file's offsets make it refer to far more data than it holds (\(file.count) "
                    + "bytes); the file is corrupt")
        }
        budget -= units
    }
}

/// A vector's elements: where they start, how many there are, and how wide each is.
struct FlatBufferVector {
    let start: Int
    let count: Int
    let elementSize: Int

    /// Where element `index` starts; `index` must be below `count`.
    func position(of index: Int) -> Int {
        start + index * elementSize
    }
}

/// One table of a FlatBuffer: its fields, looked up through its vtable.
///
/// Fields are numbered from 0 in schema order; a union field takes two
/// numbers, its type tag first. A field that the vtable omits or marks with
/// offset 0 is absent and reads as its schema default.
struct FlatBufferTable {
    let reader: FlatBufferReader
    /// Where the table starts (its signed offset to the vtable).
    let position: Int
    let vtable: Int
    /// The vtable's size in bytes, header included.
    let vtableSize: Int
    /// The size in bytes of the table's inline part, which every field must lie in.
    let inlineSize: Int
    /// How many tables lie between this one and the root.
    let depth: Int
    /// Where the table sits in the file, such as `Model.subgraphs[0]`, for messages.
    let path: String

    /// The path of field `name` of this table.
    func path(_ name: String) -> String {
        "\(path).\(name)"
    }

    /// Where field `index` lies when present, checked to fit in the table's inline part.
    func fieldPosition(_ index: Int, size: Int, _ name: String) throws -> Int? {
        let entry = 4 + 2 * index
        guard entry + 2 <= vtableSize else { return nil }
        let offset = Int(try reader.integer(UInt16.self, at: vtable + entry, path(name)))
        guard offset != 0 else { return nil }
        guard offset >= 4, offset + size <= inlineSize else {
            throw reader.error(
                path(name),
                "the field at offset \(offset) does not fit in its \(inlineSize)-byte table at byte "
                    + "\(position); the file is corrupt")
        }
        return position + offset
    }

    /// The integer field `index`, or `defaultValue` when absent.
    func integer<T: FixedWidthInteger>(_ index: Int, default defaultValue: T, _ name: String)
        throws -> T
    {
        guard let field = try fieldPosition(index, size: MemoryLayout<T>.size, name) else {
            return defaultValue
        }
        return try reader.integer(T.self, at: field, path(name))
    }

    /// The Boolean field `index`, or `defaultValue` when absent.
    func bool(_ index: Int, default defaultValue: Bool, _ name: String) throws -> Bool {
        try integer(index, default: defaultValue ? UInt8(1) : 0, name) != 0
    }

    /// The 32-bit float field `index`, or `defaultValue` when absent.
    func float(_ index: Int, default defaultValue: Float, _ name: String) throws -> Float {
        Float(bitPattern: try integer(index, default: defaultValue.bitPattern, name))
    }

    /// Where the inline struct of `size` bytes in field `index` lies, when present.
    func structPosition(_ index: Int, size: Int, _ name: String) throws -> Int? {
        try fieldPosition(index, size: size, name)
    }

    /// The sub-table field `index` points to, when present.
    func table(_ index: Int, _ name: String) throws -> FlatBufferTable? {
        guard let field = try fieldPosition(index, size: 4, name) else { return nil }
        let target = try reader.target(ofOffsetAt: field, path(name))
        return try reader.table(at: target, depth: depth + 1, path(name))
    }

    /// The vector field `index` points to, when present.
    func vector(_ index: Int, elementSize: Int, _ name: String) throws -> FlatBufferVector? {
        guard let field = try fieldPosition(index, size: 4, name) else { return nil }
        let target = try reader.target(ofOffsetAt: field, path(name))
        return try reader.vector(at: target, elementSize: elementSize, path(name))
    }

    /// The vector of integers field `index` points to, when present.
    func integers<T: FixedWidthInteger>(_ index: Int, _: T.Type, _ name: String) throws -> [T]? {
        let size = MemoryLayout<T>.size
        guard let vector = try vector(index, elementSize: size, name) else { return nil }
        var values: [T] = []
        values.reserveCapacity(vector.count)
        for element in 0..<vector.count {
            values.append(try reader.integer(T.self, at: vector.position(of: element), path(name)))
        }
        return values
    }

    /// The vector of 32-bit floats field `index` points to, when present.
    func floats(_ index: Int, _ name: String) throws -> [Float]? {
        try integers(index, UInt32.self, name)?.map(Float.init(bitPattern:))
    }

    /// The bytes of the `[ubyte]` vector field `index` points to, when present.
    func bytes(_ index: Int, _ name: String) throws -> [UInt8]? {
        guard let vector = try vector(index, elementSize: 1, name) else { return nil }
        return Array(reader.file.bytes[vector.start..<(vector.start + vector.count)])
    }

    /// The string field `index` points to, when present; invalid UTF-8 is replaced, not rejected.
    func string(_ index: Int, _ name: String) throws -> String? {
        guard let vector = try vector(index, elementSize: 1, name) else { return nil }
        return String(
            decoding: reader.file.bytes[vector.start..<(vector.start + vector.count)], as: UTF8.self
        )
    }

    /// The tables of the vector field `index` points to, when present.
    func tables(_ index: Int, _ name: String) throws -> [FlatBufferTable]? {
        guard let vector = try vector(index, elementSize: 4, name) else { return nil }
        var tables: [FlatBufferTable] = []
        tables.reserveCapacity(vector.count)
        for element in 0..<vector.count {
            let elementPath = "\(path(name))[\(element)]"
            let target = try reader.target(ofOffsetAt: vector.position(of: element), elementPath)
            tables.append(try reader.table(at: target, depth: depth + 1, elementPath))
        }
        return tables
    }

    /// The strings of the vector field `index` points to, when present.
    func strings(_ index: Int, _ name: String) throws -> [String]? {
        guard let vector = try vector(index, elementSize: 4, name) else { return nil }
        var strings: [String] = []
        strings.reserveCapacity(vector.count)
        for element in 0..<vector.count {
            let elementPath = "\(path(name))[\(element)]"
            let target = try reader.target(ofOffsetAt: vector.position(of: element), elementPath)
            let string = try reader.vector(at: target, elementSize: 1, elementPath)
            strings.append(
                String(
                    decoding: reader.file.bytes[string.start..<(string.start + string.count)],
                    as: UTF8.self))
        }
        return strings
    }
}
