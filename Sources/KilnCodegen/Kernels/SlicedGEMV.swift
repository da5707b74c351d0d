import KilnIR

/// The outer loops of the matrix-vector kernels whose every slice of ``lanes`` units comes out as
/// one vector of sums (``SemiStructuredSparseGEMVKernel``, ``CodebookGEMVKernel``): the slices of
/// the thread's range of units, each over every row, then the bias, the epilogue and the stores.
struct SlicedGEMV {
    let emitter: KernelEmitter
    let epilogue: Epilogue
    let rows: Int
    let depth: Int
    let units: Int
    /// Units per slice: one vector.
    let lanes: Int

    /// Independent accumulators a slice's steps take in turn, so consecutive multiply-adds do not
    /// wait on each other.
    static let accumulators = 4

    /// Emits the layer; `sums(slice, row)` emits the sums of slice `slice` (an i64 index) over the
    /// row that starts at `row` (a float pointer), lanes past the last unit whatever they hold.
    func emit(input: IRValue, output: IRValue, sums: (IRValue, IRValue) -> IRValue) {
        emitter.unitSlices(units: units, width: lanes) { slice, width in
            emitSlice(slice, width: width, input: input, output: output, sums: sums)
        }
    }

    /// Slice `slice`, `width` units wide, for every row (the slice's weights stay in L1 for the
    /// rows after the first): its sums, then the epilogue; every value finished before any store.
    private func emitSlice(
        _ slice: IRValue, width: Int, input: IRValue, output: IRValue, sums: (IRValue, IRValue) -> IRValue
    ) {
        let ir = emitter.ir
        let firstUnit = emitter.affine(slice, times: lanes)
        ir.loop("row", from: 0, to: rows) { row in
            let total = sums(slice, ir.gep(ir.f32, input, [emitter.affine(row, times: depth)]))
            let rowOutput = emitter.affine(row, times: units)
            var finished: [(value: IRValue, lanes: Int, offset: IRValue)] = []
            for run in LaneRun.covering(width, width: lanes) {
                for piece in 0..<run.count {
                    let start = run.start + piece * run.lanes
                    let part = run.lanes < lanes ? ir.shuffle(total, total, mask: Array(start..<(start + run.lanes))) : total
                    let channel = ir.add(firstUnit, emitter.index(start))
                    let value = ir.fadd(epilogue.initial(emitter, channel: channel, lanes: run.lanes), part)
                    let offset = ir.add(rowOutput, channel)
                    finished.append(
                        (epilogue.finished(emitter, value, channel: channel, lanes: run.lanes, offset: offset), run.lanes, offset))
                }
            }
            for (value, lanes, offset) in finished {
                epilogue.storeFinished(emitter, value, lanes: lanes, output: output, offset: offset)
            }
        }
    }

    /// ``accumulators`` zeroed vector slots.
    func zeroedAccumulators() -> [IRValue] {
        let vector = emitter.vectorType(lanes)
        let slots = (0..<Self.accumulators).map { _ in emitter.accumulator(vector) }
        for slot in slots { emitter.ir.store(emitter.ir.zero(vector), to: slot, alignment: 4) }
        return slots
    }

    /// `slot += a · b`.
    func multiplyAdd(_ a: IRValue, _ b: IRValue, into slot: IRValue) {
        let ir = emitter.ir
        let vector = emitter.vectorType(lanes)
        ir.store(emitter.fma(a, b, ir.load(vector, from: slot, alignment: 4), lanes: lanes), to: slot, alignment: 4)
    }

    /// The sum of the accumulators.
    func total(_ slots: [IRValue]) -> IRValue {
        let ir = emitter.ir
        let sums = slots.map { ir.load(emitter.vectorType(lanes), from: $0, alignment: 4) }
        return ir.fadd(ir.fadd(sums[0], sums[1]), ir.fadd(sums[2], sums[3]))
    }
}
