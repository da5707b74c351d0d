import KilnIR

/// Depthwise convolution over NHWC input, vectorized across channels:
/// `y[n, oy, ox, c] = Σ_{ky, kx} x[n, oy·s + ky·d − p, ox·s + kx·d − p, c] · w[ky, kx, c]`,
/// then the ``Epilogue``.
///
/// With a multiplier of 1 (every depthwise layer converters emit), output
/// pixels go in blocks of `pixelsPerBlock` that share each weight vector, with
/// the taps unrolled and read as ``ConvolutionWindows`` lays them out. int8
/// layers start each sum at `bias − zx · Σw`, so no zero point is subtracted per
/// tap, and multiply the raw bytes in 16 bits (exact: `|x · w| ≤ 128²`): on x86
/// in blocks of channels whose sign-extended inputs meet two zero-interleaved
/// weight vectors in `vpdpwssd` or `pmaddwd` (the even channels' sums, then the
/// odd ones'), so a tap costs one sign extension and no widening of products.
/// Other multipliers read input channel `oc / multiplier` one lane at a time,
/// with bounds checks.
struct DepthwiseConv2DKernel {
    let emitter: KernelEmitter
    let epilogue: Epilogue
    let weights: IRValue
    let weightType: IRType
    /// The filter's bytes as stored (`[1, kh, kw, C]`), for repacking.
    let filterBytes: [Int8]
    let windows: ConvolutionWindows
    let pixelsPerBlock: Int
    /// With a multiplier of 1: a row of `C` elements equal to the input's zero (the zero point for int8).
    let zeroRow: IRValue?
    /// With merged pixels: a whole input row of such elements, for window rows above or below the input.
    var zeroRows: IRValue?
    /// int8 layers with a multiplier of 1: each channel's starting sum `bias − zx · Σw` (i32); the
    /// epilogue then has no bias of its own.
    let initialSums: IRValue?
    /// int8 layers on x86: the instruction that multiplies 16-bit pairs and the widest block of
    /// channels it takes (then one block each of half as many, down to 8).
    var pairwise: (multiply: KernelChoice.PairwiseMultiply, widestLanes: Int)?

    private var ir: IRModule { emitter.ir }
    private var input: Shape { windows.input }
    private var output: Shape { windows.output }
    private var kernel: (height: Int, width: Int) { windows.kernel }
    private var attributes: Conv2DAttributes { windows.attributes }

    /// With more than 1 (stride-1 layers with fewer channels than a vector): the pixels side by
    /// side in each vector. `weights`, `filterBytes`, `initialSums` and the epilogue's per-channel
    /// constants then hold each tap's channels repeated that many times.
    var pixelsPerVector = 1

    /// Whether each vector of channels runs over every pixel in turn (its tap weights stay in
    /// registers, and the few input rows it reads stay in L1), rather than each block of pixels
    /// over every channel (a block's rows of all channels overflow L1 on large layers, but small
    /// maps pay less loop overhead).
    var channelsOutermost = true

    /// Elements per tap in `weights` and `filterBytes`: the channels, repeated for merged pixels.
    private var weightStride: Int { output[3] * pixelsPerVector }

    func emit(input inputPointer: IRValue, output outputPointer: IRValue) {
        guard output[3] == input[3], let zeroRow else { return emitAnyMultiplier(input: inputPointer, output: outputPointer) }
        if pixelsPerVector > 1 { return emitMergedPixels(input: inputPointer, output: outputPointer) }
        let runs = ChannelRuns(self, channels: output[3], pixels: pixelsPerBlock)
        let elementType = epilogue.isQuantized ? ir.i8 : ir.f32
        func forEachBlock(_ body: (_ sources: [[IRValue]], _ block: PixelBlock) -> Void) {
            windows.forEachBlock(pixels: pixelsPerBlock) { block in
                var sources = Array(repeating: [IRValue](), count: block.columns.count)
                windows.forEachTap(of: block, input: inputPointer, elementType: elementType, zeroRow: zeroRow, unrolled: true) { _, pointers in
                    for (pixel, pointer) in pointers.enumerated() { sources[pixel].append(pointer) }
                }
                body(sources, block)
            }
        }
        func accumulate(_ vector: ChannelVector, _ sources: [[IRValue]], _ block: PixelBlock) {
            self.accumulate(vector, sources: sources, slots: runs.slots, output: outputPointer, outputBases: block.outputBases)
        }
        if channelsOutermost {
            forEachChannelVector(runs) { vector in forEachBlock { sources, block in accumulate(vector, sources, block) } }
        } else {
            forEachBlock { sources, block in forEachChannelVector(runs) { vector in accumulate(vector, sources, block) } }
        }
    }

