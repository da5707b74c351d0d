import KilnIR

/// The nonzero weights of a float filter (`[units, depth]`) for the permuting sparse kernel
/// (``PermutedSparseGEMVKernel``), in slices of ``width`` output units.
///
/// The kernel first stages each input row in chunks of ``chunk`` floats: ``inputsPerChunk``
/// inputs (consecutive, or every `n`-th: ``isStrided``), then a zero (at ``zeroPosition``). A step gives each unit of a slice at
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
    /// Whether the row is staged strided: chunk `c` then holds inputs `c`, `c + n`, `c + 2n`, …
    /// (`n` the number of chunks) instead of 31 consecutive ones. Trained layers whose units
    /// favour the same stretches of inputs (the bins of a spectrogram) put many nonzeros of
    /// every unit into the same chunks, and a slice pays for its busiest unit in each; spreading
    /// the inputs evens the counts out (the autoencoder's first layer: 1,402 → 968 steps), at
    /// the price of a gather per 16 inputs staged.
    let isStrided: Bool

    /// The chunked nonzeros of `filter` (float32); `nil` for other element types. The row is
    /// staged strided where that saves more steps than its gathers cost
    /// (``stridedStagingSteps(depth:)``).
    init?(_ filter: TensorData) {
        guard let (weights, units, depth) = filter.unitRows else { return nil }
        let consecutive = Layout(weights: weights, units: units, depth: depth, isStrided: false)
        let strided = Layout(weights: weights, units: units, depth: depth, isStrided: true)
        let layout =
            strided.bases.count * 2 + Self.stridedStagingSteps(depth: depth) < consecutive.bases.count * 2
            ? strided : consecutive
        sliceStarts = layout.sliceStarts
        bases = layout.bases
        positions = layout.positions
        values = layout.values
        sources = layout.sources
        isStrided = layout.isStrided
        self.depth = depth
        self.units = units
    }

    /// Steps a strided staging is worth: its gathers (two per chunk, each about as costly as
    /// two steps) against the consecutive staging's plain loads.
    static func stridedStagingSteps(depth: Int) -> Int { 4 * stagedChunks(depth: depth) }

    /// The steps of one staging order.
    private struct Layout {
        var sliceStarts: [Int32] = [0]
        var bases: [Int32] = []
        var positions: [UInt8] = []
        var values: [Float] = []
        var sources: [UInt8]
        let isStrided: Bool

        init(weights: [Float], units: Int, depth: Int, isStrided: Bool) {
            self.isStrided = isStrided
            let chunks = ChunkedNonzeros.stagedChunks(depth: depth)
            // Each input's chunk and its position there.
            func place(_ input: Int) -> (chunk: Int, position: Int) {
                isStrided
                    ? (input % chunks, input / chunks)
                    : input.quotientAndRemainder(dividingBy: ChunkedNonzeros.inputsPerChunk)
            }
            // Each unit's nonzeros per chunk, ascending.
            var kept = Array(repeating: Array(repeating: [Int](), count: chunks), count: units)
            for unit in 0..<units {
                for input in 0..<depth where weights[unit * depth + input] != 0 { kept[unit][place(input).chunk].append(input) }
            }
            let width = ChunkedNonzeros.width
            let zero = ChunkedNonzeros.zeroPosition
            let order = ChunkedNonzeros.clustered(kept.map { $0.map(\.count) })
            for first in stride(from: 0, to: units, by: width) {
                let members = Array(order[first..<min(first + width, units)])
                for chunk in 0..<chunks {
                    let steps = members.map { kept[$0][chunk].count }.max() ?? 0
                    for step in stride(from: 0, to: steps, by: 2) {
                        for t in step..<(step + 2) {
                            for lane in 0..<width {
                                let inputs = lane < members.count ? kept[members[lane]][chunk] : []
                                positions.append(t < inputs.count ? UInt8(place(inputs[t]).position) : zero)
                                values.append(t < inputs.count ? weights[members[lane] * depth + inputs[t]] : 0)
                            }
                        }
                        bases.append(Int32(chunk * ChunkedNonzeros.chunk))
                    }
                }
                while (bases.count - Int(sliceStarts[sliceStarts.count - 1])) % ChunkedNonzeros.pairsPerIteration != 0 {
                    positions += Array(repeating: zero, count: 2 * width)
                    values += Array(repeating: 0, count: 2 * width)
                    bases.append(0)
                }
                sliceStarts.append(Int32(bases.count))
            }
            sources = [UInt8](repeating: 0, count: units)
            for (position, unit) in order.enumerated() { sources[unit] = UInt8(position % ChunkedNonzeros.groupUnits) }
        }
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
