import KilnIR

/// Depthwise convolution over NHWC input, vectorized across channels.
///
/// The filter `[1, kh, kw, channels · multiplier]` is already channel-minor,
/// so it is used as stored. With a multiplier of 1 each tap is one vector
/// load of input and filter; otherwise each output channel reads its input
/// channel `oc / multiplier` one lane at a time.
struct DepthwiseConv2DKernel {
    let emitter: KernelEmitter
    let epilogue: Epilogue
    let weights: IRValue
    let weightType: IRType
    let input: Shape
    let output: Shape
    let kernel: (height: Int, width: Int)
    let attributes: Conv2DAttributes

    func emit(input inputPointer: IRValue, output outputPointer: IRValue) {
        let ir = emitter.ir
        let (height, width, channels) = (input[1], input[2], input[3])
        let outChannels = output[3]
        let multiplier = outChannels / channels
        let (rows, columns) = attributes.geometry(input: input, kernel: (kernel.height, kernel.width))
        let runs = multiplier == 1
            ? LaneRun.covering(outChannels, width: emitter.laneWidth) : [LaneRun(start: 0, lanes: 1, count: outChannels)]
        let slots = Dictionary(uniqueKeysWithValues: Set(runs.map(\.lanes)).map {
            ($0, emitter.accumulator(epilogue.accumulatorType(emitter, lanes: $0)))
        })
        emitter.forEachWindow(output: output, strides: attributes.strides, rows: rows, columns: columns) { window in
            for run in runs {
                guard let slot = slots[run.lanes] else { continue }
                let type = epilogue.accumulatorType(emitter, lanes: run.lanes)
                ir.loop("c", from: 0, to: run.count) { block in
                    let channel = emitter.affine(block, times: run.lanes, plus: run.start)
                    let inputChannel = multiplier == 1 ? channel : ir.sdiv(channel, emitter.index(multiplier))
                    ir.store(epilogue.initial(emitter, channel: channel, lanes: run.lanes), to: slot, alignment: 4)
                    ir.loop("ky", from: 0, to: kernel.height) { ky in
                        let iy = ir.add(window.originY, emitter.affine(ky, times: attributes.dilations[0]))
                        ir.loop("kx", from: 0, to: kernel.width) { kx in
                            let ix = ir.add(window.originX, emitter.affine(kx, times: attributes.dilations[1]))
                            let inside = ir.and(
                                emitter.isInRange(iy, below: height), emitter.isInRange(ix, below: width))
                            emitter.ifTrue(inside, when: rows.touchesPadding || columns.touchesPadding) {
                                let row = ir.add(emitter.affine(window.batch, times: height), iy)
                                let base = emitter.affine(ir.add(emitter.affine(row, times: width), ix), times: channels)
                                let x = epilogue.tapVector(
                                    emitter, input: inputPointer, offset: ir.add(base, inputChannel), lanes: run.lanes)
                                let tap = emitter.affine(ir.add(emitter.affine(ky, times: kernel.width), kx), times: outChannels)
                                let w = epilogue.weights(
                                    emitter, weights, weightType: weightType, offset: ir.add(tap, channel), lanes: run.lanes)
                                let current = ir.load(type, from: slot, alignment: 4)
                                ir.store(epilogue.multiplyAdd(emitter, x, w, current, lanes: run.lanes), to: slot, alignment: 4)
                            }
                        }
                    }
                    epilogue.store(
                        emitter, ir.load(type, from: slot, alignment: 4), channel: channel, lanes: run.lanes,
                        output: outputPointer, offset: ir.add(window.outputBase, channel))
                }
            }
        }
    }
}
