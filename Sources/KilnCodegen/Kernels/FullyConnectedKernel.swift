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

    /// Bytes of input rows worked on together: each tile's packed weights are
    /// reused across all of them while they stay in the L2 cache.
    static let chunkBytes = 256 * 1024

    func emit(input: IRValue, output: IRValue) {
        let ir = emitter.ir
        let block = rowsPerBlock
        let accumulators = dot.makeAccumulators(positions: block)
        let elementBytes = dot.epilogue.isQuantized ? 1 : 4
        // Chunks of rows, tiles of output channels within a chunk, blocks of rows within a tile
        // (GotoBLAS's loop order): a tile's weights are loaded from cache once per block.
        let chunk = max(block, Self.chunkBytes / max(depth * elementBytes, 1) / block * block)
        let fullChunks = rows / chunk
        func emitChunk(first: IRValue, size: Int) {
            for (run, tile) in dot.filter.tiles.enumerated() {
                ir.loop("tile", from: 0, to: tile.count) { tileIndex in
                    // Blocks of rows share each weight load; the rows left over make one smaller block.
                    let blocked = size / block * block
                    for (start, end, step) in [(0, blocked, block), (blocked, size, size - blocked)] where end > start {
                        emitter.rowLoop("row", from: ir.add(first, emitter.index(start)), to: ir.add(first, emitter.index(end)), step: step) { row in
                            let rows = (0..<step).map { ir.add(row, emitter.index($0)) }
                            dot.emitTile(
                                run: run, index: tileIndex, output: output,
                                outputBases: rows.map { emitter.affine($0, times: units) }, accumulators: accumulators
                            ) { tap in
                                ir.loop("k", from: 0, to: depth) { k in
                                    tap(k, rows.map { dot.epilogue.tap(emitter, input: input, offset: ir.add(emitter.affine($0, times: depth), k)) })
                                }
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
