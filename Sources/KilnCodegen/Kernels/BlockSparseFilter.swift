import KilnIR

/// The reduction steps a float filter's blocks of output channels keep: for each block of
/// ``PackedFilter/blockColumns`` output channels, the positions along the reduction at which
/// any of its weights is nonzero. A block-pruned filter (`prune-weights` with blocks) keeps
/// few, and the block-sparse kernel multiplies only those.
struct BlockSparsity: Hashable {
    /// Reduction positions kept by each block, ascending.
    let steps: [[Int]]
    /// Elements of one output channel's reduction.
    let depth: Int

    /// The kept steps of `filter` (`[channels, …]`, float32); `nil` for other element types,
    /// or when under a fifth of its weights are zero (no block-sparse kernel could win).
    init?(_ filter: TensorData) {
        guard filter.dtype == .float32, filter.shape.rank >= 1 else { return nil }
        let weights = filter.floats()
        let channels = filter.shape[0]
        guard channels > 0, weights.filter({ $0 == 0 }).count * 5 >= weights.count else { return nil }
        let depth = weights.count / channels
        let block = PackedFilter.blockColumns
        steps = stride(from: 0, to: channels, by: block).map { first in
            (0..<depth).filter { k in (first..<min(first + block, channels)).contains { weights[$0 * depth + k] != 0 } }
        }
        self.depth = depth
    }

    /// Kept steps over all steps: the share of the dense kernel's multiplies the sparse one does.
    var density: Double {
        Double(steps.reduce(0) { $0 + $1.count }) / Double(max(steps.count * depth, 1))
    }

    /// Bytes stored for a filter of `channels` output channels: each kept step's weights, its
    /// position, and each block's start (all 4 bytes).
    func storedByteCount(channels: Int) -> Int {
        let block = PackedFilter.blockColumns
        let weights = steps.enumerated().reduce(0) { total, entry in
            total + entry.element.count * min(block, channels - entry.offset * block)
        }
        return 4 * (weights + steps.reduce(0) { $0 + $1.count } + steps.count + 1)
    }

    /// Where each block's steps start in ``indices``, and the total after the last block.
    var starts: [Int32] {
        steps.reduce(into: [0]) { $0.append($0[$0.count - 1] + Int32($1.count)) }
    }

    /// Every block's kept positions, block after block.
    var indices: [Int32] { steps.flatMap { $0.map(Int32.init) } }

    /// For an OHWI convolution filter of `kernelWidth` columns and `channels` input channels:
    /// each kept step's input offset from its window's origin, and for each block and window tap
    /// where the tap's kept steps start (positions `k = tap · C + c` ascend, so a tap's are
    /// consecutive), `taps + 1` entries per block.
    func convolutionTables(kernelWidth: Int, channels: Int, windows: ConvolutionWindows) -> (offsets: [Int32], tapStarts: [Int32]) {
        let taps = depth / max(channels, 1)
        var offsets: [Int32] = []
        var tapStarts: [Int32] = []
        for kept in steps {
            var next = 0
            for tap in 0...taps {
                while next < kept.count, kept[next] < tap * channels { next += 1 }
                tapStarts.append(Int32(offsets.count + next))
            }
            for k in kept {
                let tap = k / channels
                offsets.append(
                    Int32(windows.tapOffset(ky: tap / kernelWidth, kx: tap % kernelWidth, channel: k % channels)))
            }
        }
        return (offsets, tapStarts)
    }

    /// Bytes a convolution's block-sparse kernel stores: ``storedByteCount(channels:)`` plus each
    /// kept step's input offset and each block's tap starts.
    func convolutionByteCount(channels: Int, taps: Int) -> Int {
        storedByteCount(channels: channels) + 4 * (steps.reduce(0) { $0 + $1.count } + steps.count * (taps + 1))
    }
}

extension PackedFilter {
    /// Packs the steps `sparsity` keeps of float `filter` for register tiles of one block of
    /// ``blockColumns`` output channels (vectors of `laneWidth` lanes): step `t` of
    /// ``BlockSparsity/indices`` holds its block's weights at that position, one block-width line
    /// after another, so a tile streams its weights unit-stride whatever it skips.
    init(_ filter: TensorData, keeping sparsity: BlockSparsity, laneWidth: Int) {
        let channels = filter.shape[0]
        let block = Self.blockColumns
        let weights = filter.floats()
        depth = sparsity.depth
        dtype = .float32
        scales = nil
        var packed: [Float] = []
        for (number, steps) in sparsity.steps.enumerated() {
            let first = number * block
            for k in steps {
                for channel in first..<min(first + block, channels) { packed.append(weights[channel * depth + k]) }
            }
        }
        bytes = TensorData(packed, shape: [packed.count]).bytes

        let lanes = min(laneWidth, block)
        let fullBlocks = channels / block
        var tiles: [ColumnTile] = []
        if fullBlocks > 0 {
            tiles.append(
                ColumnTile(
                    start: 0, lanes: lanes, vectors: block / lanes, count: fullBlocks,
                    vectorOffsets: (0..<(block / lanes)).map { $0 * lanes },
                    stepStrides: Array(repeating: block, count: block / lanes)))
        }
        // The last, narrower block: its step `t` (counted over the whole filter) starts at
        // `full · block + (t − full) · width`, `full` the steps of the full blocks.
        let width = channels - fullBlocks * block
        let fullSteps = sparsity.steps.prefix(fullBlocks).reduce(0) { $0 + $1.count }
        for run in LaneRun.covering(width, width: lanes) {
            tiles.append(
                ColumnTile(
                    start: fullBlocks * block + run.start, lanes: run.lanes, vectors: run.count, count: 1,
                    vectorOffsets: (0..<run.count).map { fullSteps * (block - width) + run.start + $0 * run.lanes },
                    stepStrides: Array(repeating: width, count: run.count)))
        }
        self.tiles = tiles
    }
}
