import KilnIR

/// `y[r, n] = act(Σ_{k : w[n, k] ≠ 0} x[r, k] · w[n, k] + b[n])` for a few rows `r`, over a filter
/// pruned N:4 (``SemiStructuredNonzeros``), in slices of one vector of units. For each group of
/// four inputs, the kernel broadcasts the group to every 128-bit lane of a register; each of the
/// group's picks then selects one input per unit with `vpermilps` (its 2-bit selectors shifted
/// out of the slice's control word) and multiplies it with the unit's weight in the unit's lane.
/// At 2:4 that is half the dense kernel's weight bytes and multiply-adds, plus a permute per
/// multiply-add: a matrix-vector product, bound by its weight stream, runs in about half the
/// time. Over many rows the dense kernel shares each weight load between rows and the permute
/// costs as much as the multiply-add it saves (on Zen 4 both issue on the same pipes), so
/// convolutions and matrix products of many rows keep the dense kernels. AVX2 and AVX-512 only:
/// SSE4.1 has no variable in-lane permute.
struct SemiStructuredSparseGEMVKernel {
    let emitter: KernelEmitter
    let epilogue: Epilogue
    let rows: Int
    let nonzeros: SemiStructuredNonzeros
    /// Globals: the i32 control words and the f32 weights.
    let controls: IRValue
    let values: IRValue

    private var lanes: Int { nonzeros.lanes }

    private var driver: SlicedGEMV {
        SlicedGEMV(
            emitter: emitter, epilogue: epilogue, rows: rows, depth: nonzeros.depth, units: nonzeros.units, lanes: lanes)
    }

    func emit(input: IRValue, output: IRValue) {
        driver.emit(input: input, output: output, sums: sliceSums)
    }

    /// The sums of slice `slice` over one row: full control words in a loop, then the groups
    /// left over (the short last group, if any, loaded with a mask).
    private func sliceSums(_ slice: IRValue, row: IRValue) -> IRValue {
        let ir = emitter.ir
        let slots = driver.zeroedAccumulators()
        let perWord = SemiStructuredNonzeros.groupsPerWord
        let fullGroups = nonzeros.depth / SemiStructuredNonzeros.groupInputs
        let fullWords = fullGroups / perWord
        let wordBase = emitter.affine(slice, times: nonzeros.wordsPerUnit * lanes)
        let valueBase = emitter.affine(slice, times: nonzeros.groups * nonzeros.kept * lanes)
        func control(_ word: IRValue) -> IRValue {
            ir.load(
                ir.vector(ir.i32, lanes), from: ir.gep(ir.i32, controls, [ir.add(wordBase, emitter.affine(word, times: lanes))]),
                alignment: 4)
        }
        ir.loop("word", from: 0, to: fullWords) { word in
            let words = control(word)
            for slot in 0..<perWord {
                accumulate(
                    group: emitter.affine(word, times: perWord, plus: slot), slot: slot, control: words, row: row,
                    valueBase: valueBase, slots: slots, short: nil)
            }
        }
        let firstLeft = fullWords * perWord
        if nonzeros.groups > firstLeft {
            let words = control(emitter.index(fullWords))
            for group in firstLeft..<nonzeros.groups {
                let present = nonzeros.depth - group * SemiStructuredNonzeros.groupInputs
                accumulate(
                    group: emitter.index(group), slot: group - firstLeft, control: words, row: row, valueBase: valueBase,
                    slots: slots, short: present < SemiStructuredNonzeros.groupInputs ? present : nil)
            }
        }
        return driver.total(slots)
    }

    /// One group's picks into the accumulators: the group's four inputs (only `short` of them,
    /// the rest zeros, for a short last group) in every 128-bit lane, each pick's selectors from
    /// bits `4·slot + 2·pick` of `control`.
    private func accumulate(
        group: IRValue, slot: Int, control: IRValue, row: IRValue, valueBase: IRValue, slots: [IRValue], short: Int?
    ) {
        let ir = emitter.ir
        let quad = emitter.vectorType(SemiStructuredNonzeros.groupInputs)
        let vector = emitter.vectorType(lanes)
        let words = ir.vector(ir.i32, lanes)
        let pointer = ir.gep(ir.f32, row, [emitter.affine(group, times: SemiStructuredNonzeros.groupInputs)])
        let inputs: IRValue
        if let short {
            let load = ir.intrinsic(
                "llvm.masked.load", overloads: [quad, ir.pointer(to: quad)], returning: quad,
                parameters: [ir.pointer(to: quad), ir.i32, ir.vector(ir.i1, SemiStructuredNonzeros.groupInputs), quad])
            let mask = ir.constantVector((0..<SemiStructuredNonzeros.groupInputs).map { ir.constant($0 < short ? 1 : 0, ir.i1) })
            inputs = ir.call(
                load.function, type: load.type, [ir.bitcast(pointer, to: ir.pointer(to: quad)), ir.constant(4, ir.i32), mask, ir.zero(quad)])
        } else {
            inputs = ir.load(quad, from: pointer, alignment: 4)
        }
        let broadcast = ir.shuffle(inputs, inputs, mask: (0..<lanes).map { $0 % SemiStructuredNonzeros.groupInputs })
        let permute = ir.intrinsic(
            lanes == 16 ? "llvm.x86.avx512.vpermilvar.ps.512" : "llvm.x86.avx.vpermilvar.ps.256", overloads: [],
            returning: vector, parameters: [vector, words])
        for pick in 0..<nonzeros.kept {
            let shift = SemiStructuredNonzeros.bitsPerGroup * slot + 2 * pick
            let selectors = shift == 0 ? control : ir.lshr(control, ir.splat(ir.constant(shift, ir.i32), count: lanes))
            let picked = ir.call(permute.function, type: permute.type, [broadcast, selectors])
            let weights = emitter.loadVector(
                values,
                offset: ir.add(valueBase, emitter.affine(group, times: nonzeros.kept * lanes, plus: pick * lanes)), lanes: lanes)
            driver.multiplyAdd(picked, weights, into: slots[(slot * nonzeros.kept + pick) % slots.count])
        }
    }
}
