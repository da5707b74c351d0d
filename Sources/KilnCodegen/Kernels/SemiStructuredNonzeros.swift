import KilnIR

/// The nonzero weights of a float filter (`[units, depth]`) pruned N:4 (2:4, 1:4: at most
/// ``maximumKept`` nonzeros in every group of four consecutive weights of a unit), for the
/// semi-structured sparse kernel (``SemiStructuredSparseGEMVKernel``), in slices of ``lanes``
/// output units.
///
/// Every group of four inputs is one 128-bit vector, broadcast to each 128-bit lane of a register;
/// each unit picks its ``kept`` inputs out of it with an in-lane permute (`vpermilps`), whose
/// 2-bit selectors ride in ``controls``, and multiplies them with its weights in its own lane. A
/// group is read once for a whole slice, and a slice stores ``kept`` weights per group where the
/// dense kernel stores four: half the bytes at 2:4, a quarter at 1:4, plus a nibble per unit and
/// group.
///
/// A unit with fewer nonzeros in a group than ``kept`` repeats one: both selectors pick it, each
/// with half its weight (exact: halving is), so an infinite input stays infinite where a zero
/// weight would make it NaN. Where the filter's last group is short, missing inputs read as
/// zeros, and padding picks one of those with a zero weight. A full group without a nonzero
/// leaves nothing to repeat: such filters are not semi-structured (a zero weight would let a NaN
/// input into a unit pruning removed it from).
struct SemiStructuredNonzeros: Hashable {
    /// Inputs per group: one 128-bit vector, the reach of `vpermilps`.
    static let groupInputs = 4
    /// The most nonzeros per group the kernel picks.
    static let maximumKept = 2
    /// Bits of ``controls`` per group: a 2-bit selector for each of ``maximumKept`` picks.
    static let bitsPerGroup = 4
    /// Groups whose selectors share one 32-bit control word.
    static let groupsPerWord = 32 / bitsPerGroup

    /// Units per slice: one vector of sums.
    let lanes: Int
    /// Picks per group: the most nonzeros any unit has in a group (1 or 2).
    let kept: Int
    /// ``lanes`` words per slice and run of ``groupsPerWord`` groups: group `j` of the run takes
    /// bits `4j ..< 4j + 4` of its unit's word, the first pick's selector in the low two.
    let controls: [UInt32]
    /// ``kept`` × ``lanes`` weights per slice and group, one vector per pick.
    let values: [Float]
    /// Elements of one unit's reduction.
    let depth: Int
    /// Output units.
    let units: Int

    /// Groups of four inputs along the reduction (the last may be short).
    var groups: Int { (depth + Self.groupInputs - 1) / Self.groupInputs }
    /// Control words per unit: one per ``groupsPerWord`` groups.
    var wordsPerUnit: Int { (groups + Self.groupsPerWord - 1) / Self.groupsPerWord }
    /// Slices of ``lanes`` units (the last may be narrower).
    var slices: Int { (units + lanes - 1) / lanes }

    /// The semi-structured nonzeros of `filter` (float32) in slices of `lanes` units; `nil` unless
    /// every unit has at most ``maximumKept`` nonzeros in each group and at least one in each
    /// full group.
    init?(_ filter: TensorData, lanes: Int) {
        guard lanes > 0, let (weights, units, depth) = filter.unitRows, depth > 0 else { return nil }
        let size = Self.groupInputs
        let groups = (depth + size - 1) / size
        // Each unit's nonzero positions (within the group) per group.
        var picks: [[[Int]]] = []
        var kept = 1
        for unit in 0..<units {
            var unitPicks: [[Int]] = []
            for group in 0..<groups {
                let start = group * size
                let count = min(size, depth - start)
                let nonzeros = (0..<count).filter { weights[unit * depth + start + $0] != 0 }
                guard nonzeros.count <= Self.maximumKept, !nonzeros.isEmpty || count < size else { return nil }
                kept = max(kept, nonzeros.count)
                unitPicks.append(nonzeros)
            }
            picks.append(unitPicks)
        }
        let slices = (units + lanes - 1) / lanes
        let wordsPerUnit = (groups + Self.groupsPerWord - 1) / Self.groupsPerWord
        var controls = [UInt32](repeating: 0, count: slices * wordsPerUnit * lanes)
        var values = [Float](repeating: 0, count: slices * groups * kept * lanes)
        for unit in 0..<units {
            let (slice, lane) = unit.quotientAndRemainder(dividingBy: lanes)
            for group in 0..<groups {
                let start = group * size
                let count = min(size, depth - start)
                var chosen = picks[unit][group].map { (position: $0, weight: weights[unit * depth + start + $0]) }
                if chosen.count < kept {
                    if count < size {
                        // A short group's missing inputs load as zeros: pad with one of them.
                        chosen += Array(repeating: (position: count, weight: 0), count: kept - chosen.count)
                    } else {
                        chosen = [(chosen[0].position, chosen[0].weight / 2), (chosen[0].position, chosen[0].weight / 2)]
                    }
                }
                var bits: UInt32 = 0
                for (pick, choice) in chosen.enumerated() {
                    bits |= UInt32(choice.position) << (2 * pick)
                    values[((slice * groups + group) * kept + pick) * lanes + lane] = choice.weight
                }
                let (word, slot) = group.quotientAndRemainder(dividingBy: Self.groupsPerWord)
                controls[(slice * wordsPerUnit + word) * lanes + lane] |= bits << (Self.bitsPerGroup * slot)
            }
        }
        self.lanes = lanes
        self.kept = kept
        self.controls = controls
        self.values = values
        self.depth = depth
        self.units = units
    }

    /// Vector multiply-adds per row: one per pick of each group of each slice.
    var multiplyAdds: Int { slices * groups * kept }

    /// Bytes stored: the weights and the control words.
    var storedByteCount: Int { 4 * (values.count + controls.count) }
}
