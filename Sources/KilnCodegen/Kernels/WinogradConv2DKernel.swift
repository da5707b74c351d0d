import KilnIR

/// A 3×3 stride-1 float convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin and Gray):
/// each 2×2 block of output pixels (a *tile*) of output channel `o` is
/// `Y = Aᵀ [Σ_c U_oc ⊙ (Bᵀ d_c B)] A`, then the ``Epilogue``, where `d_c` is the tile's 4×4
/// input patch of channel `c` (zeros in the padding), `U_oc = G g_oc Gᵀ` the transformed filter
/// (``WinogradFilter``), `Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]` and
/// `Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]`.
///
/// Per output and input channel that is 4 multiply-adds per pixel instead of 9. Blocks of
/// ``tilesPerBlock`` tiles: the input transform of every channel goes to a stack buffer
/// `[16][tiles][C]`; then, per register tile of output channels, the 16 products
/// `M_ξ = V_ξ · U_ξ` (``products``, blocks of rows sharing each weight load) go to a second
/// buffer, and the output transform turns them into the tiles' pixels. The transforms only add
/// and subtract, so a NaN reaches exactly the pixels whose windows hold it.
struct WinogradConv2DKernel {
    let emitter: KernelEmitter
    /// The products' dot product: position 0's packed filter (position `ξ` lies `ξ · O · C`
    /// elements on) with a plain epilogue.
    let products: DotProductKernel
    /// The layer's epilogue, applied to each output pixel.
    let epilogue: Epilogue
    let input: Shape  // [N, H, W, C]
    let output: Shape  // [N, OH, OW, O]
    /// Padding before the first input row and column.
    let padding: (top: Int, left: Int)
    /// Tiles transformed together, which then share each weight load of the products.
    let tilesPerBlock: Int
    /// `C` float zeros, read where a patch leaves the input.
    let zeroRow: IRValue

    private var ir: IRModule { emitter.ir }
    private var positions: Int { WinogradFilter.positions }

    /// Where a tile is: its batch index and its first output row and column (i64).
    private struct Tile {
        var batch: IRValue
        var row: IRValue
        var column: IRValue
    }

    func emit(input inputPointer: IRValue, output outputPointer: IRValue) {
        let (channels, units) = (input[3], output[3])
        let (tileRows, tileColumns) = ((output[1] + 1) / 2, (output[2] + 1) / 2)
        let tileCount = output[0] * tileRows * tileColumns
        let block = tilesPerBlock
        let widest = products.filter.tiles.map(\.columns).max() ?? 1
        let transformed = emitter.stackBuffer(floats: positions * block * channels)
        let sums = emitter.stackBuffer(floats: positions * block * widest)
        let accumulators = products.makeAccumulators(positions: block)
        /// Row `slot` of position `position`'s products: element offset `row · width` of a buffer.
        func row(_ position: IRValue, _ slot: Int) -> IRValue { emitter.affine(position, times: block, plus: slot) }

        let full = tileCount / block * block
        for (start, end, count) in [(0, full, block), (full, tileCount, tileCount - full)] where end > start {
            emitter.rowLoop("tiles", from: start, to: end, step: count) { first in
                let tiles = (0..<count).map { location(ofTile: ir.add(first, emitter.index($0)), rows: tileRows, columns: tileColumns) }
                for (slot, tile) in tiles.enumerated() {
                    transformInput(tile, slot: slot, from: inputPointer, into: transformed)
                }
                for (run, columnTile) in products.filter.tiles.enumerated() {
                    ir.loop("tile", from: 0, to: columnTile.count) { tileIndex in
                        let firstChannel = emitter.affine(tileIndex, times: columnTile.columns, plus: columnTile.start)
                        ir.loop("position", from: 0, to: positions) { position in
                            let view = products.offsettingWeights(by: emitter.affine(position, times: units * channels))
                            let rows = (0..<count).map { row(position, $0) }
                            // The sums land at column `channel − firstChannel` of their row.
                            view.emitTile(
                                run: run, index: tileIndex, output: sums,
                                outputBases: rows.map { ir.sub(emitter.affine($0, times: widest), firstChannel) },
                                accumulators: accumulators
                            ) { step in
                                view.forEachStep(
                                    count: channels, firstStep: emitter.index(0),
                                    sources: rows.map { (transformed, emitter.affine($0, times: channels)) }, step)
                            }
                        }
                        for (slot, tile) in tiles.enumerated() {
                            transformOutput(
                                tile, slot: slot, columns: columnTile, firstChannel: firstChannel, sums: sums, width: widest,
                                into: outputPointer)
                        }
                    }
                }
            }
        }
    }

