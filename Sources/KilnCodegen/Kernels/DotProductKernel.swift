import KilnIR

/// The register-blocked dot product shared by fully-connected and convolution
/// kernels: for one output position and one tile of output channels,
/// `acc[c] += x[k] · w[k, c]` over the reduction, then the epilogue
/// (dequantization scale, bias, activation) and one store per vector.
struct DotProductKernel {
    let emitter: KernelEmitter
    let filter: PackedFilter
    /// The packed filter global.
    let weights: IRValue
    /// Per-channel f32 scales global, for int8 filters.
    let scales: IRValue?
    /// f32 bias global, if any.
    let bias: IRValue?
    let activation: Activation?

    private var ir: IRModule { emitter.ir }

    /// The IR element type of the packed filter.
    var weightType: IRType {
        switch filter.dtype {
        case .float16: ir.f16
        case .int8: ir.i8
        default: ir.f32
        }
    }

    /// Emits all channel tiles for one output position.
    ///
    /// - Parameters:
    ///   - output: the f32 result buffer; channel `c` goes to `outputBase + c`.
    ///   - reduction: emits the reduction loops, calling its argument once per
    ///     tap with the tap's depth index `k` (i64) and input value (f32).
    func emitPosition(
        output: IRValue, outputBase: IRValue, accumulators: [ColumnTile: [IRValue]],
        reduction: ((_ k: IRValue, _ x: IRValue) -> Void) -> Void
    ) {
        for (run, tile) in filter.tiles.enumerated() {
            guard let slots = accumulators[tile] else { continue }
            ir.loop("tile", from: 0, to: tile.count) { tileIndex in
                let tileBase = emitter.affine(
                    tileIndex, times: filter.depth * tile.columns, plus: filter.runOffsets[run])
                for slot in slots { ir.store(emitter.splat(0, lanes: tile.lanes), to: slot, alignment: 4) }
                reduction { k, x in
                    let broadcast = ir.broadcast(x, count: tile.lanes)
                    let stepBase = ir.add(tileBase, ir.mul(k, emitter.index(tile.columns)))
                    for (vector, slot) in slots.enumerated() {
                        let offset = ir.add(stepBase, emitter.index(vector * tile.lanes))
                        let w = emitter.loadVector(weights, elementType: weightType, offset: offset, lanes: tile.lanes)
                        let type = emitter.vectorType(tile.lanes)
                        let sum = emitter.fma(broadcast, w, ir.load(type, from: slot, alignment: 4), lanes: tile.lanes)
                        ir.store(sum, to: slot, alignment: 4)
                    }
                }
                let firstChannel = emitter.affine(tileIndex, times: tile.columns, plus: tile.start)
                for (vector, slot) in slots.enumerated() {
                    let channel = ir.add(firstChannel, emitter.index(vector * tile.lanes))
                    var value = ir.load(emitter.vectorType(tile.lanes), from: slot, alignment: 4)
                    if let scales { value = ir.fmul(value, emitter.loadVector(scales, offset: channel, lanes: tile.lanes)) }
                    if let bias { value = ir.fadd(value, emitter.loadVector(bias, offset: channel, lanes: tile.lanes)) }
                    value = emitter.activate(value, activation, lanes: tile.lanes)
                    emitter.storeVector(value, output, offset: ir.add(outputBase, channel))
                }
            }
        }
    }

    /// One accumulator slot per vector of each tile shape, allocated once per node function.
    func makeAccumulators() -> [ColumnTile: [IRValue]] {
        var result: [ColumnTile: [IRValue]] = [:]
        for tile in filter.tiles {
            result[tile] = (0..<tile.vectors).map { _ in emitter.accumulator(emitter.vectorType(tile.lanes)) }
        }
        return result
    }
}
