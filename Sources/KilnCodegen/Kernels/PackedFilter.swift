import KilnIR

/// A run of output-channel tiles that share one shape of register block.
///
/// `count` consecutive tiles, each `vectors` vectors of `lanes` f32 lanes
/// wide, starting at output channel `start`.
struct ColumnTile: Hashable {
    /// First output channel covered.
    var start: Int
    /// Lanes per vector.
    var lanes: Int
    /// Accumulator vectors per tile (the register block's width).
    var vectors: Int
    /// Tiles in the run.
    var count: Int
    /// Output channels per tile.
    var columns: Int { lanes * vectors }
}

/// A filter re-laid-out at build time for the tiled dot-product kernels.
///
/// The source filter is `[channels, depth]` (fully-connected `[N, K]`, or OHWI
/// flattened to `[O, KH·KW·I]`). Packed, each tile stores `[depth][vectors][lanes]`
/// contiguously, so the kernel streams it with unit-stride vector loads and
/// every loaded vector feeds one accumulator.
struct PackedFilter {
    /// The tiles covering every output channel, in channel order.
    let tiles: [ColumnTile]
    /// Element offset of each tile run's first tile in `bytes`.
    let runOffsets: [Int]
    /// Elements of one reduction step (`depth`).
    let depth: Int
    /// The packed element type (f32, f16 or int8).
    let dtype: DType
    /// Packed little-endian elements.
    let bytes: [UInt8]
    /// Per-channel dequantization scales for int8 filters.
    let scales: [Float]?

    /// Accumulator vectors per full-width tile: enough independent FMA chains
    /// to cover FMA latency, few enough to stay in registers.
    static let vectorsPerTile = 4

    /// Packs `filter` (`[channels, …]`) for vectors of `laneWidth` f32 lanes.
    init(_ filter: TensorData, quantization: QuantizationParameters?, laneWidth: Int) {
        let channels = filter.shape[0]
        depth = channels == 0 ? 0 : filter.elementCount / channels
        dtype = filter.dtype
        // Per-tensor scales are repeated so kernels always load one per channel.
        scales = quantization.map { $0.scales.count == 1 ? Array(repeating: $0.scales[0], count: channels) : $0.scales }

        var tiles: [ColumnTile] = []
        let blockColumns = laneWidth * Self.vectorsPerTile
        let fullTiles = channels / blockColumns
        if fullTiles > 0 {
            tiles.append(ColumnTile(start: 0, lanes: laneWidth, vectors: Self.vectorsPerTile, count: fullTiles))
        }
        let covered = fullTiles * blockColumns
        for run in LaneRun.covering(channels - covered, width: laneWidth) {
            // Leftover full-width vectors form one narrower block; narrower lanes go one vector per tile.
            let start = covered + run.start
            if run.lanes == laneWidth {
                tiles.append(ColumnTile(start: start, lanes: run.lanes, vectors: run.count, count: 1))
            } else {
                tiles.append(ColumnTile(start: start, lanes: run.lanes, vectors: 1, count: run.count))
            }
        }
        self.tiles = tiles

        let size = filter.dtype.byteSize
        var packed = [UInt8](repeating: 0, count: filter.bytes.count)
        var offsets: [Int] = []
        var element = 0
        for tile in tiles {
            offsets.append(element)
            for index in 0..<tile.count {
                for k in 0..<depth {
                    for column in 0..<tile.columns {
                        let channel = tile.start + index * tile.columns + column
                        let source = (channel * depth + k) * size
                        for byte in 0..<size { packed[element * size + byte] = filter.bytes[source + byte] }
                        element += 1
                    }
                }
            }
        }
        runOffsets = offsets
        bytes = packed
    }
}
