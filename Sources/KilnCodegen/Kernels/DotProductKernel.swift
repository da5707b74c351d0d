import KilnIR

/// The register-blocked dot product shared by fully-connected and convolution
/// kernels: for one output position and one tile of output channels,
/// `acc[c] += x[k] · w[k, c]` over the reduction, then the ``Epilogue`` and
/// one store per vector. Float and int8 layers share it; the epilogue decides
/// the arithmetic.
///
/// With ``pairwise`` (int8 on x86 without `vpdpbusd`), each reduction step is a
/// pair of depth indices: the filter is packed ``PackedFilter/init(pairing:taps:quantization:lanes:)``,
/// each position's input is a ``KernelEmitter/centeredPair(_:offset:zeroPoint:count:)``, and
/// one `pmaddwd` adds both products into each i32 lane.
struct DotProductKernel {
    let emitter: KernelEmitter
    private(set) var filter: PackedFilter
    /// The packed filter global.
    private(set) var weights: IRValue
    let epilogue: Epilogue
    /// How pairs of int8 products are formed, for filters packed in pairs.
    var pairwise: KernelChoice.PairwiseMultiply? = nil
    /// Each output channel's starting sum, `bias − zx·Σw` (int8 layers that fold the input's zero
    /// point in, so inputs are multiplied as they are); the epilogue's then.
    var initialSums: IRValue? = nil
    /// For a filter of shared weights packed as 4-bit indices, the global of the 16 values they index.
    var codebook: IRValue? = nil

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
    ///     value (f32, or i32 already centered on the zero point; with ``pairwise``,
    ///     `k` counts pairs and each value is a centered pair).
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
    /// starting values, the reduction, the epilogue and the stores. A reduction in several
    /// passes (float layers only) `resumes` from the sums an earlier pass stored in the output
    /// and, unless it `finishes`, stores its sums there as they are.
    func emitTile(
        run: Int, index tileIndex: IRValue, output: IRValue, outputBases: [IRValue],
        accumulators: [ColumnTile: [[IRValue]]], resumes: Bool = false, finishes: Bool = true,
        reduction: ((_ k: IRValue, _ xs: [IRValue]) -> Void) -> Void
    ) {
        let tile = filter.tiles[run]
        guard let allSlots = accumulators[tile] else { return }
        let slots = Array(allSlots.prefix(outputBases.count))
        let type = epilogue.accumulatorType(emitter, lanes: tile.lanes)
        let vectorBases = tile.vectorOffsets.map { emitter.affine(tileIndex, times: tile.tileStride, plus: $0) }
        let firstChannel = emitter.affine(tileIndex, times: tile.columns, plus: tile.start)
        for (position, outputBase) in zip(slots, outputBases) {
            for (vector, slot) in position.enumerated() {
                let channel = ir.add(firstChannel, emitter.index(vector * tile.lanes))
                let start =
                    resumes
                    ? emitter.loadVector(output, offset: ir.add(outputBase, channel), lanes: tile.lanes)
                    : initialSums.map {
                        ir.load(ir.vector(ir.i32, tile.lanes), from: ir.gep(ir.i32, $0, [channel]), alignment: 4)
                    }
                ir.store(start ?? epilogue.initial(emitter, channel: channel, lanes: tile.lanes), to: slot, alignment: 4)
            }
        }
        let multiplyAdd = pairwise.map { pairsMultiplyAdd($0, lanes: tile.lanes) }
        reduction { k, xs in
            let broadcasts = xs.map { ir.broadcast($0, count: tile.lanes) }
            for vector in 0..<tile.vectors {
                let offset = ir.add(vectorBases[vector], ir.mul(k, emitter.index(tile.stepStrides[vector])))
                let w =
                    if multiplyAdd != nil {
                        ir.load(type, from: ir.gep(ir.i32, weights, [offset]), alignment: 4)
                    } else if let codebook {
                        emitter.codebookWeights(weights, table: codebook, offset: offset, lanes: tile.lanes)
                    } else {
                        epilogue.weights(emitter, weights, weightType: weightType, offset: offset, lanes: tile.lanes)
                    }
                for (position, broadcast) in broadcasts.enumerated() {
                    let slot = slots[position][vector]
                    let accumulator = ir.load(type, from: slot, alignment: 4)
                    let sum = multiplyAdd?(accumulator, broadcast, w)
                        ?? epilogue.multiplyAdd(emitter, broadcast, w, accumulator, lanes: tile.lanes)
                    ir.store(sum, to: slot, alignment: 4)
                }
            }
        }
        // Every value is finished before any is stored: a fused residual add's loads placed between
        // the tile's stores waited on them (4 µs of a 14.5 µs layer).
        var finished: [(value: IRValue, offset: IRValue)] = []
        for (position, outputBase) in outputBases.enumerated() {
            for (vector, slot) in slots[position].enumerated() {
                let channel = ir.add(firstChannel, emitter.index(vector * tile.lanes))
                guard finishes else {
                    emitter.storeVector(ir.load(type, from: slot, alignment: 4), output, offset: ir.add(outputBase, channel))
                    continue
                }
                let offset = ir.add(outputBase, channel)
                let sums = ir.load(type, from: slot, alignment: 4)
                finished.append((epilogue.finished(emitter, sums, channel: channel, lanes: tile.lanes, offset: offset), offset))
            }
        }
        for (value, offset) in finished {
            epilogue.storeFinished(emitter, value, lanes: tile.lanes, output: output, offset: offset)
        }
    }

