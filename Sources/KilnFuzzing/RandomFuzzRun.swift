/// Runs a fuzz target without libFuzzer: the corpus as given, then inputs made by
/// randomly editing corpus entries, from a seed so every run reproduces.
///
/// No coverage guides it, so it finds less than libFuzzer; it runs anywhere,
/// and keeps the corpus passing in the test suite.
public struct RandomFuzzRun {
    /// How many inputs ended in each outcome.
    public private(set) var outcomes: [FuzzTarget.Outcome: Int] = [:]

    /// The total number of executions.
    public var executions: Int { outcomes.values.reduce(0, +) }

    /// Runs `target` on each of `corpus`, then on `runs` random inputs drawn with `seed`.
    public init(_ target: FuzzTarget, corpus: [[UInt8]], runs: Int, seed: UInt64) {
        var generator = SplitMix64(state: seed)
        for entry in corpus { outcomes[target.run(entry), default: 0] += 1 }
        for _ in 0..<runs {
            outcomes[target.run(Self.randomInput(from: corpus, &generator)), default: 0] += 1
        }
    }

    /// A corpus entry with a few bytes changed, inserted or removed, or fresh random bytes.
    static func randomInput(from corpus: [[UInt8]], _ generator: inout SplitMix64) -> [UInt8] {
        var bytes: [UInt8] =
            corpus.isEmpty || generator.next() % 4 == 0
            ? (0..<Int(generator.next() % 96)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            : corpus[Int(generator.next() % UInt64(corpus.count))]
        for _ in 0..<Int(1 + generator.next() % 4) {
            let position = bytes.isEmpty ? 0 : Int(generator.next() % UInt64(bytes.count))
            let value = UInt8(truncatingIfNeeded: generator.next())
            switch generator.next() % 3 {
            case 0 where !bytes.isEmpty: bytes[position] = value
            case 1: bytes.insert(value, at: position)
            default: if !bytes.isEmpty { bytes.remove(at: position) }
            }
        }
        return bytes
    }
}

/// A small deterministic generator (SplitMix64), so a run reproduces from its seed.
public struct SplitMix64: Sendable {
    /// The generator's state; any value is a valid seed.
    public var state: UInt64

    /// A generator starting from `state`.
    public init(state: UInt64) { self.state = state }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The committed corpus format (`Fuzz/Corpus/TARGET.hex`): one input per line, in hex.
public enum FuzzCorpus {
    /// The inputs of a corpus file's text; lines that are not hex are skipped.
    public static func decode(_ text: String) -> [[UInt8]] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let digits = Array(line.utf8)
            guard digits.count % 2 == 0 else { return nil }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(digits.count / 2)
            for index in stride(from: 0, to: digits.count, by: 2) {
                guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
                bytes.append(high << 4 | low)
            }
            return bytes
        }
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
