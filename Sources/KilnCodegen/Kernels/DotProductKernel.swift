import KilnIR

/// The register-blocked dot product shared by fully-connected and convolution
/// kernels: for one output position and one tile of output channels,
/// `acc[c] += x[k] · w[k, c]` over the reduction, then the ``Epilogue`` and
/// one store per vector. Float and int8 layers share it; the epilogue decides
/// the arithmetic.
struct DotProductKernel {
    let emitter: KernelEmitter
    let filter: PackedFilter
    /// The packed filter global.
    let weights: IRValue
    let epilogue: Epilogue

    private var ir: IRModule { emitter.ir }

    /// The IR element type of the packed filter.
    var weightType: IRType {
        switch filter.dtype {
        case .float16: ir.f16
        case .int8: ir.i8
        default: ir.f32
        }
    }

    /// Emits all channel tiles for a block of output positions that share every weight load.
    ///
    /// - Parameters:
    ///   - output: the result buffer; channel `c` of position `p` goes to element `outputBases[p] + c`.
    ///   - accumulators: slots from ``makeAccumulators(positions:)`` for at least `outputBases.count` positions.
    ///   - reduction: emits the reduction loops, calling its argument once per
    ///     tap with the tap's depth index `k` (i64) and each position's input
    ///     value (f32, or i32 already centered on the zero point).
    func emitPositions(
        output: IRValue, outputBases: [IRValue], accumulators: [ColumnTile: [[IRValue]]],
        reduction: ((_ k: IRValue, _ xs: [IRValue]) -> Void) -> Void
    ) {
        for (run, tile) in filter.tiles.enumerated() {
            ir.loop("tile", from: 0, to: tile.count) { tileIndex in
                emitTile(
                    run: run, index: tileIndex, output: output, outputBases: outputBases, accumulators: accumulators,
                    reduction: reduction)
            }
        }
    }

    /// Emits tile `index` of tile run `run` for a block of output positions: the
    /// starting values, the reduction, the epilogue and the stores.
    func emitTile(
        run: Int, index tileIndex: IRValue, output: IRValue, outputBases: [IRValue],
        accumulators: [ColumnTile: [[IRValue]]], reduction: ((_ k: IRValue, _ xs: [IRValue]) -> Void) -> Void
    ) {
        let tile = filter.tiles[run]
        guard let allSlots = accumulators[tile] else { return }
        let slots = Array(allSlots.prefix(outputBases.count))
        let type = epilogue.accumulatorType(emitter, lanes: tile.lanes)
        let tileBase = emitter.affine(tileIndex, times: filter.depth * tile.columns, plus: filter.runOffsets[run])
        let firstChannel = emitter.affine(tileIndex, times: tile.columns, plus: tile.start)
        for position in slots {
            for (vector, slot) in position.enumerated() {
                let channel = ir.add(firstChannel, emitter.index(vector * tile.lanes))
                ir.store(epilogue.initial(emitter, channel: channel, lanes: tile.lanes), to: slot, alignment: 4)
            }
        }
        reduction { k, xs in
            let broadcasts = xs.map { ir.broadcast($0, count: tile.lanes) }
            let stepBase = ir.add(tileBase, ir.mul(k, emitter.index(tile.columns)))
            for vector in 0..<tile.vectors {
                let offset = ir.add(stepBase, emitter.index(vector * tile.lanes))
                let w = epilogue.weights(emitter, weights, weightType: weightType, offset: offset, lanes: tile.lanes)
                for (position, broadcast) in broadcasts.enumerated() {
                    let slot = slots[position][vector]
                    let sum = epilogue.multiplyAdd(
                        emitter, broadcast, w, ir.load(type, from: slot, alignment: 4), lanes: tile.lanes)
                    ir.store(sum, to: slot, alignment: 4)
                }
            }
        }
        for (position, outputBase) in outputBases.enumerated() {
            for (vector, slot) in slots[position].enumerated() {
                let channel = ir.add(firstChannel, emitter.index(vector * tile.lanes))
                epilogue.store(
                    emitter, ir.load(type, from: slot, alignment: 4), channel: channel, lanes: tile.lanes,
                    output: output, offset: ir.add(outputBase, channel))
            }
        }
    }

    /// One accumulator slot per vector of each tile shape and per position,
    /// allocated once per node function.
    func makeAccumulators(positions: Int = 1) -> [ColumnTile: [[IRValue]]] {
        var result: [ColumnTile: [[IRValue]]] = [:]
        for tile in filter.tiles {
            result[tile] = (0..<positions).map { _ in
                (0..<tile.vectors).map { _ in emitter.accumulator(epilogue.accumulatorType(emitter, lanes: tile.lanes)) }
            }
        }
        return result
    }
}
