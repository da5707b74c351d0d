import KilnIR

/// Element-wise kernels: activations, copies, and binary ops with NumPy broadcasting.
struct ElementwiseKernel {
    let emitter: KernelEmitter

    /// `output[i] = f(input[i])` over `count` elements, in full vectors then narrower tails.
    func emitUnary(count: Int, input: IRValue, output: IRValue, _ function: (IRValue, Int) -> IRValue) {
        let ir = emitter.ir
        for run in LaneRun.covering(count, width: emitter.laneWidth) {
            ir.loop("i", from: 0, to: run.count) { block in
                let offset = emitter.affine(block, times: run.lanes, plus: run.start)
                let value = emitter.loadVector(input, offset: offset, lanes: run.lanes)
                emitter.storeVector(function(value, run.lanes), output, offset: offset)
            }
        }
    }

    /// How a binary kernel reads its operands and writes its result.
    struct BinaryElements {
        /// Loads `lanes` operand values at an offset as f32, or one value repeated when `repeated`.
        var load: (_ operand: Int, _ pointer: IRValue, _ offset: IRValue, _ lanes: Int, _ repeated: Bool) -> IRValue
        /// Stores `lanes` f32 results at an offset.
        var store: (_ value: IRValue, _ offset: IRValue, _ lanes: Int) -> Void
    }

    /// float32 operands and result, with `activation` applied.
    func floatElements(output: IRValue, activation: Activation?) -> BinaryElements {
        BinaryElements(
            load: { _, pointer, offset, lanes, repeated in
                repeated
                    ? emitter.broadcastLoad(pointer, offset: offset, lanes: lanes)
                    : emitter.loadVector(pointer, offset: offset, lanes: lanes)
            },
            store: { value, offset, lanes in
                emitter.storeVector(emitter.activate(value, activation, lanes: lanes), output, offset: offset)
            })
    }

    /// int8 operands dequantized to f32, and the result quantized to `result` within `range`.
    func quantizedElements(
        operands: [QuantizationParameters], result: QuantizationParameters, range: ClosedRange<Int32>, output: IRValue
    ) -> BinaryElements {
        let ir = emitter.ir
        return BinaryElements(
            load: { operand, pointer, offset, lanes, repeated in
                let raw = repeated
                    ? ir.broadcast(ir.load(ir.i8, from: ir.gep(ir.i8, pointer, [offset]), alignment: 1), count: lanes)
                    : ir.load(ir.vector(ir.i8, lanes), from: ir.gep(ir.i8, pointer, [offset]), alignment: 1)
                return emitter.dequantized(
                    raw, scale: operands[operand].scales[0], zeroPoint: operands[operand].zeroPoints[0], lanes: lanes)
            },
            store: { value, offset, lanes in
                // A NaN result (0/0, a negative base's fractional power) lands on the zero point, as in the reference.
                let real = emitter.replacingNaN(value, with: emitter.splat(0, lanes: lanes))
                let steps = emitter.divide(real, byConstant: result.scales[0], lanes: lanes)
                emitter.storeQuantized(
                    steps, zeroPoint: result.zeroPoints[0], range: range, lanes: lanes, output: output, offset: offset)
            })
    }

    /// `combine(a, b, lanes)` broadcast to `shape`.
    ///
    /// Leading axes are walked with nested loops; the last axis is vectorized,
    /// with an operand of extent 1 there loaded once and repeated.
    func emitBinary(
        shape: Shape, a: (pointer: IRValue, shape: Shape), b: (pointer: IRValue, shape: Shape),
        elements: BinaryElements, combine: @escaping (IRValue, IRValue, Int) -> IRValue
    ) {
        let ir = emitter.ir
        let fullRank = max(shape.rank, 1)
        let fullDimensions = shape.rank == 0 ? [1] : shape.dimensions
        func broadcastStrides(_ operand: Shape) -> [Int] {
            let padded = [Int](repeating: 1, count: fullRank - operand.rank) + operand.dimensions
            let dense = Shape(padded).strides
            return (0..<fullRank).map { padded[$0] == 1 && fullDimensions[$0] != 1 ? 0 : dense[$0] }
        }
        // Axes that continue each other in all three tensors (same-shape operands, say) are walked
        // as one, so the innermost vectorized loop is as long as possible.
        let (fullA, fullB, fullOut) = (broadcastStrides(a.shape), broadcastStrides(b.shape), Shape(fullDimensions).strides)
        var axes = [(size: fullDimensions[fullRank - 1], a: fullA[fullRank - 1], b: fullB[fullRank - 1], out: fullOut[fullRank - 1])]
        for axis in stride(from: fullRank - 2, through: 0, by: -1) {
            let next = (size: fullDimensions[axis], a: fullA[axis], b: fullB[axis], out: fullOut[axis])
            let inner = axes[0]
            if next.a == inner.a * inner.size, next.b == inner.b * inner.size, next.out == inner.out * inner.size {
                axes[0].size *= next.size
            } else {
                axes.insert(next, at: 0)
            }
        }
        let rank = axes.count
        let dimensions = axes.map(\.size)
        let (stridesA, stridesB, outputStrides) = (axes.map(\.a), axes.map(\.b), axes.map(\.out))
        let inner = dimensions[rank - 1]

        func walk(axis: Int, offsets: (out: IRValue, a: IRValue, b: IRValue)) {
            if axis == rank - 1 {
                for run in LaneRun.covering(inner, width: emitter.laneWidth) {
                    ir.loop("i", from: 0, to: run.count) { block in
                        let position = emitter.affine(block, times: run.lanes, plus: run.start)
                        func operand(_ index: Int, _ pointer: IRValue, _ base: IRValue, _ stride: Int) -> IRValue {
                            stride == 0
                                ? elements.load(index, pointer, base, run.lanes, true)
                                : elements.load(index, pointer, ir.add(base, position), run.lanes, false)
                        }
                        let x = operand(0, a.pointer, offsets.a, stridesA[axis])
                        let y = operand(1, b.pointer, offsets.b, stridesB[axis])
                        elements.store(combine(x, y, run.lanes), ir.add(offsets.out, position), run.lanes)
                    }
                }
                return
            }
            ir.loop("d\(axis)", from: 0, to: dimensions[axis]) { coordinate in
                walk(
                    axis: axis + 1,
                    offsets: (
                        ir.add(offsets.out, emitter.affine(coordinate, times: outputStrides[axis])),
                        ir.add(offsets.a, emitter.affine(coordinate, times: stridesA[axis])),
                        ir.add(offsets.b, emitter.affine(coordinate, times: stridesB[axis]))
                    ))
            }
        }
        let zero = emitter.index(0)
        walk(axis: 0, offsets: (zero, zero, zero))
    }

