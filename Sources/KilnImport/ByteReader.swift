/// Bounds-checked little-endian reads from a byte buffer.
///
/// Every read names what it was reading so a truncated file produces a
/// message that says where it ended, instead of a crash.
struct ByteReader {
    let bytes: [UInt8]
    /// The file's path as given, for error messages.
    let source: String

    var count: Int { bytes.count }

    /// Whether `count` bytes starting at `offset` lie inside the buffer (overflow-safe).
    func contains(offset: Int, count: Int) -> Bool {
        offset >= 0 && count >= 0 && offset <= bytes.count && count <= bytes.count - offset
    }

    func bytes(at offset: Int, count: Int, _ what: String) throws -> ArraySlice<UInt8> {
        guard contains(offset: offset, count: count) else {
            throw WeightFileError.truncated(source, reading: what, at: max(offset, 0))
        }
        return bytes[offset..<(offset + count)]
    }

    func uint8(at offset: Int, _ what: String) throws -> UInt8 {
        try littleEndian(UInt8.self, at: offset, what)
    }

    func uint16(at offset: Int, _ what: String) throws -> UInt16 {
        try littleEndian(UInt16.self, at: offset, what)
    }

    func uint32(at offset: Int, _ what: String) throws -> UInt32 {
        try littleEndian(UInt32.self, at: offset, what)
    }

    func uint64(at offset: Int, _ what: String) throws -> UInt64 {
        try littleEndian(UInt64.self, at: offset, what)
    }

    private func littleEndian<W: FixedWidthInteger & UnsignedInteger>(
        _: W.Type, at offset: Int, _ what: String
    ) throws -> W {
        let size = MemoryLayout<W>.size
        let slice = try bytes(at: offset, count: size, what)
        var value: W = 0
        for (index, byte) in slice.enumerated() {
            value |= W(byte) << (8 * index)
        }
        return value
    }
}

/// Appends little-endian integers to a byte buffer, for the writers.
extension Array where Element == UInt8 {
    mutating func appendLittleEndian<W: FixedWidthInteger>(_ value: W) {
        for index in 0..<MemoryLayout<W>.size {
            append(UInt8(truncatingIfNeeded: value >> (8 * index)))
        }
    }
}

/// Size arithmetic that cannot trap on hostile shapes.
enum ShapeArithmetic {
    /// The bytes `dimensions` of `elementSize`-byte elements occupy (`elementSize`
    /// at least 1), or `nil` when a dimension is negative or the product overflows.
    static func byteCount(of dimensions: [Int], elementSize: Int) -> Int? {
        var total = elementSize
        for dimension in dimensions {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            total = product
        }
        // Multiplying in the same order as Shape.elementCount, starting from a
        // size of at least 1, means that product cannot overflow either.
        return total
    }
}