    /// How a vector of `channels` lanes is cut: whole blocks of the widest pairwise width, then
    /// one each of the narrower ones (for `accumulatePairwise`), then plain vectors for the rest
    /// (fewer than 8 channels, or every channel without pairwise multiplies).
    private struct ChannelRuns {
        var pairwise: [(run: LaneRun, weights: IRValue)] = []
        var plain: [LaneRun]
        /// Per plain vector width, one accumulator slot per pixel.
        var slots: [Int: [IRValue]]

        init(_ kernel: DepthwiseConv2DKernel, channels: Int, pixels: Int) {
            var start = 0
            if let pairwise = kernel.pairwise, kernel.initialSums != nil {
                for lanes in sequence(first: pairwise.widestLanes, next: { $0 > 8 ? $0 / 2 : nil }) {
                    let count = (channels - start) / lanes
                    guard count > 0 else { continue }
                    let run = LaneRun(start: start, lanes: lanes, count: count)
                    self.pairwise.append((run, kernel.packedInPairs(run)))
                    start += count * lanes
                }
            }
            plain = LaneRun.covering(channels - start, width: kernel.emitter.laneWidth).map {
                LaneRun(start: $0.start + start, lanes: $0.lanes, count: $0.count)
            }
            slots = Dictionary(uniqueKeysWithValues: Set(plain.map(\.lanes)).map { lanes in
                (lanes, (0..<pixels).map { _ in kernel.emitter.accumulator(kernel.accumulatorType(lanes)) })
            })
        }
    }

    /// One vector of channels: a block of a pairwise run (with its packed weights) or of a plain run.
    private enum ChannelVector {
        case pairwise(LaneRun, weights: IRValue, block: IRValue)
        case plain(LaneRun, block: IRValue)
    }

    /// Runs `body` for every channel vector of `runs`, in one loop per run.
    private func forEachChannelVector(_ runs: ChannelRuns, _ body: (ChannelVector) -> Void) {
        for (run, weights) in runs.pairwise {
            ir.loop("c", from: 0, to: run.count) { body(.pairwise(run, weights: weights, block: $0)) }
        }
        for run in runs.plain {
            ir.loop("c", from: 0, to: run.count) { body(.plain(run, block: $0)) }
        }
    }

    /// One channel vector of a block of pixels; `sources[pixel][tap]` points at the tap's first channel.
    private func accumulate(
        _ vector: ChannelVector, sources: [[IRValue]], slots: [Int: [IRValue]], output: IRValue, outputBases: [IRValue]
    ) {
        switch vector {
        case .pairwise(let run, let weights, let block):
            accumulatePairwise(
                sources: sources, run: run, block: block, weights: weights, output: output, outputBases: outputBases)
        case .plain(let run, let block):
            guard let slots = slots[run.lanes] else { return }
            accumulatePlain(sources: sources, run: run, block: block, slots: slots, output: output, outputBases: outputBases)
        }
    }