    /// Softmax over the last axis: max, then `e^(x - max)` and its sum, then scale by `1/sum`.
    func emitSoftmax(shape: Shape, input: IRValue, output: IRValue) {
        let ir = emitter.ir
        let depth = shape.dimensions.last ?? 1
        let rows = shape.elementCount / max(depth, 1)
        let width = emitter.laneWidth
        let runs = LaneRun.covering(depth, width: width)
        let slots = Dictionary(uniqueKeysWithValues: Set(runs.map(\.lanes)).map {
            ($0, emitter.accumulator(emitter.vectorType($0)))
        })
        let scalar = emitter.accumulator(ir.f32)
        ir.loop("row", from: 0, to: rows) { row in
            let base = emitter.affine(row, times: depth)
            // Reduce each run into its own vector slot, then fold the runs into `scalar`.
            func reduce(initial: Float, element: (IRValue, Int) -> IRValue, combineVectors: (IRValue, IRValue) -> IRValue,
                horizontal: (IRValue, Int) -> IRValue, combineScalars: (IRValue, IRValue) -> IRValue) -> IRValue
            {
                ir.store(ir.constant(initial), to: scalar, alignment: 4)
                for run in runs {
                    guard let slot = slots[run.lanes] else { continue }
                    ir.store(emitter.splat(initial, lanes: run.lanes), to: slot, alignment: 4)
                    ir.loop("i", from: 0, to: run.count) { block in
                        let offset = ir.add(base, emitter.affine(block, times: run.lanes, plus: run.start))
                        let current = ir.load(emitter.vectorType(run.lanes), from: slot, alignment: 4)
                        ir.store(combineVectors(current, element(offset, run.lanes)), to: slot, alignment: 4)
                    }
                    let folded = horizontal(ir.load(emitter.vectorType(run.lanes), from: slot, alignment: 4), run.lanes)
                    ir.store(combineScalars(ir.load(ir.f32, from: scalar, alignment: 4), folded), to: scalar, alignment: 4)
                }
                return ir.load(ir.f32, from: scalar, alignment: 4)
            }
            let maximum = reduce(
                initial: -.infinity, element: { emitter.loadVector(input, offset: $0, lanes: $1) },
                combineVectors: emitter.maximumPropagatingNaN, horizontal: emitter.horizontalMax,
                combineScalars: emitter.maximumPropagatingNaN)
            let sum = reduce(
                initial: 0,
                element: { offset, lanes in
                    let shifted = ir.fsub(
                        emitter.loadVector(input, offset: offset, lanes: lanes), ir.broadcast(maximum, count: lanes))
                    let value = emitter.exp(shifted, lanes: lanes)
                    emitter.storeVector(value, output, offset: offset)
                    return value
                }, combineVectors: { ir.fadd($0, $1) }, horizontal: emitter.horizontalSum,
                combineScalars: { ir.fadd($0, $1) })
            for run in runs {
                ir.loop("i", from: 0, to: run.count) { block in
                    let offset = ir.add(base, emitter.affine(block, times: run.lanes, plus: run.start))
                    let value = emitter.loadVector(output, offset: offset, lanes: run.lanes)
                    emitter.storeVector(ir.fdiv(value, ir.broadcast(sum, count: run.lanes)), output, offset: offset)
                }
            }
        }
    }
}
