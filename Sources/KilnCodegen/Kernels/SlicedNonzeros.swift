import KilnIR

/// The nonzero weights of a float filter (`[units, depth]`) in slices of ``width`` output units
/// (sliced ELLPACK): slice `s` holds `steps(s)` steps, step `t` the `t`-th nonzero of each of its
/// units side by side (position and weight; a unit with fewer nonzeros is padded with position 0
/// and weight 0, masked off by its count). One vector of a step then serves one lane per unit, so
/// the gathering kernel needs no sum across lanes. What it stores and reads after unstructured
/// pruning.
struct SlicedNonzeros: Hashable {
    /// Units per slice: the widest vector (AVX-512's 16 lanes), which every narrower one divides.
    static let width = 16

    /// Element offset of each slice's first step, then the total: full slices' steps are
    /// ``width`` elements, the last (narrower) slice's as wide as it is.
    let sliceStarts: [Int32]
    /// Each element's reduction position (0 in padding).
    let positions: [Int32]
    /// Each element's weight (0 in padding).
    let values: [Float]
    /// Each unit's nonzeros, padded with zeros to whole slices.
    let counts: [Int32]
    /// Elements of one unit's reduction.
    let depth: Int
    /// Output units.
    let units: Int

    /// The sliced nonzeros of `filter` (float32); `nil` for other element types.
    init?(_ filter: TensorData) {
        guard let (weights, units, depth) = filter.unitRows else { return nil }
        let perUnit = (0..<units).map { unit in (0..<depth).filter { weights[unit * depth + $0] != 0 } }
        var starts: [Int32] = [0]
        var positions: [Int32] = []
        var values: [Float] = []
        for first in stride(from: 0, to: units, by: Self.width) {
            let members = first..<min(first + Self.width, units)
            let steps = members.map { perUnit[$0].count }.max() ?? 0
            for step in 0..<steps {
                for unit in members {
                    let kept = perUnit[unit]
                    let k = step < kept.count ? kept[step] : 0
                    positions.append(Int32(k))
                    values.append(step < kept.count ? weights[unit * depth + k] : 0)
                }
            }
            starts.append(Int32(positions.count))
        }
        sliceStarts = starts
        self.units = units
        self.depth = depth
        self.positions = positions
        self.values = values
        counts = perUnit.map { Int32($0.count) } + Array(repeating: 0, count: (Self.width - units % Self.width) % Self.width)
    }

    /// Nonzeros over all weights.
    var density: Double { Double(counts.reduce(0) { $0 + Int($1) }) / Double(max(units * depth, 1)) }

    /// Stored elements (nonzeros and padding) over all weights: the share of the dense kernel's
    /// multiply-adds the gathering kernel does, each with a gathered input.
    var fill: Double { Double(values.count) / Double(max(units * depth, 1)) }

    /// Whether positions fit 16 bits, as they are then stored.
    var hasShortPositions: Bool { depth <= Int(UInt16.max) + 1 }

    /// Bytes stored: slice starts, counts, positions (2 or 4 bytes each) and values.
    var storedByteCount: Int {
        4 * (sliceStarts.count + counts.count) + (hasShortPositions ? 2 : 4) * positions.count + 4 * values.count
    }
}

extension TensorData {
    /// A float32 filter's weights as rows of `depth` per output unit (the first axis); `nil` for
    /// other element types or a filter without units.
    var unitRows: (weights: [Float], units: Int, depth: Int)? {
        guard dtype == .float32, shape.rank >= 1, shape[0] > 0 else { return nil }
        let weights = floats()
        return (weights, shape[0], weights.count / shape[0])
    }
}