    /// This kernel reading its packed weights `elements` further into the filter global: the next
    /// of several filters packed alike one after another.
    func offsettingWeights(by elements: IRValue) -> DotProductKernel {
        var view = self
        view.weights = ir.gep(weightType, weights, [elements])
        return view
    }

    /// This kernel reading its weights from `buffer`, where ``decode(run:index:steps:into:)`` left
    /// a tile's weights for some reduction steps as floats: `[step][tile columns]`.
    func readingDecoded(from buffer: IRValue) -> DotProductKernel {
        var view = self
        view.codebook = nil
        view.weights = buffer
        view.filter = PackedFilter(
            tiles: filter.tiles.map { tile in
                var decoded = tile
                decoded.vectorOffsets = (0..<tile.vectors).map { $0 * tile.lanes }
                decoded.stepStrides = Array(repeating: tile.columns, count: tile.vectors)
                decoded.tileStride = 0
                return decoded
            }, depth: filter.depth, dtype: .float32, bytes: [], scales: nil)
        return view
    }

    /// Decodes the shared weights of tile `index` of run `run` for reduction steps
    /// `first ..< first + count` into `buffer` as floats, `[step][tile columns]`.
    func decode(run: Int, index tileIndex: IRValue, first: IRValue, count: Int, into buffer: IRValue) {
        guard let codebook else { return }
        let tile = filter.tiles[run]
        let vectorBases = tile.vectorOffsets.map { emitter.affine(tileIndex, times: tile.tileStride, plus: $0) }
        ir.loop("decode", from: 0, to: count) { k in
            let step = ir.add(first, k)
            for vector in 0..<tile.vectors {
                let offset = ir.add(vectorBases[vector], ir.mul(step, emitter.index(tile.stepStrides[vector])))
                let w = emitter.codebookWeights(weights, table: codebook, offset: offset, lanes: tile.lanes)
                emitter.storeVector(w, buffer, offset: emitter.affine(k, times: tile.columns, plus: vector * tile.lanes))
            }
        }
    }

    /// `sums + pairs(x · w)` for vectors of `lanes` i32 words of i16 pairs: the ISA's multiply
    /// where a vector is at least 128 bits, and the same arithmetic spelled out on narrower
    /// leftover tiles (which LLVM matches to `pmaddwd` on a part of a register).
    private func pairsMultiplyAdd(_ multiply: KernelChoice.PairwiseMultiply, lanes: Int)
        -> (IRValue, IRValue, IRValue) -> IRValue
    {
        if lanes >= 4 { return emitter.pairwiseMultiplyAdd(multiply, lanes: 2 * lanes) }
        let halves = ir.vector(ir.i16, 2 * lanes)
        let wide = ir.vector(ir.i32, 2 * lanes)
        return { sums, x, w in
            let products = ir.mul(ir.sext(ir.bitcast(x, to: halves), to: wide), ir.sext(ir.bitcast(w, to: halves), to: wide))
            let even = ir.shuffle(products, products, mask: (0..<lanes).map { 2 * $0 })
            let odd = ir.shuffle(products, products, mask: (0..<lanes).map { 2 * $0 + 1 })
            return ir.add(sums, ir.add(even, odd))
        }
    }

    /// Calls `step` once per reduction step over `count` consecutive input elements starting at
    /// each position's source (a pointer and an element offset), passing the step's index from
    /// `firstStep`: one per element, or with ``pairwise`` one per pair, an odd last element
    /// paired with zero.
    func forEachStep(
        count: Int, firstStep: IRValue, sources: [(pointer: IRValue, offset: IRValue)],
        _ step: (_ k: IRValue, _ xs: [IRValue]) -> Void
    ) {
        guard pairwise != nil, let inputZeroPoint = epilogue.inputZeroPoint else {
            func emitStep(_ k: IRValue) {
                step(ir.add(firstStep, k), sources.map { epilogue.tap(emitter, input: $0.pointer, offset: ir.add($0.offset, k)) })
            }
            // Two steps of shared weights share one load of indices: steps in pairs let LLVM see it.
            guard codebook != nil, count >= 2 else { return ir.loop("k", from: 0, to: count, body: emitStep) }
            ir.loop("k", from: 0, to: count / 2 * 2, step: 2) { k in
                emitStep(k)
                emitStep(ir.add(k, emitter.index(1)))
            }
            if count % 2 == 1 { emitStep(emitter.index(count - 1)) }
            return
        }
        // With starting sums that hold `−zx·Σw`, inputs are multiplied uncentered.
        let zeroPoint = initialSums == nil ? inputZeroPoint : 0
        func pair(at index: IRValue, count: Int) -> [IRValue] {
            sources.map { emitter.centeredPair($0.pointer, offset: ir.add($0.offset, index), zeroPoint: zeroPoint, count: count) }
        }
        ir.loop("pair", from: 0, to: count / 2) { index in
            step(ir.add(firstStep, index), pair(at: emitter.affine(index, times: 2), count: 2))
        }
        if count % 2 == 1 {
            step(ir.add(firstStep, emitter.index(count / 2)), pair(at: emitter.index(count - 1), count: 1))
        }
    }

    /// Reduction steps of `count` input elements: `count`, or its pairs with ``pairwise``.
    func steps(_ count: Int) -> Int { pairwise == nil ? count : (count + 1) / 2 }

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
