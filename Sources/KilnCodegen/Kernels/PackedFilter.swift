import KilnIR

/// A run of output-channel tiles that share one shape of register block.
///
/// `count` consecutive tiles, each `vectors` vectors of `lanes` lanes wide, starting at
/// output channel `start`. Vector `v` of tile `t` reads its weights for reduction step
/// `k` at element `vectorOffsets[v] + t · tileStride + k · stepStrides[v]` of the packed filter.
struct ColumnTile: Hashable {
    /// First output channel covered.
    var start: Int
    /// Lanes per vector.
    var lanes: Int
    /// Accumulator vectors per tile (the register block's width).
    var vectors: Int
    /// Tiles in the run.
    var count: Int
    /// Where each vector of the run's first tile starts.
    var vectorOffsets: [Int] = []
    /// Elements between a vector's weights for consecutive reduction steps (its block's width).
    var stepStrides: [Int] = []
    /// Elements between consecutive tiles' weights.
    var tileStride = 0

    /// Output channels per tile.
    var columns: Int { lanes * vectors }
}

/// A filter re-laid-out at build time for the tiled dot-product kernels.
///
/// The source filter is `[channels, depth]` (fully-connected `[N, K]`, or OHWI
/// flattened to `[O, KH·KW·I]`). Packed, it is blocks of ``blockColumns`` output
/// channels (the last one narrower), each `[depth][block width]`: one reduction step
/// of a block is one 64-byte cache line of f32 weights. Every register tile is whole
/// blocks (AVX-512's 4 vectors of 16 read 4 blocks side by side, AVX2's 4 vectors of 8
/// read 2, SSE4.1's and NEON's 1), so each vector streams unit-stride, full lines, and the
/// layout does not depend on the vector width: the variants of a portable artifact hold
/// the same bytes, which the linker stores once.
struct PackedFilter {
    /// The tiles covering every output channel, in channel order.
    let tiles: [ColumnTile]
    /// Elements of one reduction step (`depth`).
    let depth: Int
    /// The packed element type (f32, f16, int8, or i32 words of int8 pairs).
    let dtype: DType
    /// Packed little-endian elements.
    let bytes: [UInt8]
    /// Per-channel dequantization scales for int8 filters.
    let scales: [Float]?
    /// For a filter of shared weights packed as 4-bit indices, the values they index.
    var codebook: WeightCodebook? = nil

    /// Accumulator vectors per full-width tile: enough independent FMA chains
    /// to cover FMA latency, few enough to stay in registers.
    static let vectorsPerTile = 4

    /// Output channels per packing block: the widest vector (AVX-512's 16 lanes), which every
    /// narrower vector divides.
    static let blockColumns = 16

    /// A packed filter from its parts.
    init(tiles: [ColumnTile], depth: Int, dtype: DType, bytes: [UInt8], scales: [Float]?) {
        self.tiles = tiles
        self.depth = depth
        self.dtype = dtype
        self.bytes = bytes
        self.scales = scales
    }

    /// Packs `filter` (`[channels, …]`) for register tiles of vectors of `laneWidth` lanes.
    init(_ filter: TensorData, quantization: QuantizationParameters?, laneWidth: Int) {
        let channels = filter.shape[0]
        let depth = channels == 0 ? 0 : filter.elementCount / channels
        self.depth = depth
        dtype = filter.dtype
        // Per-tensor scales are repeated so kernels always load one per channel.
        scales = quantization.map { $0.scales.count == 1 ? Array(repeating: $0.scales[0], count: channels) : $0.scales }

        tiles = Self.tiles(channels: channels, depth: depth, laneWidth: laneWidth)

        let block = Self.blockColumns
        let size = filter.dtype.byteSize
        var packed: [UInt8] = []
        packed.reserveCapacity(filter.bytes.count)
        for first in stride(from: 0, to: channels, by: block) {
            for k in 0..<depth {
                for channel in first..<min(first + block, channels) {
                    let source = (channel * depth + k) * size
                    packed += filter.bytes[source..<(source + size)]
                }
            }
        }
        bytes = packed
    }

    /// The register tiles covering `channels` output channels packed in blocks of
    /// ``blockColumns`` (the last one `channels mod 16` wide, or 16 wide when `padsLastBlock`).
    static func tiles(channels: Int, depth: Int, laneWidth: Int, padsLastBlock: Bool = false) -> [ColumnTile] {
        let block = Self.blockColumns
        /// Where channel `column`'s first weight is, and its block's width.
        func location(_ column: Int) -> (offset: Int, stride: Int) {
            let first = column / block * block
            let width = padsLastBlock ? block : min(block, channels - first)
            return (first * depth + column - first, width)
        }
        func run(start: Int, lanes: Int, vectors: Int, count: Int) -> [ColumnTile] {
            let columns = lanes * vectors
            let locations = (0..<vectors).map { location(start + $0 * lanes) }
            let tileStride = count > 1 ? location(start + columns).offset - locations[0].offset : 0
            // Tiles of one run must sit at one distance from each other; otherwise each is a run of its own.
            let regular = (0..<count).allSatisfy { tile in
                (0..<vectors).allSatisfy { vector in
                    location(start + tile * columns + vector * lanes)
                        == (locations[vector].offset + tile * tileStride, locations[vector].stride)
                }
            }
            guard regular || count == 1 else {
                return (0..<count).flatMap { run(start: start + $0 * columns, lanes: lanes, vectors: vectors, count: 1) }
            }
            return [
                ColumnTile(
                    start: start, lanes: lanes, vectors: vectors, count: count, vectorOffsets: locations.map(\.offset),
                    stepStrides: locations.map(\.stride), tileStride: tileStride)
            ]
        }
        var tiles: [ColumnTile] = []
        let tileColumns = laneWidth * Self.vectorsPerTile
        let fullTiles = channels / tileColumns
        if fullTiles > 0 {
            tiles += run(start: 0, lanes: laneWidth, vectors: Self.vectorsPerTile, count: fullTiles)
        }
        let covered = fullTiles * tileColumns
        for leftover in LaneRun.covering(channels - covered, width: laneWidth) {
            // Leftover full-width vectors form one narrower block; narrower lanes go one vector per tile.
            let start = covered + leftover.start
            tiles += leftover.lanes == laneWidth
                ? run(start: start, lanes: leftover.lanes, vectors: leftover.count, count: 1)
                : run(start: start, lanes: leftover.lanes, vectors: 1, count: leftover.count)
        }
        return tiles
    }
}
