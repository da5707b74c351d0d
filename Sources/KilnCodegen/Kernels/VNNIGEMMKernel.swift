import KilnIR

/// int8 dot products on AVX-512 VNNI, for fully-connected layers, 1×1
/// convolutions (rows of the input) and every other convolution (implicit
/// GEMM over window taps).
///
/// `vpdpbusd` multiplies four unsigned input bytes by four signed weight
/// bytes in each of 16 lanes and adds the products into int32: 64
/// multiply-adds per instruction. Inputs are made unsigned by flipping their
/// sign bit (`x + 128`); the resulting `128 · Σw` and the zero point's
/// `-zx · Σw` are folded, with the bias, into each channel's starting value at
/// build time, so the integer sums equal `Σ (x - zx) · w + bias` exactly and
/// requantization is the same as everywhere else. A convolution tap outside
/// the input reads a row of zero points, which contributes exactly what that
/// correction removes.
///
/// Also runs dynamic-range ("hybrid") layers: float inputs rounded per row to
/// their own int8 grid (``QuantizedArithmetic/dynamicRangeParameters(minimum:maximum:)``),
/// int8 weights, float outputs.
struct VNNIGEMMKernel {
    /// What the inputs and outputs are.
    enum Mode {
        /// int8 inputs; `epilogue` requantizes (its bias is `nil`: the bias is in the starting sums).
        case int8(Epilogue)
        /// float inputs quantized per row on the fly; results are `sum · step · scale[c] + bias[c]`, then `activation`.
        case dynamicRange(scales: IRValue, bias: IRValue?, activation: Activation?)
    }

    let emitter: KernelEmitter
    let units: Int
    let mode: Mode
    let packed: Packed
    /// Whether ``emitRows(rows:rowsPerBlock:staged:input:output:)`` computes exactly the rows of
    /// the emitter's row range, whatever its ends (``KernelEmitter/rowBlocks(from:count:block:exact:overlapping:_:)``).
    var exactRowRange = false

    /// Accumulator vectors per tile of channels.
    static let vectorsPerTile = 4

    /// The filter packed `[tile][tap][group of 4 channels][vector][16 units][4 bytes]`,
    /// each tap's channels padded with zero weights to whole groups, and each unit's starting sum.
    struct Packed {
        /// Tiles: first unit, vectors of 16 units, byte offset.
        var tiles: [(start: Int, vectors: Int, offset: Int)]
        var bytes: [UInt8]
        var initial: [Int32]
        /// Each unit's `Σ w`, for the per-row zero-point correction of dynamic-range inputs.
        var weightSums: [Int32]
        /// Window taps (1 for fully-connected layers) and channels read per tap.
        var taps: Int
        var channels: Int
        /// Groups of four channels per tap, the last one possibly partial.
        var groupsPerTap: Int { (channels + 3) / 4 }

        /// Packs `filter` (`[units, taps · channels]`).
        init(filter: [Int8], units: Int, taps: Int = 1, channels: Int, bias: [Int32]?, inputZeroPoint: Int32) {
            self.taps = taps
            self.channels = channels
            let depth = taps * channels
            let groups = (channels + 3) / 4
            tiles = []
            bytes = []
            var start = 0
            // The last vector may be partial: its missing units get zero weights and are never stored.
            while start < units {
                let vectors = min(VNNIGEMMKernel.vectorsPerTile, (units - start + 15) / 16)
                tiles.append((start, vectors, bytes.count))
                for tap in 0..<taps {
                    for group in 0..<groups {
                        for vector in 0..<vectors {
                            for lane in 0..<16 {
                                let unit = start + vector * 16 + lane
                                for byte in 0..<4 {
                                    let channel = group * 4 + byte
                                    bytes.append(
                                        channel < channels && unit < units
                                            ? UInt8(bitPattern: filter[unit * depth + tap * channels + channel]) : 0)
                                }
                            }
                        }
                    }
                }
                start += vectors * 16
            }
            let sums = (0..<units).map { unit in
                (0..<depth).reduce(Int32(0)) { $0 &+ Int32(filter[unit * depth + $1]) }
            }
            // Padded to whole vectors, which the kernel loads.
            let padding = [Int32](repeating: 0, count: (16 - units % 16) % 16)
            weightSums = sums + padding
            initial = (0..<units).map { (bias?[$0] ?? 0) &- (128 &+ inputZeroPoint) &* sums[$0] } + padding
        }
    }

