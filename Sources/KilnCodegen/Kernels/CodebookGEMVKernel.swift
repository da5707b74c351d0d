import KilnIR

/// A float filter's 4-bit indices into its ``WeightCodebook`` for ``CodebookGEMVKernel``: per
/// slice of ``lanes`` units and run of ``stepsPerWord`` reduction steps, one 32-bit word per
/// unit, step `j`'s index in bits `4j ..< 4j + 4`. A vector of words then serves eight steps,
/// each moved into place with one shift (`vpermps` reads only each lane's low four bits), where
/// a byte per index would cost a widening shuffle per step. Units past the last and steps past
/// the depth hold index 0.
struct CodebookWords: Hashable {
    /// Reduction steps whose indices share a word.
    static let stepsPerWord = 8

    /// Units per slice: one vector.
    let lanes: Int
    /// ``lanes`` words per slice and run of steps.
    let words: [UInt32]
    /// Elements of one unit's reduction.
    let depth: Int
    /// Output units.
    let units: Int

    /// Words per unit.
    var wordsPerUnit: Int { (depth + Self.stepsPerWord - 1) / Self.stepsPerWord }

    /// The indices of float `filter`'s weights into `codebook`, in slices of `lanes` units; `nil`
    /// for other element types.
    init?(_ filter: TensorData, codebook: WeightCodebook, lanes: Int) {
        guard lanes > 0, let (weights, units, depth) = filter.unitRows else { return nil }
        var index: [Float: UInt32] = [:]
        for (position, value) in codebook.values.enumerated().reversed() { index[value] = UInt32(position) }
        let wordsPerUnit = (depth + Self.stepsPerWord - 1) / Self.stepsPerWord
        var words = [UInt32](repeating: 0, count: (units + lanes - 1) / lanes * wordsPerUnit * lanes)
        for unit in 0..<units {
            let (slice, lane) = unit.quotientAndRemainder(dividingBy: lanes)
            for k in 0..<depth {
                let value = weights[unit * depth + k]
                let (word, step) = k.quotientAndRemainder(dividingBy: Self.stepsPerWord)
                words[(slice * wordsPerUnit + word) * lanes + lane] |= (index[value == 0 ? 0 : value] ?? 0) << (4 * step)
            }
        }
        self.lanes = lanes
        self.words = words
        self.depth = depth
        self.units = units
    }

    /// Bytes stored: the words and the table.
    var storedByteCount: Int { 4 * (words.count + WeightCodebook.capacity) }
}

/// `y[r, n] = act(Σ_k x[r, k] · table[index[n, k]] + b[n])` for a row or a few, over shared weights
/// (``CodebookWords``) on AVX-512 (slices of 16 units) or AVX2 (8): each step shifts its indices out
/// of the slice's words, looks the units' weights up in the table held in registers (`vpermps`)
/// and multiplies them with the step's input, broadcast. Two vector operations and a
/// multiply-add per 16 weights, where the many-row kernel's layout needs a widening shuffle more
/// (a Zen 4 microbenchmark, 640→128: 0.45 ns per 16 weights against 0.64).
struct CodebookGEMVKernel {
    let emitter: KernelEmitter
    let epilogue: Epilogue
    let rows: Int
    let indices: CodebookWords
    /// Globals: the i32 words and the table's 16 floats.
    let words: IRValue
    let table: IRValue

    private var driver: SlicedGEMV {
        SlicedGEMV(
            emitter: emitter, epilogue: epilogue, rows: rows, depth: indices.depth, units: indices.units, lanes: indices.lanes)
    }

    func emit(input: IRValue, output: IRValue) {
        driver.emit(input: input, output: output, sums: sliceSums)
    }

    /// The sums of slice `slice` over one row: full words in a loop, then the steps left over.
    private func sliceSums(_ slice: IRValue, row: IRValue) -> IRValue {
        let ir = emitter.ir
        let lanes = indices.lanes
        let wordVector = ir.vector(ir.i32, lanes)
        let slots = driver.zeroedAccumulators()
        let perWord = CodebookWords.stepsPerWord
        let wordBase = emitter.affine(slice, times: indices.wordsPerUnit * lanes)
        func steps(word: IRValue, count: Int) {
            let packed = ir.load(
                wordVector, from: ir.gep(ir.i32, words, [ir.add(wordBase, emitter.affine(word, times: lanes))]), alignment: 4)
            for step in 0..<count {
                let weights = lookUp(packed, step: step)
                let x = ir.load(ir.f32, from: ir.gep(ir.f32, row, [emitter.affine(word, times: perWord, plus: step)]), alignment: 4)
                driver.multiplyAdd(weights, ir.broadcast(x, count: lanes), into: slots[step % slots.count])
            }
        }
        let fullWords = indices.depth / perWord
        ir.loop("word", from: 0, to: fullWords) { steps(word: $0, count: perWord) }
        if indices.depth > fullWords * perWord { steps(word: emitter.index(fullWords), count: indices.depth - fullWords * perWord) }
        return driver.total(slots)
    }

    /// The weights of step `step` of a vector of words: on AVX-512 one `vpermps` over the table in
    /// one register (it reads the low four bits of the shifted words); on AVX2 two over its halves
    /// (the low three bits), blended on the index's fourth bit, which a left shift puts in each
    /// lane's sign bit for `vblendvps`.
    private func lookUp(_ packed: IRValue, step: Int) -> IRValue {
        let ir = emitter.ir
        let lanes = indices.lanes
        let vector = emitter.vectorType(lanes)
        let wordVector = ir.vector(ir.i32, lanes)
        func shifted(_ shift: (IRValue, IRValue) -> IRValue, by bits: Int) -> IRValue {
            bits == 0 ? packed : shift(packed, ir.splat(ir.constant(bits, ir.i32), count: lanes))
        }
        let positions = shifted({ ir.lshr($0, $1) }, by: 4 * step)
        if lanes == 16 {
            let permute = ir.intrinsic(
                "llvm.x86.avx512.permvar.sf.512", overloads: [], returning: vector, parameters: [vector, wordVector])
            let values = emitter.loadVector(table, offset: emitter.index(0), lanes: 16)
            return ir.call(permute.function, type: permute.type, [values, positions])
        }
        let permute = ir.intrinsic("llvm.x86.avx2.permps", overloads: [], returning: vector, parameters: [vector, wordVector])
        let halves = [0, 8].map {
            ir.call(permute.function, type: permute.type, [emitter.loadVector(table, offset: emitter.index($0), lanes: 8), positions])
        }
        let fromHigh = ir.icmp(.slt, shifted({ ir.shl($0, $1) }, by: 28 - 4 * step), ir.zero(wordVector))
        return ir.select(fromHigh, halves[1], halves[0])
    }
}
