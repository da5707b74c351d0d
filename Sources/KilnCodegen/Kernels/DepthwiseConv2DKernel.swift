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
    let windows: ConvolutionWindows
    let pixelsPerBlock: Int
    /// int8 layers with a multiplier of 1: each channel's starting sum `bias − zx · Σw` (i32), and a row of
    /// `C` input zero points; the epilogue then has no bias of its own.
    let quantized: (initial: IRValue, zeroRow: IRValue)?
    /// Float layers: a row of `C` zeros.
    let floatZeroRow: IRValue?

    private var ir: IRModule { emitter.ir }
    private var input: Shape { windows.input }
    private var output: Shape { windows.output }
    private var kernel: (height: Int, width: Int) { windows.kernel }
    private var attributes: Conv2DAttributes { windows.attributes }

    func emit(input inputPointer: IRValue, output outputPointer: IRValue) {
        guard output[3] == input[3] else { return emitAnyMultiplier(input: inputPointer, output: outputPointer) }
        let runs = LaneRun.covering(output[3], width: emitter.laneWidth)
        let slots = Dictionary(uniqueKeysWithValues: Set(runs.map(\.lanes)).map { lanes in
            (lanes, (0..<pixelsPerBlock).map { _ in emitter.accumulator(accumulatorType(lanes)) })
        })
        let elementType = quantized == nil ? ir.f32 : ir.i8
        let zeroRow = quantized?.zeroRow ?? floatZeroRow ?? weights
        windows.forEachBlock(pixels: pixelsPerBlock) { block in
            var sources = Array(repeating: [IRValue](), count: block.columns.count)
            windows.forEachTap(of: block, input: inputPointer, elementType: elementType, zeroRow: zeroRow, unrolled: true) { _, pointers in
                for (pixel, pointer) in pointers.enumerated() { sources[pixel].append(pointer) }
            }
            accumulate(sources: sources, runs: runs, slots: slots, output: outputPointer, outputBases: block.outputBases)
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
                if let quantized {
                    start = ir.load(type, from: ir.gep(ir.i32, quantized.initial, [channel]), alignment: 4)
                } else {
                    start = epilogue.initial(emitter, channel: channel, lanes: run.lanes)
                }
                var sums = Array(repeating: start, count: sources.count)
                for tap in 0..<(kernel.height * kernel.width) {
                    let offset = ir.add(emitter.index(tap * channels), channel)
                    if quantized != nil {
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
        let runs = [LaneRun(start: 0, lanes: 1, count: outChannels)]
        let slot = emitter.accumulator(epilogue.accumulatorType(emitter, lanes: 1))
        let type = epilogue.accumulatorType(emitter, lanes: 1)
        let plainEpilogue = epilogue
        emitter.forEachWindow(output: output, strides: attributes.strides, rows: rows, columns: columns) { window in
            for run in runs {
                ir.loop("c", from: 0, to: run.count) { channel in
                    let inputChannel = ir.sdiv(channel, emitter.index(multiplier))
                    ir.store(plainEpilogue.initial(emitter, channel: channel, lanes: 1), to: slot, alignment: 4)
                    ir.loop("ky", from: 0, to: kernel.height) { ky in
                        let iy = ir.add(window.originY, emitter.affine(ky, times: attributes.dilations[0]))
                        ir.loop("kx", from: 0, to: kernel.width) { kx in
                            let ix = ir.add(window.originX, emitter.affine(kx, times: attributes.dilations[1]))
                            let inside = ir.and(emitter.isInRange(iy, below: height), emitter.isInRange(ix, below: width))
                            emitter.ifTrue(inside, when: rows.touchesPadding || columns.touchesPadding) {
                                let row = ir.add(emitter.affine(window.batch, times: height), iy)
                                let base = emitter.affine(ir.add(emitter.affine(row, times: width), ix), times: channels)
                                let x = plainEpilogue.tapVector(emitter, input: inputPointer, offset: ir.add(base, inputChannel), lanes: 1)
                                let tap = emitter.affine(ir.add(emitter.affine(ky, times: kernel.width), kx), times: outChannels)
                                let w = plainEpilogue.weights(emitter, weights, weightType: weightType, offset: ir.add(tap, channel), lanes: 1)
                                let current = ir.load(type, from: slot, alignment: 4)
                                ir.store(plainEpilogue.multiplyAdd(emitter, x, w, current, lanes: 1), to: slot, alignment: 4)
                            }
                        }
                    }
                    plainEpilogue.store(
                        emitter, ir.load(type, from: slot, alignment: 4), channel: channel, lanes: 1, output: outputPointer,
                        offset: ir.add(window.outputBase, channel))
                }
            }
        }
    }
}