    private var ir: IRModule { emitter.ir }
    private var vectorType: IRType { ir.vector(ir.i32, 16) }

    /// Per position of a block: the row's zero point and step (dynamic range only).
    private typealias RowGrid = (zeroPoint: IRValue, step: IRValue)

    /// The globals and accumulator slots of one emitted layer.
    private struct Resources {
        var weights: IRValue
        var initial: IRValue
        var weightSums: IRValue
        var slots: [[IRValue]]
        var dot: (function: IRValue, type: IRType)
    }

    private func makeResources(positions: Int) -> Resources {
        let dot = ir.intrinsic(
            "llvm.x86.avx512.vpdpbusd.512", overloads: [], returning: vectorType,
            parameters: [vectorType, vectorType, vectorType])
        return Resources(
            weights: ir.addConstantBytes(name: "vnni.weights", bytes: packed.bytes, alignment: 64),
            initial: ir.addConstantBytes(
                name: "vnni.initial", bytes: TensorData(int32: packed.initial, shape: [packed.initial.count]).bytes,
                alignment: 64),
            weightSums: ir.addConstantBytes(
                name: "vnni.sums", bytes: TensorData(int32: packed.weightSums, shape: [packed.weightSums.count]).bytes,
                alignment: 64),
            slots: (0..<positions).map { _ in (0..<Self.vectorsPerTile).map { _ in emitter.accumulator(vectorType) } },
            dot: dot)
    }

    /// Rows of `taps · channels` input elements (fully-connected and 1×1 layers), `rowsPerBlock` at a time.
    ///
    /// With `staged` (int8 inputs), each block of rows, consecutive bytes, is first
    /// copied with every sign bit flipped into a buffer on the stack, so the inner
    /// loop broadcasts each group of four bytes straight from memory.
    func emitRows(rows: Int, rowsPerBlock: Int, staged: Bool = false, input: IRValue, output: IRValue) {
        let resources = makeResources(positions: rowsPerBlock)
        let depth = packed.channels
        let paddedDepth = packed.groupsPerTap * 4
        // Dynamic-range inputs: each row of the block quantized once into unsigned bytes on the stack.
        var quantizedRows: IRValue?
        var stagedRows: IRValue?
        var grids: [RowGrid] = []
        let extremeSlots = QuantizedKernels(emitter: emitter).extremeSlots(depth)
        if case .dynamicRange = mode {
            quantizedRows = emitter.accumulator(ir.array(ir.i8, rowsPerBlock * paddedDepth))
            grids = (0..<rowsPerBlock).map { _ in (emitter.accumulator(ir.i32), emitter.accumulator(ir.f32)) }
        } else if staged {
            // A row's last group may read up to 3 bytes past it: the next row's, or the zeroed slack.
            stagedRows = stagingBuffer(byteCount: min(rowsPerBlock, rows) * depth + 4)
        }
        emitter.rowBlocks(
            from: nil, count: rows, block: rowsPerBlock, exact: exactRowRange, overlapping: true
        ) { row, size in
            let rowIndices = (0..<size).map { ir.add(row, emitter.index($0)) }
            let bases = rowIndices.map { emitter.affine($0, times: depth) }
            let sources: [IRValue]
            if let quantizedRows {
                quantizeRows(
                    input: input, bases: bases, into: quantizedRows, paddedDepth: paddedDepth, grids: grids,
                    slots: extremeSlots)
                sources = (0..<size).map { ir.gep(ir.i8, quantizedRows, [emitter.index($0 * paddedDepth)]) }
            } else if let stagedRows {
                emitter.copyBytes(
                    size * depth, from: ir.gep(ir.i8, input, [bases[0]]), to: stagedRows, transform: flippingSigns)
                sources = (0..<size).map { ir.gep(ir.i8, stagedRows, [emitter.index($0 * depth)]) }
            } else {
                sources = bases.map { ir.gep(ir.i8, input, [$0]) }
            }
            emitBlock(
                resources, outputBases: rowIndices.map { emitter.affine($0, times: units) }, grids: grids,
                output: output, preparedInputs: quantizedRows != nil || stagedRows != nil
            ) { body in body(emitter.index(0), sources) }
        }
    }