    /// Stride-1 layers with few channels, one output row at a time. The pixels whose windows lie
    /// inside the row are `count · C` consecutive elements, cut into vectors of `pixelsPerVector`
    /// pixels (a narrower tail last), and tap `(ky, kx)` of such a vector is the same number of
    /// elements `kx · dx · C` along input row `ky`; so each vector is one "pixel" of
    /// `pixelsPerVector · C` channels to ``accumulate(sources:runs:output:outputBases:)``. Rows
    /// above or below the input read `zeroRows`; the border pixels at both ends of a row go
    /// one at a time, their taps through ``ConvolutionWindows/forEachTap``.
    private func emitMergedPixels(input inputPointer: IRValue, output outputPointer: IRValue) {
        guard let zeroRow, let zeroRows else { return }
        let channels = input[3]
        let (rows, columnGeometry) = attributes.geometry(input: input, kernel: kernel)
        let interior = windows.interior(axis: 1)
        let elementType = epilogue.isQuantized ? ir.i8 : ir.f32
        let vectorLanes = weightStride
        let interiorLength = interior.count * channels
        let full = ChannelRuns(self, channels: vectorLanes, pixels: pixelsPerBlock)
        let tailLanes = interiorLength % vectorLanes
        let tail = ChannelRuns(self, channels: tailLanes, pixels: 1)
        let borders = [0..<interior.lowerBound, interior.upperBound..<output[2]]
        let border = ChannelRuns(self, channels: channels, pixels: borders.map(\.count).max() ?? 1)
        let firstColumn = interior.lowerBound - columnGeometry.padBefore
        ir.loop("n", from: 0, to: output[0]) { batch in
            emitter.rowLoop("oy", from: 0, to: output[1]) { outputRow in
                let outputRowBase = emitter.affine(ir.add(emitter.affine(batch, times: output[1]), outputRow), times: output[2])
                // Each window row's input at the first interior pixel's window origin.
                let rowPointers = (0..<kernel.height).map { ky -> IRValue in
                    let y = emitter.affine(
                        outputRow, times: attributes.strides[0], plus: ky * attributes.dilations[0] - rows.padBefore)
                    let row = emitter.affine(
                        ir.add(emitter.affine(ir.add(emitter.affine(batch, times: input[1]), y), times: input[2]), emitter.index(firstColumn)),
                        times: channels)
                    guard rows.touchesPadding else { return ir.gep(elementType, inputPointer, [row]) }
                    // Outside the input the offset may be negative or past the end: only the selected pointer is formed.
                    let inside = emitter.isInRange(y, below: input[1])
                    return ir.select(
                        inside, ir.gep(elementType, inputPointer, [ir.select(inside, row, emitter.index(0))]),
                        ir.bitcast(zeroRows, to: ir.pointer(to: elementType)))
                }
                func vectors(at offsets: [IRValue], runs: ChannelRuns) {
                    let sources = offsets.map { offset in
                        (0..<(kernel.height * kernel.width)).map { tap in
                            let (ky, kx) = tap.quotientAndRemainder(dividingBy: kernel.width)
                            return ir.gep(
                                elementType, rowPointers[ky], [ir.add(offset, emitter.index(kx * attributes.dilations[1] * channels))])
                        }
                    }
                    let first = emitter.affine(outputRowBase, times: channels, plus: interior.lowerBound * channels)
                    forEachChannelVector(runs) { vector in
                        accumulate(
                            vector, sources: sources, slots: runs.slots, output: outputPointer,
                            outputBases: offsets.map { ir.add(first, $0) })
                    }
                }
                let blockLanes = vectorLanes * pixelsPerBlock
                ir.loop("block", from: 0, to: interiorLength / blockLanes) { block in
                    vectors(at: (0..<pixelsPerBlock).map { emitter.affine(block, times: blockLanes, plus: $0 * vectorLanes) }, runs: full)
                }
                let done = interiorLength / blockLanes * blockLanes
                for vector in 0..<((interiorLength - done) / vectorLanes) {
                    vectors(at: [emitter.index(done + vector * vectorLanes)], runs: full)
                }
                if tailLanes > 0 { vectors(at: [emitter.index(interiorLength - tailLanes)], runs: tail) }
                for columns in borders where !columns.isEmpty {
                    let block = PixelBlock(
                        batch: batch, outputRow: outputRow, columns: columns.map { emitter.index($0) },
                        outputBases: columns.map { emitter.affine(outputRowBase, times: channels, plus: $0 * channels) },
                        firstColumn: columns.lowerBound, rowsInside: !rows.touchesPadding,
                        columnsInside: Array(repeating: false, count: columns.count))
                    var sources = Array(repeating: [IRValue](), count: columns.count)
                    windows.forEachTap(
                        of: block, input: inputPointer, elementType: elementType, zeroRow: zeroRow, unrolled: true
                    ) { _, pointers in
                        for (pixel, pointer) in pointers.enumerated() { sources[pixel].append(pointer) }
                    }
                    forEachChannelVector(border) { vector in
                        accumulate(
                            vector, sources: sources, slots: border.slots, output: outputPointer, outputBases: block.outputBases)
                    }
                }
            }
        }
    }

