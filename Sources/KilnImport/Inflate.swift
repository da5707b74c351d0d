/// DEFLATE decompression (RFC 1951): stored, fixed-Huffman and dynamic-Huffman blocks.
///
/// Written for `np.savez_compressed` archives, so it favours being obviously
/// bounds-checked over speed: every malformed stream throws a ``Failure``.
enum Inflate {
    /// Why a stream could not be decompressed, without the file name (the caller adds it).
    struct Failure: Error {
        var reason: String
    }

    /// Decompresses `input`, refusing to produce more than `limit` bytes so a
    /// corrupt or hostile stream cannot exhaust memory.
    static func decompress(_ input: ArraySlice<UInt8>, limit: Int) throws(Failure) -> [UInt8] {
        var reader = BitReader(bytes: Array(input))
        var output: [UInt8] = []
        output.reserveCapacity(max(0, limit))
        var isFinal = false
        while !isFinal {
            isFinal = try reader.bits(1) == 1
            switch try reader.bits(2) {
            case 0:
                try copyStoredBlock(&reader, into: &output, limit: limit)
            case 1:
                let (literals, distances) = try fixedCodes()
                try decodeBlock(
                    &reader, literals: literals, distances: distances, into: &output, limit: limit)
            case 2:
                let (literals, distances) = try dynamicCodes(&reader)
                try decodeBlock(
                    &reader, literals: literals, distances: distances, into: &output, limit: limit)
            default:
                throw Failure(reason: "invalid block type 3")
            }
        }
        return output
    }

    private static func copyStoredBlock(
        _ reader: inout BitReader, into output: inout [UInt8], limit: Int
    )
        throws(Failure)
    {
        reader.alignToByte()
        let length = try reader.bits(16)
        let complement = try reader.bits(16)
        guard length == ~complement & 0xFFFF else {
            throw Failure(reason: "stored block length \(length) does not match its complement")
        }
        guard output.count + length <= limit else { throw overrun(limit) }
        try reader.copyBytes(count: length, into: &output)
    }

    // Length and distance symbols select a base value plus this many extra bits (RFC 1951 §3.2.5).
    private static let lengthBases: [Int] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
        131, 163, 195, 227, 258,
    ]
    private static let lengthExtraBits: [Int] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ]
    private static let distanceBases: [Int] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
        2049, 3073, 4097,
        6145, 8193, 12289, 16385, 24577,
    ]
    private static let distanceExtraBits: [Int] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
        13, 13,
    ]

    private static func decodeBlock(
        _ reader: inout BitReader, literals: HuffmanCode, distances: HuffmanCode,
        into output: inout [UInt8],
        limit: Int
    ) throws(Failure) {
        while true {
            let symbol = try literals.decode(&reader)
            if symbol < 256 {
                guard output.count < limit else { throw overrun(limit) }
                output.append(UInt8(symbol))
                continue
            }
            if symbol == 256 { return }
            let lengthIndex = symbol - 257
            guard lengthIndex < lengthBases.count else {
                throw Failure(reason: "invalid length symbol \(symbol)")
            }
            let length = lengthBases[lengthIndex] + (try reader.bits(lengthExtraBits[lengthIndex]))
            let distanceSymbol = try distances.decode(&reader)
            guard distanceSymbol < distanceBases.count else {
                throw Failure(reason: "invalid distance symbol \(distanceSymbol)")
            }
            let distance =
                distanceBases[distanceSymbol] + (try reader.bits(distanceExtraBits[distanceSymbol]))
            guard distance <= output.count else {
                throw Failure(
                    reason:
                        "a back-reference reaches \(distance) bytes back, before the start of the data"
                )
            }
            guard output.count + length <= limit else { throw overrun(limit) }
            // Byte by byte on purpose: a copy may overlap the bytes it is producing.
            let start = output.count - distance
            for offset in 0..<length {
                output.append(output[start + offset])
            }
        }
    }

    private static func fixedCodes() throws(Failure) -> (HuffmanCode, HuffmanCode) {
        var literalLengths = [UInt8](repeating: 8, count: 288)
        for symbol in 144..<256 { literalLengths[symbol] = 9 }
        for symbol in 256..<280 { literalLengths[symbol] = 7 }
        return (
            try HuffmanCode(lengths: literalLengths),
            try HuffmanCode(lengths: [UInt8](repeating: 5, count: 32))
        )
    }

    /// The order code-length code lengths are transmitted in (RFC 1951 §3.2.7).
    private static let codeLengthOrder = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ]

    private static func dynamicCodes(_ reader: inout BitReader) throws(Failure) -> (
        HuffmanCode, HuffmanCode
    ) {
        let literalCount = try reader.bits(5) + 257
        let distanceCount = try reader.bits(5) + 1
        let codeLengthCount = try reader.bits(4) + 4
        guard literalCount <= 286, distanceCount <= 30 else {
            throw Failure(
                reason:
                    "a dynamic block declares \(literalCount) literal and \(distanceCount) distance codes"
            )
        }
        var codeLengthLengths = [UInt8](repeating: 0, count: 19)
        for index in 0..<codeLengthCount {
            codeLengthLengths[codeLengthOrder[index]] = UInt8(try reader.bits(3))
        }
        let codeLengthCode = try HuffmanCode(lengths: codeLengthLengths)

        let total = literalCount + distanceCount
        var lengths: [UInt8] = []
        lengths.reserveCapacity(total)
        while lengths.count < total {
            let symbol = try codeLengthCode.decode(&reader)
            let repeated: UInt8
            let count: Int
            switch symbol {
            case 0..<16:
                lengths.append(UInt8(symbol))
                continue
            case 16:
                guard let previous = lengths.last else {
                    throw Failure(reason: "a code length repeat comes before any code length")
                }
                repeated = previous
                count = 3 + (try reader.bits(2))
            case 17:
                repeated = 0
                count = 3 + (try reader.bits(3))
            default:
                repeated = 0
                count = 11 + (try reader.bits(7))
            }
            guard lengths.count + count <= total else {
                throw Failure(reason: "code length repeats run past the declared number of codes")
            }
            lengths += repeatElement(repeated, count: count)
        }
        guard lengths[256] != 0 else {
            throw Failure(reason: "a dynamic block has no end-of-block code")
        }
        return (
            try HuffmanCode(lengths: Array(lengths[0..<literalCount])),
            try HuffmanCode(lengths: Array(lengths[literalCount...]))
        )
    }

    private static func overrun(_ limit: Int) -> Failure {
        Failure(
            reason: "the data decompresses to more than the \(limit) bytes the archive declares")
    }
}