    /// A convolution over NHWC int8 input, `pixelsPerBlock` output pixels at a time.
    ///
    /// With `staged`, each block first copies the input it reads into a buffer
    /// on the stack with every sign bit flipped (``ConvolutionWindows/forEachStagedTap(of:input:buffer:zeroRow:transform:_:)``),
    /// so the inner loop broadcasts each group of four bytes straight from memory;
    /// `zeroRow` must then hold a staged row of zero points. With `wholeRows`,
    /// the filter is packed with one tap per window row (``Packed/taps`` is
    /// the window's height), whose groups of four run across the row's columns:
    /// a 10×4 window over one channel takes 10 groups per pixel, not 40.
    func emitConvolution(
        windows: ConvolutionWindows, pixelsPerBlock: Int, staged: Bool, wholeRows: Bool = false, zeroRow: IRValue,
        input: IRValue, output: IRValue
    ) {
        let resources = makeResources(positions: pixelsPerBlock)
        guard staged else {
            return windows.forEachBlock(pixels: pixelsPerBlock) { block in
                emitBlock(resources, outputBases: block.outputBases, grids: [], output: output, preparedInputs: false) { body in
                    windows.forEachTap(of: block, input: input, elementType: ir.i8, zeroRow: zeroRow, body)
                }
            }
        }
        let buffer = stagingBuffer(byteCount: windows.stagedByteCount(pixels: pixelsPerBlock))
        windows.forEachBlock(pixels: pixelsPerBlock, checkingEveryRow: true) { block in
            emitBlock(resources, outputBases: block.outputBases, grids: [], output: output, preparedInputs: true) { body in
                windows.forEachStagedTap(
                    of: block, input: input, buffer: buffer, zeroRow: zeroRow, wholeRows: wholeRows, transform: flippingSigns,
                    body)
            }
        }
    }

    /// A zeroed byte buffer on the stack for staged inputs: group reads run past a
    /// block's bytes into ones its weights ignore, which must still be defined.
    private func stagingBuffer(byteCount: Int) -> IRValue {
        let type = ir.array(ir.i8, byteCount)
        let buffer = emitter.accumulator(type)
        ir.store(ir.zero(type), to: buffer, alignment: 1)
        return ir.bitcast(buffer, to: ir.pointer(to: ir.i8))
    }

    /// `count` int8 bytes made unsigned (`x + 128`) by flipping their sign bits.
    private func flippingSigns(_ bytes: IRValue, count: Int) -> IRValue {
        ir.xor(bytes, ir.splat(ir.constant(0x80, ir.i8), count: count))
    }

