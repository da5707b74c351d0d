import KilnIR

/// `y[r, n] = act(Σ_{k : w[n, k] ≠ 0} x[r, k] · w[n, k] + b[n])` for a few rows `r`, over a filter's
/// nonzeros in slices of 16 units (``ChunkedNonzeros``). Each row is first staged on the stack in
/// chunks of 31 inputs (consecutive, or every `n`-th, gathered) and a zero; each pair of steps then loads one chunk (two vectors, from L1),
/// picks each unit's input from it with one `vpermi2ps` per step and multiplies it with the
/// unit's weight in the unit's own lane, so a slice's sums come out as one vector. Four
/// accumulators take the steps in turn. A group's four slices hold its 64 units in the order
/// that pads least (``ChunkedNonzeros/sources``): their sums go to the stack, and each vector of
/// 16 units in order is picked back out of them with two permutes and a blend, then gets its
/// starting sums (the bias) and the epilogue. AVX-512 only: for unstructured pruning, where a
/// gather would cost several times more.
struct PermutedSparseGEMVKernel {
    let emitter: KernelEmitter
    let epilogue: Epilogue
    let rows: Int
    let depth: Int
    let units: Int
    /// Globals: i32 slice starts, i32 pair bases, u8 positions, f32 values, u8 sources.
    let sliceStarts: IRValue
    let bases: IRValue
    let positions: IRValue
    let values: IRValue
    let sources: IRValue
    /// Whether rows are staged strided (``ChunkedNonzeros/isStrided``).
    let isStrided: Bool

    private static let lanes = ChunkedNonzeros.width

    /// Floats of the stack buffer a row is staged into.
    static func stagedFloats(depth: Int) -> Int { ChunkedNonzeros.stagedChunks(depth: depth) * ChunkedNonzeros.chunk }

    func emit(input: IRValue, output: IRValue) {
        let ir = emitter.ir
        let staged = emitter.stackBuffer(floats: Self.stagedFloats(depth: depth))
        let sums = emitter.stackBuffer(floats: ChunkedNonzeros.groupUnits)
        ir.loop("row", from: 0, to: rows) { row in
            let rowInput = ir.gep(ir.f32, input, [emitter.affine(row, times: depth)])
            if isStrided { stageStrided(row: rowInput, into: staged) } else { stage(row: rowInput, into: staged) }
            let rowOutput = emitter.affine(row, times: units)
            // Channel splits cover whole groups.
            emitter.unitSlices(units: units, width: ChunkedNonzeros.groupUnits) { group, width in
                emitGroup(group, width: width, staged: staged, sums: sums, output: output, outputRow: rowOutput)
            }
        }
    }