    /// Tile `index` of `rows × columns` tiles per batch entry.
    private func location(ofTile index: IRValue, rows: Int, columns: Int) -> Tile {
        let batch = ir.sdiv(index, emitter.index(rows * columns))
        let within = ir.srem(index, emitter.index(rows * columns))
        let row = ir.sdiv(within, emitter.index(columns))
        let column = ir.srem(within, emitter.index(columns))
        return Tile(batch: batch, row: emitter.affine(row, times: 2), column: emitter.affine(column, times: 2))
    }

    /// `V = Bᵀ d B` of every channel of `tile`'s 4×4 input patch, position `ξ` to row
    /// `ξ · tilesPerBlock + slot` of `buffer` (`C` floats per row). A patch inside the input reads
    /// at constant distances from its first pixel; one that crosses the border reads each pixel
    /// through a pointer that points at the zero row where the pixel lies in the padding.
    private func transformInput(_ tile: Tile, slot: Int, from inputPointer: IRValue, into buffer: IRValue) {
        let (height, width, channels) = (input[1], input[2], input[3])
        let rows = (0..<4).map { emitter.affine(tile.row, times: 1, plus: $0 - padding.top) }
        let columns = (0..<4).map { emitter.affine(tile.column, times: 1, plus: $0 - padding.left) }
        let rowsInside = rows.map { emitter.isInRange($0, below: height) }
        let columnsInside = columns.map { emitter.isInRange($0, below: width) }
        // The patch's first pixel; the offset may be negative or past the end, so it is only formed inside.
        let origin = emitter.affine(
            ir.add(emitter.affine(ir.add(emitter.affine(tile.batch, times: height), rows[0]), times: width), columns[0]),
            times: channels)
        let inside = [rowsInside[0], rowsInside[3], columnsInside[0], columnsInside[3]].reduce(ir.constant(1, ir.i1)) { ir.and($0, $1) }
        emitter.ifTrue(inside) {
            let first = ir.gep(ir.f32, inputPointer, [origin])
            let sources = (0..<4).map { i in
                (0..<4).map { j in ir.gep(ir.f32, first, [emitter.index((i * width + j) * channels)]) }
            }
            transformChannels(sources, slot: slot, into: buffer)
        }
        emitter.ifTrue(ir.xor(inside, ir.constant(1, ir.i1))) {
            let zeros = ir.bitcast(zeroRow, to: ir.pointer(to: ir.f32))
            let sources = (0..<4).map { i in
                (0..<4).map { j in
                    let pixelInside = ir.and(rowsInside[i], columnsInside[j])
                    let offset = ir.add(origin, emitter.index((i * width + j) * channels))
                    let clamped = ir.select(pixelInside, offset, emitter.index(0))
                    return ir.select(pixelInside, ir.gep(ir.f32, inputPointer, [clamped]), zeros)
                }
            }
            transformChannels(sources, slot: slot, into: buffer)
        }
    }

