/// Reads a fuzzer's input as a stream of choices.
///
/// Every read succeeds: an exhausted input reads as zeros, so any byte string
/// decodes to some sequence of edits and a coverage-guided fuzzer can grow,
/// shrink and splice inputs freely.
public struct FuzzedBytes {
    private let bytes: [UInt8]
    private var position = 0

    /// Wraps a fuzzer's input.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Whether every byte has been read.
    public var isExhausted: Bool { position >= bytes.count }

    /// The next byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        defer { position += 1 }
        return position < bytes.count ? bytes[position] : 0
    }

    /// The next four bytes as a little-endian integer.
    public mutating func uint32() -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(byte()) << (8 * $1) }
    }

    /// A choice in `0..<count`; 0 when `count` is 0.
    public mutating func index(below count: Int) -> Int {
        guard count > 1 else { return 0 }
        return count <= 256 ? Int(byte()) % count : Int(uint32() % UInt32(clamping: count))
    }

    /// An integer that tends to break size and index arithmetic: edges of every width, or a raw 32-bit value.
    public mutating func interestingInteger() -> Int {
        let edges: [Int] = [
            -1, 0, 1, 2, 3, 4, 7, 8, 16, 127, 128, 255, 256, 1 << 15, 65_535, 65_536, 1 << 24, 1 << 31 - 1, 1 << 31,
            1 << 32, -128, -129, -(1 << 31), Int(Int32.max) + 1, Int.max, Int.min, Int(Int64.max / 3),
        ]
        let choice = Int(byte())
        return choice < 200 ? edges[choice % edges.count] : Int(Int32(bitPattern: uint32()))
    }

    /// A float that tends to break arithmetic: zeros, subnormals, extremes, infinities, NaN, or raw bits.
    public mutating func interestingFloat() -> Float {
        let edges: [Float] = [
            0, -0.0, 1, -1, 0.5, .leastNonzeroMagnitude, 1e-38, 1e-20, 1e20, 3.4e38, -3.4e38, .infinity, -.infinity, .nan, 255, 1.0 / 255,
            Float(Int32.max), 0.007_874,
        ]
        let choice = Int(byte())
        return choice < 200 ? edges[choice % edges.count] : Float(bitPattern: uint32())
    }
}