    /// Group `group`, `width` units wide (64, or fewer for the last): each slice's sums to `sums`
    /// in slice order, then each vector of units in order picked out of them, finished and stored.
    private func emitGroup(
        _ group: IRValue, width: Int, staged: IRValue, sums: IRValue, output: IRValue, outputRow: IRValue
    ) {
        let ir = emitter.ir
        let lanes = Self.lanes
        let vector = emitter.vectorType(lanes)
        let words = ir.vector(ir.i32, lanes)
        let slicesPerGroup = ChunkedNonzeros.groupUnits / lanes
        let slices = (width + lanes - 1) / lanes
        for slice in 0..<slices {
            let sliceSums = emitSliceSums(emitter.affine(group, times: slicesPerGroup, plus: slice), staged: staged)
            emitter.storeVector(sliceSums, sums, offset: emitter.index(slice * lanes))
        }
        let permute = ir.intrinsic(
            "llvm.x86.avx512.vpermi2var.ps.512", overloads: [], returning: vector, parameters: [vector, words, vector])
        // A last group's missing slices read as zeros (no lane picks them).
        let quarters = (0..<slicesPerGroup).map {
            $0 < slices ? emitter.loadVector(sums, offset: emitter.index($0 * lanes), lanes: lanes) : ir.zero(vector)
        }
        let firstUnit = emitter.affine(group, times: ChunkedNonzeros.groupUnits)
        // Every value is finished (a fused residual loaded) before any is stored, as in the dense tiles.
        var finished: [(value: IRValue, lanes: Int, offset: IRValue)] = []
        for run in LaneRun.covering(width, width: lanes) {
            for piece in 0..<run.count {
                let start = run.start + piece * run.lanes
                let channel = ir.add(firstUnit, emitter.index(start))
                let raw = ir.load(ir.vector(ir.i8, run.lanes), from: ir.gep(ir.i8, sources, [channel]), alignment: 1)
                var picks = ir.zext(raw, to: ir.vector(ir.i32, run.lanes))
                if run.lanes < lanes { picks = ir.shuffle(picks, picks, mask: (0..<lanes).map { $0 < run.lanes ? $0 : 0 }) }
                // Sources below 32 come from the first two slices, the rest from the last two.
                let low = ir.call(permute.function, type: permute.type, [quarters[0], picks, quarters[1]])
                let high = ir.call(permute.function, type: permute.type, [quarters[2], picks, quarters[3]])
                let fromHigh = ir.icmp(.ne, ir.and(picks, ir.splat(ir.constant(32, ir.i32), count: lanes)), ir.zero(words))
                var total = ir.select(fromHigh, high, low)
                if run.lanes < lanes { total = ir.shuffle(total, total, mask: Array(0..<run.lanes)) }
                let value = ir.fadd(epilogue.initial(emitter, channel: channel, lanes: run.lanes), total)
                let offset = ir.add(outputRow, channel)
                finished.append((epilogue.finished(emitter, value, channel: channel, lanes: run.lanes, offset: offset), run.lanes, offset))
            }
        }
        for (value, lanes, offset) in finished {
            epilogue.storeFinished(emitter, value, lanes: lanes, output: output, offset: offset)
        }
    }

    /// Copies a row into `buffer` as chunks of 31 inputs and a zero (zeros past the row's end),
    /// with masked loads that never touch memory past the row.
    private func stage(row: IRValue, into buffer: IRValue) {
        let ir = emitter.ir
        let lanes = Self.lanes
        let vector = emitter.vectorType(lanes)
        let load = ir.intrinsic(
            "llvm.masked.load", overloads: [vector, ir.pointer(to: vector)], returning: vector,
            parameters: [ir.pointer(to: vector), ir.i32, ir.vector(ir.i1, lanes), vector])
        func halves(chunk: IRValue, present: Int) {
            let first = emitter.affine(chunk, times: ChunkedNonzeros.inputsPerChunk)
            for half in 0..<2 {
                // The second half's last lane is the chunk's zero.
                let count = max(0, min(half == 0 ? lanes : lanes - 1, present - half * lanes))
                let mask = ir.constantVector((0..<lanes).map { ir.constant($0 < count ? 1 : 0, ir.i1) })
                let pointer = ir.bitcast(ir.gep(ir.f32, row, [ir.add(first, emitter.index(half * lanes))]), to: ir.pointer(to: vector))
                let value =
                    count == 0
                    ? ir.zero(vector) : ir.call(load.function, type: load.type, [pointer, ir.constant(4, ir.i32), mask, ir.zero(vector)])
                emitter.storeVector(value, buffer, offset: emitter.affine(chunk, times: ChunkedNonzeros.chunk, plus: half * lanes))
            }
        }
        let chunks = ChunkedNonzeros.stagedChunks(depth: depth)
        let full = depth / ChunkedNonzeros.inputsPerChunk
        ir.loop("stage", from: 0, to: full) { chunk in halves(chunk: chunk, present: ChunkedNonzeros.inputsPerChunk) }
        if chunks > full { halves(chunk: emitter.index(full), present: depth - full * ChunkedNonzeros.inputsPerChunk) }
    }

