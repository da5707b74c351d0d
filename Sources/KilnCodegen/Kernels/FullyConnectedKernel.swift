import KilnIR

/// `y[r, n] = act(Σ_k x[r, k] · w[n, k] · scale[n] + b[n])` for every row `r`
/// of the input's leading axes; with ``keptSteps``, `k` runs only over the positions where the
/// block of output channels holding `n` has a nonzero weight.
struct FullyConnectedKernel {
    /// The reduction positions a block-sparse filter keeps (``BlockSparsity``), as globals: block
    /// `b` reads `indices[starts[b] ..< starts[b + 1]]`, and step `t` of them is the packed
    /// filter's reduction step `t`.
    struct KeptSteps {
        /// i32 reduction positions, block after block.
        let indices: IRValue
        /// i32 start of each block's positions in `indices`, then their total.
        let starts: IRValue
    }

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
    /// The steps a block-sparse filter keeps; `nil` for a dense filter.
    var keptSteps: KeptSteps? = nil
    /// For shared weights decoded a chunk of `steps` reduction steps at a time: a stack buffer of
    /// `steps` × the widest tile's columns floats. `nil` decodes each weight vector where it is used.
    var decodeBuffer: (pointer: IRValue, steps: Int)? = nil
    /// Whether a row range computes exactly its rows, whatever its ends: full blocks, then one row
    /// at a time. Otherwise a range's ends must be multiples of `rowsPerBlock` (or the row count),
    /// as thread chunks are, and a block may run past the range's end. A banded chain's layers
    /// (``BandedChain``) are called on the rows of each band.
    var exactRowRange = false

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
        let decodedAccumulators =
            decodeBuffer.map { dot.readingDecoded(from: $0.pointer).makeAccumulators(positions: block) } ?? [:]
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
                /// The blocks of rows of this chunk for reduction steps `firstStep ..< firstStep + steps`.
                func rowBlocks(
                    _ kernel: DotProductKernel, _ slots: [ColumnTile: [[IRValue]]], tileIndex: IRValue, firstStep: IRValue,
                    steps: Int, resumes: Bool = false, finishes: Bool = true
                ) {
                    // Blocks of rows share each weight load; the rows left over make one smaller block.
                    rowEmitter.rowBlocks(
                        from: first, count: size, block: block, exact: exactRowRange, overlapping: decodeBuffer == nil
                    ) { row, step in
                        let rows = (0..<step).map { ir.add(row, emitter.index($0)) }
                        kernel.emitTile(
                            run: run, index: tileIndex, output: output,
                            outputBases: rows.map { emitter.affine($0, times: units) }, accumulators: slots,
                            resumes: resumes, finishes: finishes
                        ) { tap in
                            let sources = rows.map { (pointer: input, offset: ir.add(emitter.affine($0, times: depth), firstStep)) }
                            guard let keptSteps else {
                                return kernel.forEachStep(count: steps, firstStep: emitter.index(0), sources: sources, tap)
                            }
                            // Tiles are one block wide; a run's first tile starts a block.
                            let block = emitter.affine(tileIndex, times: 1, plus: tile.start / PackedFilter.blockColumns)
                            forEachKeptStep(keptSteps, block: block, sources: sources, tap)
                        }
                    }
                }
                tiles { tileIndex in
                    guard let decodeBuffer else {
                        return rowBlocks(dot, accumulators, tileIndex: tileIndex, firstStep: emitter.index(0), steps: depth)
                    }
                    // Shared weights: a chunk of steps at a time decoded into the buffer, then read by
                    // every block of rows like dense weights; the sums wait in the output between chunks.
                    let view = dot.readingDecoded(from: decodeBuffer.pointer)
                    func pass(first: IRValue, count: Int, resumes: Bool, finishes: Bool) {
                        dot.decode(run: run, index: tileIndex, first: first, count: count, into: decodeBuffer.pointer)
                        rowBlocks(
                            view, decodedAccumulators, tileIndex: tileIndex, firstStep: first, steps: count, resumes: resumes,
                            finishes: finishes)
                    }
                    let steps = decodeBuffer.steps
                    let last = (depth - 1) / steps * steps
                    pass(first: emitter.index(0), count: min(steps, depth), resumes: false, finishes: last == 0)
                    ir.loop("steps", from: steps, to: last, step: steps) { first in
                        pass(first: first, count: steps, resumes: true, finishes: false)
                    }
                    if last > 0 { pass(first: emitter.index(last), count: depth - last, resumes: true, finishes: true) }
                }
            }
        }
        ir.loop("chunk", from: 0, to: fullChunks * chunk, step: chunk) { first in emitChunk(first: first, size: chunk) }
        if rows % chunk > 0 { emitChunk(first: emitter.index(fullChunks * chunk), size: rows % chunk) }
    }

    /// Calls `step` once per reduction position `block` keeps, with the step's index in the
    /// packed filter and each source's input at that position.
    private func forEachKeptStep(
        _ steps: KeptSteps, block: IRValue, sources: [(pointer: IRValue, offset: IRValue)],
        _ step: (_ t: IRValue, _ xs: [IRValue]) -> Void
    ) {
        let ir = emitter.ir
        func load(_ table: IRValue, _ index: IRValue) -> IRValue {
            ir.sext(ir.load(ir.i32, from: ir.gep(ir.i32, table, [index]), alignment: 4), to: ir.i64)
        }
        let first = load(steps.starts, block)
        let end = load(steps.starts, ir.add(block, emitter.index(1)))
        ir.loop("kept", from: first, to: end) { t in
            let k = load(steps.indices, t)
            step(t, sources.map { dot.epilogue.tap(emitter, input: $0.pointer, offset: ir.add($0.offset, k)) })
        }
    }
}
