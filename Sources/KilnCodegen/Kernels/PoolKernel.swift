import KilnIR

/// Max or average pooling over NHWC input, vectorized across channels.
/// Average pooling divides by the number of in-bounds taps, as TensorFlow Lite does.
struct PoolKernel {
    let emitter: KernelEmitter
    let input: Shape
    let output: Shape
    let attributes: Pool2DAttributes
    let isAverage: Bool

    func emit(input inputPointer: IRValue, output outputPointer: IRValue) {
        let ir = emitter.ir
        let (height, width, channels) = (input[1], input[2], input[3])
        let rows = WindowGeometry(
            inputSize: height, window: attributes.window[0], stride: attributes.strides[0], padding: attributes.padding)
        let columns = WindowGeometry(
            inputSize: width, window: attributes.window[1], stride: attributes.strides[1], padding: attributes.padding)
        let runs = LaneRun.covering(channels, width: emitter.laneWidth)
        let slots = Dictionary(uniqueKeysWithValues: Set(runs.map(\.lanes)).map {
            ($0, emitter.accumulator(emitter.vectorType($0)))
        })
        ir.loop("batch", from: 0, to: input[0]) { batch in
            ir.loop("oy", from: 0, to: output[1]) { oy in
                ir.loop("ox", from: 0, to: output[2]) { ox in
                    let originY = emitter.affine(oy, times: attributes.strides[0], plus: -rows.padBefore)
                    let originX = emitter.affine(ox, times: attributes.strides[1], plus: -columns.padBefore)
                    let pixel = emitter.affine(ir.add(emitter.affine(batch, times: output[1]), oy), times: output[2])
                    let outputBase = emitter.affine(ir.add(pixel, ox), times: channels)
                    for run in runs {
                        guard let slot = slots[run.lanes] else { continue }
                        ir.loop("c", from: 0, to: run.count) { block in
                            let channel = emitter.affine(block, times: run.lanes, plus: run.start)
                            let initial: Float = isAverage ? 0 : -.infinity
                            ir.store(emitter.splat(initial, lanes: run.lanes), to: slot, alignment: 4)
                            ir.loop("ky", from: 0, to: attributes.window[0]) { ky in
                                let iy = ir.add(originY, ky)
                                ir.loop("kx", from: 0, to: attributes.window[1]) { kx in
                                    let ix = ir.add(originX, kx)
                                    let inside = ir.and(
                                        emitter.isInRange(iy, below: height), emitter.isInRange(ix, below: width))
                                    emitter.ifTrue(inside) {
                                        let row = ir.add(emitter.affine(batch, times: height), iy)
                                        let base = emitter.affine(ir.add(emitter.affine(row, times: width), ix), times: channels)
                                        let x = emitter.loadVector(inputPointer, offset: ir.add(base, channel), lanes: run.lanes)
                                        let current = ir.load(emitter.vectorType(run.lanes), from: slot, alignment: 4)
                                        let combined = isAverage ? ir.fadd(current, x) : emitter.maximum(current, x)
                                        ir.store(combined, to: slot, alignment: 4)
                                    }
                                }
                            }
                            var result = ir.load(emitter.vectorType(run.lanes), from: slot, alignment: 4)
                            if isAverage {
                                let count = ir.mul(
                                    validCount(origin: originY, window: attributes.window[0], size: height),
                                    validCount(origin: originX, window: attributes.window[1], size: width))
                                let divisor = ir.broadcast(ir.sitofp(count, to: ir.f32), count: run.lanes)
                                result = ir.fdiv(result, divisor)
                            }
                            emitter.storeVector(result, outputPointer, offset: ir.add(outputBase, channel))
                        }
                    }
                }
            }
        }
    }

    /// `min(origin + window, size) - max(origin, 0)`: taps of one axis inside the input.
    private func validCount(origin: IRValue, window: Int, size: Int) -> IRValue {
        let ir = emitter.ir
        let end = ir.add(origin, emitter.index(window))
        let clampedEnd = ir.select(ir.icmp(.slt, end, emitter.index(size)), end, emitter.index(size))
        let zero = emitter.index(0)
        let clampedStart = ir.select(ir.icmp(.sgt, origin, zero), origin, zero)
        return ir.sub(clampedEnd, clampedStart)
    }
}