    /// Copies a row into `buffer` as chunks of every `n`-th input (`n` chunks; chunk `c` holds
    /// inputs `c`, `c + n`, …) and a zero, with masked gathers that never touch memory past the row.
    private func stageStrided(row: IRValue, into buffer: IRValue) {
        let ir = emitter.ir
        let lanes = Self.lanes
        let vector = emitter.vectorType(lanes)
        let pointers = ir.vector(ir.pointer(to: ir.f32), lanes)
        let gather = ir.intrinsic(
            "llvm.masked.gather", overloads: [vector, pointers], returning: vector,
            parameters: [pointers, ir.i32, ir.vector(ir.i1, lanes), vector])
        let chunks = ChunkedNonzeros.stagedChunks(depth: depth)
        ir.loop("stage", from: 0, to: chunks) { chunk in
            let first = ir.broadcast(ir.trunc(chunk, to: ir.i32), count: lanes)
            for half in 0..<2 {
                // Position p of the chunk holds input c + p·n; the chunk's last position is its zero.
                let steps = (0..<lanes).map { half * lanes + $0 }
                let inputs = ir.add(first, ir.constantVector(steps.map { ir.constant($0 * chunks, ir.i32) }))
                let limits = ir.constantVector(
                    steps.map { ir.constant($0 < ChunkedNonzeros.inputsPerChunk ? depth : 0, ir.i32) })
                let present = ir.icmp(.slt, inputs, limits)
                let value = ir.call(
                    gather.function, type: gather.type,
                    [ir.gep(ir.f32, row, [inputs]), ir.constant(4, ir.i32), present, ir.zero(vector)])
                emitter.storeVector(value, buffer, offset: emitter.affine(chunk, times: ChunkedNonzeros.chunk, plus: half * lanes))
            }
        }
    }

    /// The sums of slice `slice` (16 lanes in slice order; lanes past the layer's units are zero).
    private func emitSliceSums(_ slice: IRValue, staged: IRValue) -> IRValue {
        let ir = emitter.ir
        let lanes = Self.lanes
        let vector = emitter.vectorType(lanes)
        let words = ir.vector(ir.i32, lanes)
        let permute = ir.intrinsic(
            "llvm.x86.avx512.vpermi2var.ps.512", overloads: [], returning: vector, parameters: [vector, words, vector])
        func load(_ table: IRValue, _ index: IRValue) -> IRValue {
            ir.sext(ir.load(ir.i32, from: ir.gep(ir.i32, table, [index]), alignment: 4), to: ir.i64)
        }
        let slots = (0..<(2 * ChunkedNonzeros.pairsPerIteration)).map { _ in emitter.accumulator(vector) }
        for slot in slots { ir.store(ir.zero(vector), to: slot, alignment: 4) }
        let first = load(sliceStarts, slice)
        let end = load(sliceStarts, ir.add(slice, emitter.index(1)))
        ir.loop("pair", from: first, to: end, step: ChunkedNonzeros.pairsPerIteration) { pair in
            for offset in 0..<ChunkedNonzeros.pairsPerIteration {
                let p = ir.add(pair, emitter.index(offset))
                let base = load(bases, p)
                let low = emitter.loadVector(staged, offset: base, lanes: lanes)
                let high = emitter.loadVector(staged, offset: ir.add(base, emitter.index(lanes)), lanes: lanes)
                for half in 0..<2 {
                    let step = emitter.affine(p, times: 2 * lanes, plus: half * lanes)
                    let picks = ir.zext(
                        ir.load(ir.vector(ir.i8, lanes), from: ir.gep(ir.i8, positions, [step]), alignment: 1), to: words)
                    let x = ir.call(permute.function, type: permute.type, [low, picks, high])
                    let w = emitter.loadVector(values, offset: step, lanes: lanes)
                    let slot = slots[2 * offset + half]
                    ir.store(emitter.fma(x, w, ir.load(vector, from: slot, alignment: 4), lanes: lanes), to: slot, alignment: 4)
                }
            }
        }
        let sums = slots.map { ir.load(vector, from: $0, alignment: 4) }
        return ir.fadd(ir.fadd(sums[0], sums[1]), ir.fadd(sums[2], sums[3]))
    }
}
