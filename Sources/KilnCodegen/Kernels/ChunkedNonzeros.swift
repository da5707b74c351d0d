import KilnIR

/// The nonzero weights of a float filter (`[units, depth]`) for the permuting sparse kernel
/// (``PermutedSparseGEMVKernel``), in slices of ``width`` output units.
///
/// The kernel first stages each input row in chunks of ``chunk`` floats: ``inputsPerChunk``
/// consecutive inputs, then a zero (at ``zeroPosition``). A step gives each unit of a slice at
/// most one of its nonzeros from one staged chunk: the input's position within the chunk and the
/// weight; a unit with none there picks the zero, with a zero weight, so it adds exactly nothing
/// whatever the inputs hold (a NaN input stays out of the units that do not read it). Steps come
/// in pairs that share a chunk, so one load of it serves two; a unit's nonzeros come in ascending
/// order of position, and a slice's pairs are padded to a multiple of ``pairsPerIteration``.
///
/// Where the gathering kernel (``SlicedNonzeros``) pays a gather per step, this one pays a
/// two-register permute of inputs already in L1, at the price of padding: a slice needs as many
/// steps per chunk as its busiest unit has nonzeros there (rounded up to a pair). To pad less,
/// the units of each group of ``groupUnits`` are reordered into slices of units whose nonzeros
/// fall in the same chunks (``clustered(_:)``); the kernel puts each group's sums back in order
/// (``sources``).
struct ChunkedNonzeros: Hashable {
    /// Units per slice: one AVX-512 vector of sums.
    static let width = 16
    /// Floats in a staged chunk: the two registers of `vpermi2ps`.
    static let chunk = 32
    /// Inputs in a staged chunk; the last float is a zero.
    static let inputsPerChunk = chunk - 1
    /// The staged zero's position in its chunk, which padding lanes pick.
    static let zeroPosition = UInt8(chunk - 1)
    /// Pairs per loop iteration: four steps, each into its own accumulator, so consecutive
    /// multiply-adds do not wait on each other.
    static let pairsPerIteration = 2
    /// Units whose slices are formed together (four slices): the kernel's unit of work, whose
    /// sums it reorders in registers.
    static let groupUnits = 64

    /// Pair index of each slice's first pair, then the total.
    let sliceStarts: [Int32]
    /// Each pair's chunk: the element offset of its first float in a staged row.
    let bases: [Int32]
    /// ``width`` bytes per step: each lane's position within the chunk.
    let positions: [UInt8]
    /// ``width`` weights per step (0 where a lane picks the zero).
    let values: [Float]
    /// Each unit's position in its group's slice order: lane `i` of the group's slice `j` computes
    /// the unit whose source is `16·j + i` (units stay in their group of ``groupUnits``).
    let sources: [UInt8]
    /// Elements of one unit's reduction.
    let depth: Int
    /// Output units.
    let units: Int

    /// The chunked nonzeros of `filter` (float32); `nil` for other element types.
    init?(_ filter: TensorData) {
        guard let (weights, units, depth) = filter.unitRows else { return nil }
        var starts: [Int32] = [0]
        var bases: [Int32] = []
        var positions: [UInt8] = []
        var values: [Float] = []
        func appendStep(_ lanes: [(position: UInt8, weight: Float)]) {
            for lane in 0..<Self.width {
                positions.append(lane < lanes.count ? lanes[lane].position : Self.zeroPosition)
                values.append(lane < lanes.count ? lanes[lane].weight : 0)
            }
        }
        let empty = Array(repeating: (position: Self.zeroPosition, weight: Float(0)), count: Self.width)
        let chunks = Self.stagedChunks(depth: depth)
        let kept = (0..<units).map { unit in
            (0..<chunks).map { chunk in
                let start = chunk * Self.inputsPerChunk
                return (start..<min(start + Self.inputsPerChunk, depth)).filter { weights[unit * depth + $0] != 0 }
            }
        }
        let order = Self.clustered(kept.map { $0.map(\.count) })
        for first in stride(from: 0, to: units, by: Self.width) {
            let members = Array(order[first..<min(first + Self.width, units)])
            for chunk in 0..<chunks {
                let start = chunk * Self.inputsPerChunk
                let steps = members.map { kept[$0][chunk].count }.max() ?? 0
                for step in stride(from: 0, to: steps, by: 2) {
                    for t in step..<(step + 2) {
                        appendStep(
                            members.map { unit in
                                let positions = kept[unit][chunk]
                                return t < positions.count
                                    ? (UInt8(positions[t] - start), weights[unit * depth + positions[t]]) : (Self.zeroPosition, 0)
                            })
                    }
                    bases.append(Int32(chunk * Self.chunk))
                }
            }
            while (bases.count - Int(starts[starts.count - 1])) % Self.pairsPerIteration != 0 {
                appendStep(empty)
                appendStep(empty)
                bases.append(0)
            }
            starts.append(Int32(bases.count))
        }
        var sources = [UInt8](repeating: 0, count: units)
        for (position, unit) in order.enumerated() { sources[unit] = UInt8(position % Self.groupUnits) }
        self.sources = sources
        sliceStarts = starts
        self.bases = bases
        self.positions = positions
        self.values = values
        self.depth = depth
        self.units = units
    }

    /// The units in slice order, given each unit's nonzero count per chunk: within each group of
    /// ``groupUnits``, greedily, each slice starts from the first unit left and adds the unit that
    /// raises the sum over chunks of the slice's largest count (rounded up to a pair) the least.
    static func clustered(_ counts: [[Int]]) -> [Int] {
        var order: [Int] = []
        for groupStart in stride(from: 0, to: counts.count, by: groupUnits) {
            var left = Array(groupStart..<min(groupStart + groupUnits, counts.count))
            while !left.isEmpty {
                let seed = left.removeFirst()
                order.append(seed)
                var busiest = counts[seed]
                for _ in 1..<width where !left.isEmpty {
                    var best = 0
                    var bestCost = Int.max
                    for (index, unit) in left.enumerated() {
                        let candidate = counts[unit]
                        var merged = 0
                        for chunk in busiest.indices { merged += (max(busiest[chunk], candidate[chunk]) + 1) / 2 }
                        if merged < bestCost { (best, bestCost) = (index, merged) }
                    }
                    let unit = left.remove(at: best)
                    order.append(unit)
                    busiest = zip(busiest, counts[unit]).map(max)
                }
            }
        }
        return order
    }

    /// Chunks of a staged row of `depth` inputs.
    static func stagedChunks(depth: Int) -> Int { (depth + inputsPerChunk - 1) / inputsPerChunk }

    /// Steps over all slices, padding included.
    var steps: Int { 2 * bases.count }

    /// Stored lanes (nonzeros and padding) over all weights: the share of the dense kernel's
    /// multiply-adds this kernel issues.
    var fill: Double { Double(values.count) / Double(max(units * depth, 1)) }

    /// Bytes stored: slice starts, each pair's base, each step's positions and weights, and each
    /// unit's source position.
    var storedByteCount: Int {
        4 * (sliceStarts.count + bases.count) + steps * (Self.width + 4 * Self.width) + units
    }
}