    /// Every tile of units for one block of positions. `walk` calls its argument once per
    /// tap with the tap's index and each position's pointer to the tap's first channel.
    /// `preparedInputs`: the inputs are already unsigned (`x + 128`) and a tap's last
    /// group may be read whole (its bytes past the channels meet zero weights).
    private func emitBlock(
        _ resources: Resources, outputBases: [IRValue], grids: [RowGrid], output: IRValue, preparedInputs: Bool,
        walk: ((_ tap: IRValue, _ sources: [IRValue]) -> Void) -> Void
    ) {
        let flip = ir.constant(Int(Int32(bitPattern: 0x8080_8080)), ir.i32)
        let fullGroups = packed.channels / 4
        let partial = preparedInputs ? 0 : packed.channels % 4
        let size = outputBases.count
        for tile in packed.tiles {
            for position in 0..<size {
                for vector in 0..<tile.vectors {
                    let channel = emitter.index(tile.start + vector * 16)
                    let start = grids.isEmpty
                        ? ir.load(vectorType, from: ir.gep(ir.i32, resources.initial, [channel]), alignment: 4)
                        : ir.zero(vectorType)
                    ir.store(start, to: resources.slots[position][vector], alignment: 4)
                }
            }
            let tileBytes = tile.vectors * 64
            /// One group of four channels: each position's four input bytes against each vector's weights.
            func accumulate(weightsAt groupBase: IRValue, inputs: [IRValue]) {
                let broadcasts = inputs.map { ir.broadcast(preparedInputs ? $0 : ir.xor($0, flip), count: 16) }
                for vector in 0..<tile.vectors {
                    let offset = ir.add(groupBase, emitter.index(vector * 64))
                    let w = ir.load(vectorType, from: ir.gep(ir.i8, resources.weights, [offset]), alignment: 64)
                    for (position, broadcast) in broadcasts.enumerated() {
                        let slot = resources.slots[position][vector]
                        let sum = ir.call(
                            resources.dot.function, type: resources.dot.type,
                            [ir.load(vectorType, from: slot, alignment: 4), broadcast, w])
                        ir.store(sum, to: slot, alignment: 4)
                    }
                }
            }
            walk { tap, sources in
                let tapBase = emitter.affine(tap, times: packed.groupsPerTap * tileBytes, plus: tile.offset)
                let wholeGroups = preparedInputs ? packed.groupsPerTap : fullGroups
                ir.loop("group", from: 0, to: wholeGroups) { group in
                    let inputs = sources.map { source in
                        ir.load(ir.i32, from: ir.gep(ir.i8, source, [emitter.affine(group, times: 4)]), alignment: 1)
                    }
                    accumulate(weightsAt: ir.add(tapBase, emitter.affine(group, times: tileBytes)), inputs: inputs)
                }
                if partial > 0 {
                    // The last, partial group: a masked load of the bytes that exist (AVX-512BW's masked
                    // loads never touch the bytes left out, so this cannot fault past a buffer's end);
                    // the weights beyond the channels are zero.
                    let bytes = ir.vector(ir.i8, 4)
                    let load = ir.intrinsic(
                        "llvm.masked.load", overloads: [bytes, ir.pointer(to: bytes)], returning: bytes,
                        parameters: [ir.pointer(to: bytes), ir.i32, ir.vector(ir.i1, 4), bytes])
                    let mask = ir.constantVector((0..<4).map { ir.constant($0 < partial ? 1 : 0, ir.i1) })
                    let inputs = sources.map { source in
                        let pointer = ir.bitcast(ir.gep(ir.i8, source, [emitter.index(fullGroups * 4)]), to: ir.pointer(to: bytes))
                        let word = ir.call(load.function, type: load.type, [pointer, ir.constant(1, ir.i32), mask, ir.zero(bytes)])
                        return ir.bitcast(word, to: ir.i32)
                    }
                    accumulate(weightsAt: ir.add(tapBase, emitter.index(fullGroups * tileBytes)), inputs: inputs)
                }
            }
            for (position, outputBase) in outputBases.enumerated() {
                for vector in 0..<tile.vectors {
                    let first = tile.start + vector * 16
                    let lanes = min(16, units - first)
                    let channel = emitter.index(first)
                    var sums = ir.load(vectorType, from: resources.slots[position][vector], alignment: 4)
                    if lanes < 16 { sums = ir.shuffle(sums, sums, mask: Array(0..<lanes)) }
                    let offset = ir.add(outputBase, channel)
                    switch mode {
                    case .int8(let epilogue):
                        epilogue.store(emitter, sums, channel: channel, lanes: lanes, output: output, offset: offset)
                    case .dynamicRange(let scales, let bias, let activation):
                        // Σ (u - 128 - zp) · w = Σ u · w - (128 + zp) · Σ w.
                        let grid = grids[position]
                        let shift = ir.add(ir.load(ir.i32, from: grid.zeroPoint, alignment: 4), ir.constant(128, ir.i32))
                        let sumsOfWeights = ir.load(
                            ir.vector(ir.i32, lanes), from: ir.gep(ir.i32, resources.weightSums, [channel]), alignment: 4)
                        let centered: IRValue
                        if packed.taps * packed.channels * 255 * 128 < 1 << 24 {
                            // Every term is an integer below 2²⁴, so the float difference is exact: one FMA
                            // instead of a slow 32-bit multiply, a subtraction and a conversion.
                            let shiftVector = ir.broadcast(ir.sitofp(shift, to: ir.f32), count: lanes)
                            centered = emitter.fma(
                                ir.fneg(ir.sitofp(sumsOfWeights, to: emitter.vectorType(lanes))), shiftVector,
                                ir.sitofp(sums, to: emitter.vectorType(lanes)), lanes: lanes)
                        } else {
                            centered = ir.sitofp(
                                ir.sub(sums, ir.mul(sumsOfWeights, ir.broadcast(shift, count: lanes))),
                                to: emitter.vectorType(lanes))
                        }
                        // (sum · step) · scale + bias: the order XNNPACK's dynamic-range kernels use.
                        let step = ir.broadcast(ir.load(ir.f32, from: grid.step, alignment: 4), count: lanes)
                        let stepped = ir.fmul(centered, step)
                        let scale = emitter.loadVector(scales, offset: channel, lanes: lanes)
                        var value = ir.fmul(stepped, scale)
                        if let bias {
                            value = emitter.fma(
                                stepped, scale, emitter.loadVector(bias, offset: channel, lanes: lanes), lanes: lanes)
                        }
                        emitter.storeVector(emitter.activate(value, activation, lanes: lanes), output, offset: offset)
                    }
                }
            }
        }
    }

