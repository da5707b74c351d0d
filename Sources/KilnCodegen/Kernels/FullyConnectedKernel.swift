import KilnIR

/// `y[r, n] = act(Σ_k x[r, k] · w[n, k] · scale[n] + b[n])` for every row `r`
/// of the input's leading axes.
struct FullyConnectedKernel {
    let emitter: KernelEmitter
    let dot: DotProductKernel
    let rows: Int
    let depth: Int
    let units: Int
    /// Rows that share each weight load.
    let rowsPerBlock: Int
    /// Whether the emitter's ``KernelEmitter/rowRange`` is a range of output channels (whole
    /// tiles of the filter's first run; the narrower runs go with the range's last chunk)
    /// rather than of rows.
    var splitsOutputChannels = false

    /// Bytes of input rows worked on together: each tile's packed weights are
    /// reused across all of them while they stay in the L2 cache.
    static let chunkBytes = 256 * 1024

    func emit(input: IRValue, output: IRValue) {
        let ir = emitter.ir
        // Output-channel splits: the rows run whole, the first run's tiles and the rest are clamped.
        var rowEmitter = emitter
        var channels: (begin: IRValue, end: IRValue)?
        if splitsOutputChannels, let range = emitter.rowRange {
            rowEmitter.rowRange = nil
            channels = range
        }
        let block = rowsPerBlock
        let accumulators = dot.makeAccumulators(positions: block)
        let elementBytes = dot.epilogue.isQuantized ? 1 : 4
        // Chunks of rows, tiles of output channels within a chunk, blocks of rows within a tile
        // (GotoBLAS's loop order): a tile's weights are loaded from cache once per block.
        let chunk = max(block, Self.chunkBytes / max(depth * elementBytes, 1) / block * block)
        let fullChunks = rows / chunk
        func emitChunk(first: IRValue, size: Int) {
            for (run, tile) in dot.filter.tiles.enumerated() {
                func tiles(_ body: (IRValue) -> Void) {
                    guard let channels else { return ir.loop("tile", from: 0, to: tile.count, body: body) }
                    if run == 0 {
                        // Chunk ends are multiples of the first run's tile width, except the last (all channels).
                        let width = emitter.index(tile.columns)
                        var tileEmitter = emitter
                        tileEmitter.rowRange = (ir.sdiv(channels.begin, width), ir.sdiv(channels.end, width))
                        tileEmitter.rowLoop("tile", from: 0, to: tile.count, body: body)
                    } else {
                        emitter.ifTrue(ir.icmp(.sge, channels.end, emitter.index(units))) {
                            ir.loop("tile", from: 0, to: tile.count, body: body)
                        }
                    }
                }
                tiles { tileIndex in
                    // Blocks of rows share each weight load; the rows left over make one smaller block.
                    let blocked = size / block * block
                    for (start, end, step) in [(0, blocked, block), (blocked, size, size - blocked)] where end > start {
                        rowEmitter.rowLoop("row", from: ir.add(first, emitter.index(start)), to: ir.add(first, emitter.index(end)), step: step) { row in
                            let rows = (0..<step).map { ir.add(row, emitter.index($0)) }
                            dot.emitTile(
                                run: run, index: tileIndex, output: output,
                                outputBases: rows.map { emitter.affine($0, times: units) }, accumulators: accumulators
                            ) { tap in
                                dot.forEachStep(
                                    count: depth, firstStep: emitter.index(0),
                                    sources: rows.map { (input, emitter.affine($0, times: depth)) }, tap)
                            }
                        }
                    }
                }
            }
        }
        ir.loop("chunk", from: 0, to: fullChunks * chunk, step: chunk) { first in emitChunk(first: first, size: chunk) }
        if rows % chunk > 0 { emitChunk(first: emitter.index(fullChunks * chunk), size: rows % chunk) }
    }
}