    /// The int8 filter as 16-bit weights for pairwise multiplies, per block of `run.lanes`
    /// channels and tap: one vector with the even channels' weights in the even lanes (zeros
    /// between), one with the odd channels' weights in the odd lanes. Multiplied with the block's
    /// sign-extended inputs, the first sums the even channels into `lanes / 2` i32 lanes and the
    /// second the odd ones, with no shuffle per tap.
    fileprivate func packedInPairs(_ run: LaneRun) -> IRValue {
        let allChannels = weightStride
        let taps = kernel.height * kernel.width
        var halves: [Int16] = []
        for block in 0..<run.count {
            let first = run.start + block * run.lanes
            for tap in 0..<taps {
                for parity in 0..<2 {
                    for lane in 0..<run.lanes {
                        halves.append(lane % 2 == parity ? Int16(filterBytes[tap * allChannels + first + lane]) : 0)
                    }
                }
            }
        }
        let bytes = halves.flatMap { value in withUnsafeBytes(of: value.littleEndian, Array.init) }
        return ir.addConstantBytes(name: "dwconv.pairs", bytes: bytes, alignment: 64)
    }

    /// Block `block` of `run`'s channels (`run.lanes` of them, as two vectors of `run.lanes / 2`
    /// sums) of a block of pixels.
    private func accumulatePairwise(
        sources: [[IRValue]], run: LaneRun, block: IRValue, weights packed: IRValue, output: IRValue, outputBases: [IRValue]
    ) {
        guard let initialSums, let pairwise else { return }
        let taps = kernel.height * kernel.width
        let width = run.lanes
        let words = ir.vector(ir.i32, width / 2)
        let multiplyAdd = emitter.pairwiseMultiplyAdd(pairwise.multiply, lanes: width)
        let even = Array(stride(from: 0, to: width, by: 2))
        let odd = Array(stride(from: 1, to: width, by: 2))
        let interleave = (0..<(width / 2)).flatMap { [$0, $0 + width / 2] }
        let vectorBytes = width * 2
        let channel = emitter.affine(block, times: width, plus: run.start)
        let initial = ir.load(ir.vector(ir.i32, width), from: ir.gep(ir.i32, initialSums, [channel]), alignment: 4)
        var sums = Array(
            repeating: (ir.shuffle(initial, initial, mask: even), ir.shuffle(initial, initial, mask: odd)),
            count: sources.count)
        for tap in 0..<taps {
            let base = emitter.affine(block, times: taps * 2 * vectorBytes, plus: tap * 2 * vectorBytes)
            let wEven = ir.load(words, from: ir.gep(ir.i8, packed, [base]), alignment: vectorBytes)
            let wOdd = ir.load(
                words, from: ir.gep(ir.i8, packed, [ir.add(base, emitter.index(vectorBytes))]), alignment: vectorBytes)
            for (pixel, pointers) in sources.enumerated() {
                let raw = ir.load(ir.vector(ir.i8, width), from: ir.gep(ir.i8, pointers[tap], [channel]), alignment: 1)
                let x = ir.bitcast(ir.sext(raw, to: ir.vector(ir.i16, width)), to: words)
                sums[pixel] = (multiplyAdd(sums[pixel].0, x, wEven), multiplyAdd(sums[pixel].1, x, wOdd))
            }
        }
        for (pixel, outputBase) in outputBases.enumerated() {
            let ordered = ir.shuffle(sums[pixel].0, sums[pixel].1, mask: interleave)
            epilogue.store(emitter, ordered, channel: channel, lanes: width, output: output, offset: ir.add(outputBase, channel))
        }
    }

    fileprivate func accumulatorType(_ lanes: Int) -> IRType { epilogue.accumulatorType(emitter, lanes: lanes) }

