import KilnIR

/// Depthwise convolution over NHWC input, vectorized across channels:
/// `y[n, oy, ox, c] = Σ_{ky, kx} x[n, oy·s + ky·d − p, ox·s + kx·d − p, c] · w[ky, kx, c]`,
/// then the ``Epilogue``.
///
/// With a multiplier of 1 (every depthwise layer converters emit), output
/// pixels go in blocks of `pixelsPerBlock` that share each weight vector, with
/// the taps unrolled and read as ``ConvolutionWindows`` lays them out. int8 layers multiply the raw bytes in 16 bits (exact:
/// `|x · w| ≤ 128²`) and start each sum at `bias − zx · Σw`, so no zero point is
/// subtracted per tap. Other multipliers read input channel `oc / multiplier`
/// one lane at a time, with bounds checks.
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
    /// int8 layers with a multiplier of 1: each channel's starting sum `bias − zx · Σw` (i32); the
    /// epilogue then has no bias of its own.
    let initialSums: IRValue?
    /// int8 layers on AVX-512 VNNI: blocks of 32 channels multiply with `vpdpwssd`.
    var usesVNNI = false

    private var ir: IRModule { emitter.ir }
    private var input: Shape { windows.input }
    private var output: Shape { windows.output }
    private var kernel: (height: Int, width: Int) { windows.kernel }
    private var attributes: Conv2DAttributes { windows.attributes }

    func emit(input inputPointer: IRValue, output outputPointer: IRValue) {
        guard output[3] == input[3], let zeroRow else { return emitAnyMultiplier(input: inputPointer, output: outputPointer) }
        // With VNNI, whole blocks of 32 channels and then one of 16 go to `accumulateVNNI`; the rest to
        // the plain vectors.
        var vnniRuns: [LaneRun] = []
        if usesVNNI, initialSums != nil {
            let channels = output[3]
            if channels >= 32 { vnniRuns.append(LaneRun(start: 0, lanes: 32, count: channels / 32)) }
            if channels % 32 >= 16 { vnniRuns.append(LaneRun(start: channels / 32 * 32, lanes: 16, count: 1)) }
        }
        let vnniChannels = vnniRuns.last.map { $0.start + $0.lanes * $0.count } ?? 0
        let vnniWeights = vnniRuns.map(packedForVNNI)
        let runs = LaneRun.covering(output[3] - vnniChannels, width: emitter.laneWidth).map {
            LaneRun(start: $0.start + vnniChannels, lanes: $0.lanes, count: $0.count)
        }
        let slots = Dictionary(uniqueKeysWithValues: Set(runs.map(\.lanes)).map { lanes in
            (lanes, (0..<pixelsPerBlock).map { _ in emitter.accumulator(accumulatorType(lanes)) })
        })
        let elementType = epilogue.isQuantized ? ir.i8 : ir.f32
        windows.forEachBlock(pixels: pixelsPerBlock) { block in
            var sources = Array(repeating: [IRValue](), count: block.columns.count)
            windows.forEachTap(of: block, input: inputPointer, elementType: elementType, zeroRow: zeroRow, unrolled: true) { _, pointers in
                for (pixel, pointer) in pointers.enumerated() { sources[pixel].append(pointer) }
            }
            for (run, weights) in zip(vnniRuns, vnniWeights) {
                accumulateVNNI(sources: sources, run: run, weights: weights, output: outputPointer, outputBases: block.outputBases)
            }
            accumulate(sources: sources, runs: runs, slots: slots, output: outputPointer, outputBases: block.outputBases)
        }
    }

    /// The int8 filter as 16-bit weights for `vpdpwssd`, per block of `run.lanes` (32 or 16)
    /// channels and tap: one vector with the even channels' weights in the even lanes (zeros
    /// between), one with the odd channels' weights in the odd lanes. Multiplied with the block's
    /// sign-extended inputs, the first sums the even channels into `lanes / 2` i32 lanes and the
    /// second the odd ones, with no shuffle per tap.
    private func packedForVNNI(_ run: LaneRun) -> IRValue {
        let allChannels = output[3]
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
        return ir.addConstantBytes(name: "dwconv.vnni", bytes: bytes, alignment: 64)
    }

    /// The channels of `run` (blocks of 32 on 512-bit or 16 on 256-bit `vpdpwssd`) of a block of pixels.
    private func accumulateVNNI(
        sources: [[IRValue]], run: LaneRun, weights packed: IRValue, output: IRValue, outputBases: [IRValue]
    ) {
        guard let initialSums else { return }
        let taps = kernel.height * kernel.width
        let width = run.lanes
        let words = ir.vector(ir.i32, width / 2)
        let dot = ir.intrinsic(
            "llvm.x86.avx512.vpdpwssd.\(width * 16)", overloads: [], returning: words, parameters: [words, words, words])
        let even = Array(stride(from: 0, to: width, by: 2))
        let odd = Array(stride(from: 1, to: width, by: 2))
        let interleave = (0..<(width / 2)).flatMap { [$0, $0 + width / 2] }
        let vectorBytes = width * 2
        ir.loop("c", from: 0, to: run.count) { block in
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
                    sums[pixel] = (
                        ir.call(dot.function, type: dot.type, [sums[pixel].0, x, wEven]),
                        ir.call(dot.function, type: dot.type, [sums[pixel].1, x, wOdd])
                    )
                }
            }
            for (pixel, outputBase) in outputBases.enumerated() {
                let ordered = ir.shuffle(sums[pixel].0, sums[pixel].1, mask: interleave)
                epilogue.store(emitter, ordered, channel: channel, lanes: width, output: output, offset: ir.add(outputBase, channel))
            }
        }
    }

    private func accumulatorType(_ lanes: Int) -> IRType { epilogue.accumulatorType(emitter, lanes: lanes) }

    /// Every channel of a block of pixels; `sources[pixel][tap]` points at the tap's first channel.
    private func accumulate(
        sources: [[IRValue]], runs: [LaneRun], slots: [Int: [IRValue]], output: IRValue, outputBases: [IRValue]
    ) {
        let channels = self.output[3]
        for run in runs {
            guard let slots = slots[run.lanes] else { continue }
            let type = accumulatorType(run.lanes)
            ir.loop("c", from: 0, to: run.count) { block in
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
                    // Through the slot, so the sums of the channel loop's iterations stay in registers.
                    ir.store(sums[pixel], to: slots[pixel], alignment: 4)
                    epilogue.store(
                        emitter, ir.load(type, from: slots[pixel], alignment: 4), channel: channel, lanes: run.lanes,
                        output: output, offset: ir.add(outputBase, channel))
                }
            }
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
