import KilnIR

/// `y[r, n] = act(Σ_{k : w[n, k] ≠ 0} x[r, k] · w[n, k] + b[n])` for a few rows `r`, over a filter's
/// nonzeros in slices of 16 units (``SlicedNonzeros``): each step of a slice gathers one input per
/// unit (a masked gather: a unit past its last nonzero reads nothing) and multiplies it with the
/// unit's weight in the unit's own lane, so a slice's sums come out as vectors, ready for the
/// epilogue. For unstructured pruning, where no block of units shares its zeros.
struct SparseGEMVKernel {
    let emitter: KernelEmitter
    let epilogue: Epilogue
    let rows: Int
    let depth: Int
    let units: Int
    /// Lanes per gather (the level's vector).
    let lanes: Int
    /// Globals: i32 slice starts, i32 counts, i16 or i32 positions, f32 values.
    let sliceStarts: IRValue
    let counts: IRValue
    let positions: IRValue
    let values: IRValue
    /// Whether positions are i16 (depths up to 65,536).
    let hasShortPositions: Bool

    func emit(input: IRValue, output: IRValue) {
        let ir = emitter.ir
        ir.loop("row", from: 0, to: rows) { row in
            let rowInput = ir.gep(ir.f32, input, [emitter.affine(row, times: depth)])
            let rowOutput = emitter.affine(row, times: units)
            emitter.unitSlices(units: units, width: SlicedNonzeros.width) { slice, width in
                let vectors = LaneRun.covering(width, width: lanes).flatMap { run in
                    (0..<run.count).map { (offset: run.start + $0 * run.lanes, lanes: run.lanes) }
                }
                emitter.emitSlice(
                    slice, sliceWidth: width, vectors: vectors, input: rowInput, output: output, outputRow: rowOutput, kernel: self)
            }
        }
    }
}

extension KernelEmitter {
    /// Slice `slice` of `kernel`, `sliceWidth` units wide, as `vectors`: its steps, each vector
    /// gathering its inputs, then the epilogue and the stores.
    fileprivate func emitSlice(
        _ slice: IRValue, sliceWidth: Int, vectors: [(offset: Int, lanes: Int)], input: IRValue, output: IRValue,
        outputRow: IRValue, kernel: SparseGEMVKernel
    ) {
        let positionType = kernel.hasShortPositions ? ir.i16 : ir.i32
        func load(_ table: IRValue, _ index: IRValue) -> IRValue {
            ir.sext(ir.load(ir.i32, from: ir.gep(ir.i32, table, [index]), alignment: 4), to: ir.i64)
        }
        let first = load(kernel.sliceStarts, slice)
        let steps = ir.sdiv(ir.sub(load(kernel.sliceStarts, ir.add(slice, index(1))), first), index(sliceWidth))
        let firstUnit = affine(slice, times: SlicedNonzeros.width)
        let slots = vectors.map { accumulator(vectorType($0.lanes)) }
        let counts = vectors.map { vector in
            ir.load(
                ir.vector(ir.i32, vector.lanes), from: ir.gep(ir.i32, kernel.counts, [ir.add(firstUnit, index(vector.offset))]),
                alignment: 4)
        }
        for (vector, slot) in zip(vectors, slots) {
            let channel = ir.add(firstUnit, index(vector.offset))
            ir.store(kernel.epilogue.initial(self, channel: channel, lanes: vector.lanes), to: slot, alignment: 4)
        }
        ir.loop("step", from: index(0), to: steps) { step in
            let base = ir.add(first, affine(step, times: sliceWidth))
            let stepWord = ir.trunc(step, to: ir.i32)
            for ((vector, slot), count) in zip(zip(vectors, slots), counts) {
                let type = vectorType(vector.lanes)
                let words = ir.vector(ir.i32, vector.lanes)
                let pointers = ir.vector(ir.pointer(to: ir.f32), vector.lanes)
                let gather = ir.intrinsic(
                    "llvm.masked.gather", overloads: [type, pointers], returning: type,
                    parameters: [pointers, ir.i32, ir.vector(ir.i1, vector.lanes), type])
                let offset = ir.add(base, index(vector.offset))
                let raw = ir.load(
                    ir.vector(positionType, vector.lanes), from: ir.gep(positionType, kernel.positions, [offset]), alignment: 2)
                let indices = kernel.hasShortPositions ? ir.zext(raw, to: words) : raw
                let mask = ir.icmp(.slt, ir.broadcast(stepWord, count: vector.lanes), count)
                let x = ir.call(
                    gather.function, type: gather.type,
                    [ir.gep(ir.f32, input, [indices]), ir.constant(4, ir.i32), mask, ir.zero(type)])
                let w = loadVector(kernel.values, offset: offset, lanes: vector.lanes)
                ir.store(fma(x, w, ir.load(type, from: slot, alignment: 4), lanes: vector.lanes), to: slot, alignment: 4)
            }
        }
        for (vector, slot) in zip(vectors, slots) {
            let channel = ir.add(firstUnit, index(vector.offset))
            kernel.epilogue.store(
                self, ir.load(vectorType(vector.lanes), from: slot, alignment: 4), channel: channel, lanes: vector.lanes,
                output: output, offset: ir.add(outputRow, channel))
        }
    }
}