    /// Block `block` of the plain run `run`'s channels of a block of pixels.
    private func accumulatePlain(
        sources: [[IRValue]], run: LaneRun, block: IRValue, slots: [IRValue], output: IRValue, outputBases: [IRValue]
    ) {
        let channels = weightStride
        let type = accumulatorType(run.lanes)
        let channel = emitter.affine(block, times: run.lanes, plus: run.start)
        let start: IRValue
        if let initialSums {
            start = ir.load(type, from: ir.gep(ir.i32, initialSums, [channel]), alignment: 4)
        } else {
            start = epilogue.initial(emitter, channel: channel, lanes: run.lanes)
        }
        var sums = Array(repeating: start, count: sources.count)
        for tap in 0..<(kernel.height * kernel.width) {
            let offset = ir.add(emitter.index(tap * channels), channel)
            if initialSums != nil {
                let narrow = ir.vector(ir.i16, run.lanes)
                let w = ir.sext(ir.load(ir.vector(ir.i8, run.lanes), from: ir.gep(ir.i8, weights, [offset]), alignment: 1), to: narrow)
                for (pixel, pointers) in sources.enumerated() {
                    let raw = ir.load(ir.vector(ir.i8, run.lanes), from: ir.gep(ir.i8, pointers[tap], [channel]), alignment: 1)
                    let product = ir.mul(ir.sext(raw, to: narrow), w)
                    sums[pixel] = ir.add(sums[pixel], ir.sext(product, to: type))
                }
            } else {
                let w = epilogue.weights(emitter, weights, weightType: weightType, offset: offset, lanes: run.lanes)
                for (pixel, pointers) in sources.enumerated() {
                    let x = emitter.loadVector(pointers[tap], offset: channel, lanes: run.lanes)
                    sums[pixel] = emitter.fma(x, w, sums[pixel], lanes: run.lanes)
                }
            }
        }
        for (pixel, outputBase) in outputBases.enumerated() {
            // Through the slot, so each block's sums stay in registers.
            ir.store(sums[pixel], to: slots[pixel], alignment: 4)
            epilogue.store(
                emitter, ir.load(type, from: slots[pixel], alignment: 4), channel: channel, lanes: run.lanes,
                output: output, offset: ir.add(outputBase, channel))
        }
    }

    /// Any channel multiplier: each output channel reads input channel `oc / multiplier`, taps bounds-checked.
    private func emitAnyMultiplier(input inputPointer: IRValue, output outputPointer: IRValue) {
        let (height, width, channels) = (input[1], input[2], input[3])
        let outChannels = output[3]
        let multiplier = outChannels / channels
        let (rows, columns) = attributes.geometry(input: input, kernel: (kernel.height, kernel.width))
        let type = epilogue.accumulatorType(emitter, lanes: 1)
        let slot = emitter.accumulator(type)
        emitter.forEachWindow(output: output, strides: attributes.strides, rows: rows, columns: columns) { window in
            ir.loop("c", from: 0, to: outChannels) { channel in
                let inputChannel = ir.sdiv(channel, emitter.index(multiplier))
                ir.store(epilogue.initial(emitter, channel: channel, lanes: 1), to: slot, alignment: 4)
                ir.loop("ky", from: 0, to: kernel.height) { ky in
                    let iy = ir.add(window.originY, emitter.affine(ky, times: attributes.dilations[0]))
                    ir.loop("kx", from: 0, to: kernel.width) { kx in
                        let ix = ir.add(window.originX, emitter.affine(kx, times: attributes.dilations[1]))
                        let inside = ir.and(emitter.isInRange(iy, below: height), emitter.isInRange(ix, below: width))
                        emitter.ifTrue(inside, when: rows.touchesPadding || columns.touchesPadding) {
                            let row = ir.add(emitter.affine(window.batch, times: height), iy)
                            let base = emitter.affine(ir.add(emitter.affine(row, times: width), ix), times: channels)
                            let x = epilogue.tapVector(emitter, input: inputPointer, offset: ir.add(base, inputChannel), lanes: 1)
                            let tap = emitter.affine(ir.add(emitter.affine(ky, times: kernel.width), kx), times: outChannels)
                            let w = epilogue.weights(emitter, weights, weightType: weightType, offset: ir.add(tap, channel), lanes: 1)
                            let current = ir.load(type, from: slot, alignment: 4)
                            ir.store(epilogue.multiplyAdd(emitter, x, w, current, lanes: 1), to: slot, alignment: 4)
                        }
                    }
                }
                epilogue.store(
                    emitter, ir.load(type, from: slot, alignment: 4), channel: channel, lanes: 1, output: outputPointer,
                    offset: ir.add(window.outputBase, channel))
            }
        }
    }
}