    /// Quantizes each row at `bases` to its own grid, storing `q + 128` as bytes
    /// row after row (`paddedDepth` apart) and each row's zero point and step.
    private func quantizeRows(
        input: IRValue, bases: [IRValue], into buffer: IRValue, paddedDepth: Int, grids: [RowGrid],
        slots: QuantizedKernels.ExtremeSlots
    ) {
        let kernels = QuantizedKernels(emitter: emitter)
        let depth = packed.channels
        // Every row's grid first: the rows' reductions and divisions are independent chains,
        // which the processor overlaps when they sit side by side.
        let rowGrids = bases.map { base in
            let (minimum, maximum) = kernels.extremes(of: input, base: base, count: depth, slots: slots)
            return kernels.parameters(minimum: minimum, maximum: maximum)
        }
        for (position, (base, grid)) in zip(bases, rowGrids).enumerated() {
            ir.store(grid.zeroPoint, to: grids[position].zeroPoint, alignment: 4)
            ir.store(grid.step, to: grids[position].step, alignment: 4)
            let shift = ir.add(grid.zeroPoint, ir.constant(128, ir.i32))
            for run in LaneRun.covering(depth, width: emitter.laneWidth) {
                ir.loop("quantize", from: 0, to: run.count) { block in
                    let k = emitter.affine(block, times: run.lanes, plus: run.start)
                    let unsigned = kernels.unsignedSteps(
                        emitter.loadVector(input, offset: ir.add(base, k), lanes: run.lanes), grid, shift: shift,
                        lanes: run.lanes)
                    ir.store(
                        unsigned, to: ir.gep(ir.i8, buffer, [emitter.affine(k, times: 1, plus: position * paddedDepth)]),
                        alignment: 1)
                }
            }
        }
    }
}