    /// The input transform of every channel of the 4×4 patch whose pixels' channels start at `sources`.
    private func transformChannels(_ sources: [[IRValue]], slot: Int, into buffer: IRValue) {
        let channels = input[3]
        for run in LaneRun.covering(channels, width: emitter.laneWidth) {
            ir.loop("channels", from: 0, to: run.count) { index in
                let channel = emitter.affine(index, times: run.lanes, plus: run.start)
                let d = sources.map { $0.map { emitter.loadVector($0, offset: channel, lanes: run.lanes) } }
                // Bᵀ down the columns (t = Bᵀ d, by column), then along the rows (V = t B).
                let t = (0..<4).map { j in
                    [ir.fsub(d[0][j], d[2][j]), ir.fadd(d[1][j], d[2][j]), ir.fsub(d[2][j], d[1][j]), ir.fsub(d[1][j], d[3][j])]
                }
                for i in 0..<4 {
                    let v = [
                        ir.fsub(t[0][i], t[2][i]), ir.fadd(t[1][i], t[2][i]), ir.fsub(t[2][i], t[1][i]),
                        ir.fsub(t[1][i], t[3][i]),
                    ]
                    for (j, value) in v.enumerated() {
                        let row = (i * 4 + j) * tilesPerBlock + slot
                        emitter.storeVector(value, buffer, offset: ir.add(emitter.index(row * channels), channel))
                    }
                }
            }
        }
    }

    /// `Y = Aᵀ M A` of `tile` for the output channels of one register tile (`columns`, from
    /// `firstChannel`), read from `sums` (`width` floats per row), finished by the epilogue and
    /// stored; pixels past the output's last row or column are skipped.
    private func transformOutput(
        _ tile: Tile, slot: Int, columns: ColumnTile, firstChannel: IRValue, sums: IRValue, width: Int,
        into outputPointer: IRValue
    ) {
        let (height, outputWidth, units) = (output[1], output[2], output[3])
        let rowBase = emitter.affine(ir.add(emitter.affine(tile.batch, times: height), tile.row), times: outputWidth)
        for vector in 0..<columns.vectors {
            let lanes = columns.lanes
            let m = (0..<positions).map { position in
                emitter.loadVector(
                    sums, offset: emitter.index((position * tilesPerBlock + slot) * width + vector * lanes), lanes: lanes)
            }
            // Aᵀ down the columns (s = Aᵀ M), then along the rows (Y = s A).
            let s = (0..<4).map { j in
                (ir.fadd(ir.fadd(m[j], m[4 + j]), m[8 + j]), ir.fsub(ir.fsub(m[4 + j], m[8 + j]), m[12 + j]))
            }
            let y = [
                [ir.fadd(ir.fadd(s[0].0, s[1].0), s[2].0), ir.fsub(ir.fsub(s[1].0, s[2].0), s[3].0)],
                [ir.fadd(ir.fadd(s[0].1, s[1].1), s[2].1), ir.fsub(ir.fsub(s[1].1, s[2].1), s[3].1)],
            ]
            let channel = ir.add(firstChannel, emitter.index(vector * lanes))
            // Plain float layers start their sums at the bias; these sums started at zero.
            let bias = epilogue.startsWithBias ? epilogue.initial(emitter, channel: channel, lanes: lanes) : nil
            for i in 0..<2 {
                emitter.ifTrue(emitter.isInRange(ir.add(tile.row, emitter.index(i)), below: height), when: i == 1 && height % 2 == 1) {
                    for j in 0..<2 {
                        let column = ir.add(tile.column, emitter.index(j))
                        emitter.ifTrue(emitter.isInRange(column, below: outputWidth), when: j == 1 && outputWidth % 2 == 1) {
                            let pixel = ir.add(ir.add(rowBase, emitter.index(i * outputWidth)), column)
                            epilogue.store(
                                emitter, bias.map { ir.fadd(y[i][j], $0) } ?? y[i][j], channel: channel, lanes: lanes,
                                output: outputPointer, offset: ir.add(emitter.affine(pixel, times: units), channel))
                        }
                    }
                }
            }
        }
    }
}