/// Reads DEFLATE's least-significant-bit-first bit stream.
private struct BitReader {
    let bytes: [UInt8]
    var position = 0
    var buffer: UInt64 = 0
    var bitCount = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func refill() {
        while bitCount <= 56, position < bytes.count {
            buffer |= UInt64(bytes[position]) << UInt64(bitCount)
            position += 1
            bitCount += 8
        }
    }

    /// The next `count` (at most 32) bits as an integer, first bit lowest.
    mutating func bits(_ count: Int) throws(Inflate.Failure) -> Int {
        let value = peek(count)
        try drop(count)
        return value
    }

    /// The next `count` bits without consuming them, padded with zeros past the end.
    mutating func peek(_ count: Int) -> Int {
        if bitCount < count { refill() }
        return Int(truncatingIfNeeded: buffer & ((1 << UInt64(count)) - 1))
    }

    mutating func drop(_ count: Int) throws(Inflate.Failure) {
        if bitCount < count { refill() }
        guard bitCount >= count else {
            throw Inflate.Failure(reason: "the compressed data ends unexpectedly")
        }
        buffer >>= UInt64(count)
        bitCount -= count
    }

    /// Skips to the next byte boundary, as stored blocks require.
    mutating func alignToByte() {
        let partial = bitCount % 8
        buffer >>= UInt64(partial)
        bitCount -= partial
    }

    /// Copies `count` whole bytes; call only when byte-aligned.
    mutating func copyBytes(count: Int, into output: inout [UInt8]) throws(Inflate.Failure) {
        var remaining = count
        while remaining > 0, bitCount >= 8 {
            output.append(UInt8(truncatingIfNeeded: buffer))
            buffer >>= 8
            bitCount -= 8
            remaining -= 1
        }
        guard remaining <= bytes.count - position else {
            throw Inflate.Failure(reason: "a stored block runs past the end of the compressed data")
        }
        output += bytes[position..<(position + remaining)]
        position += remaining
    }
}

/// A canonical Huffman code decoded with one table lookup per symbol.
private struct HuffmanCode {
    /// Indexed by the next `maxLength` input bits; each entry is `symbol << 4 | codeLength`,
    /// and 0 marks bit patterns that are not a code.
    private var table: [UInt16]
    private var maxLength: Int

    /// Builds the code from each symbol's code length (0 = unused, at most 15).
    init(lengths: [UInt8]) throws(Inflate.Failure) {
        var counts = [Int](repeating: 0, count: 16)
        for length in lengths { counts[Int(length)] += 1 }
        counts[0] = 0
        var available = 1
        for length in 1...15 {
            available = available * 2 - counts[length]
            guard available >= 0 else {
                throw Inflate.Failure(reason: "a Huffman code is over-subscribed")
            }
        }
        maxLength = counts.lastIndex { $0 > 0 } ?? 0
        // Incomplete codes are allowed (RFC 1951 permits them for one-symbol
        // distance codes); their unused patterns stay 0 and are rejected if met.
        table = [UInt16](repeating: 0, count: 1 << maxLength)

        var nextCode = [Int](repeating: 0, count: 16)
        var code = 0
        for length in 1...15 {
            code = (code + counts[length - 1]) << 1
            nextCode[length] = code
        }
        for (symbol, length) in lengths.enumerated() where length > 0 {
            let size = Int(length)
            let code = nextCode[size]
            nextCode[size] += 1
            // Codes are sent most-significant bit first inside an LSB-first stream.
            var reversed = 0
            for bit in 0..<size where code & (1 << bit) != 0 {
                reversed |= 1 << (size - 1 - bit)
            }
            let entry = UInt16(symbol << 4 | size)
            var index = reversed
            while index < table.count {
                table[index] = entry
                index += 1 << size
            }
        }
    }

    func decode(_ reader: inout BitReader) throws(Inflate.Failure) -> Int {
        let entry = table[reader.peek(maxLength)]
        guard entry != 0 else {
            throw Inflate.Failure(reason: "invalid Huffman code in the compressed data")
        }
        try reader.drop(Int(entry & 0xF))
        return Int(entry >> 4)
    }
}
