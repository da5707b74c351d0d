import KilnIR

/// The distinct values of a float filter whose weights take at most ``capacity`` of them (after
/// `share-weights`): the table the kernels look each weight's 4-bit index up in.
struct WeightCodebook: Hashable {
    /// Entries a 4-bit index addresses.
    static let capacity = 16

    /// The distinct values, ascending, padded with zeros to ``capacity``.
    let values: [Float]

    /// The codebook of `filter`; `nil` unless it is float32 with at most ``capacity`` distinct
    /// finite values.
    init?(_ filter: TensorData) {
        guard filter.dtype == .float32, filter.elementCount > 0 else { return nil }
        var distinct: Set<Float> = []
        for value in filter.floats() {
            guard value.isFinite else { return nil }
            // -0.0 and 0.0 are one entry: both multiply to zero.
            distinct.insert(value == 0 ? 0 : value)
            if distinct.count > Self.capacity { return nil }
        }
        let sorted = distinct.sorted()
        values = sorted + Array(repeating: 0, count: Self.capacity - sorted.count)
    }

    /// Bytes stored for a `[channels, depth]` filter: a 4-bit index per weight of whole blocks of
    /// 16 channels over an even depth, and the table.
    static func storedByteCount(channels: Int, depth: Int) -> Int {
        let block = PackedFilter.blockColumns
        return (channels + block - 1) / block * block * (depth + depth % 2) / 2 + 4 * capacity
    }
}

extension PackedFilter {
    /// Packs float `filter`'s weights as 4-bit indices into `codebook`, in blocks of
    /// ``blockColumns`` output channels, the last padded to a whole block and the reduction to an
    /// even depth (index 0): two consecutive reduction steps of a block share 16 bytes, channel
    /// `c`'s index at the even step in the low nibble of byte `c`, at the odd step in its high
    /// nibble. One 16-byte load then holds a whole vector of indices (the other step's in the
    /// upper bits, which AVX-512's `vpermps` ignores). Element offsets are those of a
    /// `[block][evenDepth][16]` float filter (``tiles(channels:depth:laneWidth:padsLastBlock:)``).
    init(_ filter: TensorData, codebook: WeightCodebook, laneWidth: Int) {
        let channels = filter.shape[0]
        let depth = channels == 0 ? 0 : filter.elementCount / channels
        let evenDepth = depth + depth % 2
        let block = Self.blockColumns
        let weights = filter.floats()
        var index: [Float: UInt8] = [:]
        for (position, value) in codebook.values.enumerated().reversed() { index[value] = UInt8(position) }
        let blocks = (channels + block - 1) / block
        var packed = [UInt8](repeating: 0, count: blocks * evenDepth * block / 2)
        for channel in 0..<channels {
            let (first, c) = (channel / block * block, channel % block)
            for k in 0..<depth {
                let value = weights[channel * depth + k]
                let nibble = index[value == 0 ? 0 : value] ?? 0
                packed[((first / block) * evenDepth / 2 + k / 2) * block + c] |= nibble << (4 * (k % 2))
            }
        }
        self.depth = depth
        dtype = .float32
        scales = nil
        bytes = packed
        tiles = Self.tiles(channels: channels, depth: evenDepth, laneWidth: laneWidth, padsLastBlock: true)
        self.codebook = codebook
    }
}
