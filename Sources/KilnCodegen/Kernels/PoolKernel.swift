import KilnIR

/// Max or average pooling over NHWC input, vectorized across channels.
/// Average pooling divides by the number of in-bounds taps, as TensorFlow Lite does.
struct PoolKernel {
    let emitter: KernelEmitter
    let input: Shape
    let output: Shape
    let attributes: Pool2DAttributes
    let isAverage: Bool
    /// Input and output parameters for int8 pooling; `nil` for float32.
    let quantization: (input: QuantizationParameters, output: QuantizationParameters)?

    func emit(input inputPointer: IRValue, output outputPointer: IRValue) {
        let ir = emitter.ir
        let (height, width, channels) = (input[1], input[2], input[3])
        let (rows, columns) = attributes.geometry(input: input)
        let runs = LaneRun.covering(channels, width: emitter.laneWidth)
        let isQuantized = quantization != nil
        func slotType(_ lanes: Int) -> IRType { isQuantized ? ir.vector(ir.i32, lanes) : emitter.vectorType(lanes) }
        let slots = Dictionary(uniqueKeysWithValues: Set(runs.map(\.lanes)).map {
            ($0, emitter.accumulator(slotType($0)))
        })
        emitter.forEachWindow(output: output, strides: attributes.strides, rows: rows, columns: columns) { window in
            for run in runs {
                guard let slot = slots[run.lanes] else { continue }
                ir.loop("c", from: 0, to: run.count) { block in
                    let channel = emitter.affine(block, times: run.lanes, plus: run.start)
                    let initial = isQuantized
                        ? ir.splat(ir.constant(isAverage ? 0 : -128, ir.i32), count: run.lanes)
                        : emitter.splat(isAverage ? 0 : -.infinity, lanes: run.lanes)
                    ir.store(initial, to: slot, alignment: 4)
                    ir.loop("ky", from: 0, to: attributes.window[0]) { ky in
                        let iy = ir.add(window.originY, ky)
                        ir.loop("kx", from: 0, to: attributes.window[1]) { kx in
                            let ix = ir.add(window.originX, kx)
                            let inside = ir.and(
                                emitter.isInRange(iy, below: height), emitter.isInRange(ix, below: width))
                            emitter.ifTrue(inside, when: rows.touchesPadding || columns.touchesPadding) {
                                let row = ir.add(emitter.affine(window.batch, times: height), iy)
                                let base = emitter.affine(ir.add(emitter.affine(row, times: width), ix), times: channels)
                                let offset = ir.add(base, channel)
                                let current = ir.load(slotType(run.lanes), from: slot, alignment: 4)
                                let combined: IRValue
                                if isQuantized {
                                    let raw = ir.load(ir.vector(ir.i8, run.lanes), from: ir.gep(ir.i8, inputPointer, [offset]), alignment: 1)
                                    let x = ir.sext(raw, to: slotType(run.lanes))
                                    combined = isAverage ? ir.add(current, x) : ir.select(ir.icmp(.sgt, x, current), x, current)
                                } else {
                                    let x = emitter.loadVector(inputPointer, offset: offset, lanes: run.lanes)
                                    combined = isAverage ? ir.fadd(current, x) : emitter.maximumPropagatingNaN(current, x)
                                }
                                ir.store(combined, to: slot, alignment: 4)
                            }
                        }
                    }
                    var result = ir.load(slotType(run.lanes), from: slot, alignment: 4)
                    let count = ir.mul(
                        validCount(origin: window.originY, window: attributes.window[0], size: height),
                        validCount(origin: window.originX, window: attributes.window[1], size: width))
                    let outputOffset = ir.add(window.outputBase, channel)
                    if let quantization {
                        if isAverage { result = roundedQuotient(result, count, lanes: run.lanes) }
                        emitter.storeRequantized(
                            result, from: quantization.input, to: quantization.output, lanes: run.lanes,
                            output: outputPointer, offset: outputOffset)
                    } else {
                        if isAverage {
                            result = ir.fdiv(result, ir.broadcast(ir.sitofp(count, to: ir.f32), count: run.lanes))
                        }
                        emitter.storeVector(result, outputPointer, offset: outputOffset)
                    }
                }
            }
        }
    }

    /// `sum / count` rounded half away from zero, lane-wise on i32.
    private func roundedQuotient(_ sum: IRValue, _ count: IRValue, lanes: Int) -> IRValue {
        let ir = emitter.ir
        let count32 = ir.broadcast(ir.trunc(count, to: ir.i32), count: lanes)
        let half = ir.sdiv(count32, ir.splat(ir.constant(2, ir.i32), count: lanes))
        let nonNegative = ir.icmp(.sge, sum, ir.zero(ir.vector(ir.i32, lanes)))
        let adjusted = ir.select(nonNegative, ir.add(sum, half), ir.sub(sum, half))
        return ir.sdiv(adjusted, count32)
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
