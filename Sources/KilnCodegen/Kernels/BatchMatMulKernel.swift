import KilnIR

/// `out[b, m, n] = Σ_k A[b, m, k] · B[b, k, n]` for every batch entry `b` of
/// the broadcast leading axes; an adjoint operand is read transposed.
///
/// float32 accumulates in f32 with fused multiply-adds; int8 accumulates
/// `(a - za)(b - zb)` in i32 and requantizes with the float32 multiplier
/// `sa · sb / so`, as ``QuantizedArithmetic`` defines it. Columns of `B` are
/// vectorized when they are contiguous (`B` not adjoint).
struct BatchMatMulKernel {
    let emitter: KernelEmitter
    let a: Shape
    let b: Shape
    let output: Shape
    let adjointA: Bool
    let adjointB: Bool
    /// The operands' and result's parameters for int8; `nil` for float32.
    var quantization: (a: QuantizationParameters, b: QuantizationParameters, output: QuantizationParameters)?

    private var ir: IRModule { emitter.ir }
    private var rows: Int { output[output.rank - 2] }
    private var columns: Int { output[output.rank - 1] }
    private var depth: Int { adjointA ? a[a.rank - 2] : a[a.rank - 1] }

    func emit(a aPointer: IRValue, b bPointer: IRValue, output outputPointer: IRValue) {
        let batchRank = output.rank - 2
        let batchShape = Array(output.dimensions.prefix(batchRank))
        func batchStrides(_ shape: Shape, matrix: Int) -> [Int] {
            let padded = [Int](repeating: 1, count: batchRank - (shape.rank - 2)) + shape.dimensions.dropLast(2)
            let dense = Shape(padded).strides.map { $0 * matrix }
            return (0..<batchRank).map { padded[$0] == 1 && batchShape[$0] != 1 ? 0 : dense[$0] }
        }
        let stridesA = batchStrides(a, matrix: rows * depth)
        let stridesB = batchStrides(b, matrix: depth * columns)
        let stridesOut = Shape(batchShape).strides.map { $0 * rows * columns }
        func walk(axis: Int, offsets: (a: IRValue, b: IRValue, out: IRValue)) {
            guard axis < batchRank else {
                emitMatrix(a: aPointer, b: bPointer, output: outputPointer, bases: offsets)
                return
            }
            ir.loop("batch\(axis)", from: 0, to: batchShape[axis]) { i in
                walk(
                    axis: axis + 1,
                    offsets: (
                        ir.add(offsets.a, emitter.affine(i, times: stridesA[axis])),
                        ir.add(offsets.b, emitter.affine(i, times: stridesB[axis])),
                        ir.add(offsets.out, emitter.affine(i, times: stridesOut[axis]))
                    ))
            }
        }
        let zero = emitter.index(0)
        walk(axis: 0, offsets: (zero, zero, zero))
    }

    /// One `[rows, columns]` product at the given element offsets.
    private func emitMatrix(
        a aPointer: IRValue, b bPointer: IRValue, output outputPointer: IRValue,
        bases: (a: IRValue, b: IRValue, out: IRValue)
    ) {
        let runs = adjointB ? [LaneRun(start: 0, lanes: 1, count: columns)] : LaneRun.covering(columns, width: emitter.laneWidth)
        let elementType = quantization == nil ? ir.f32 : ir.i8
        ir.loop("m", from: 0, to: rows) { m in
            for run in runs {
                let accumulatorType = quantization == nil ? emitter.vectorType(run.lanes) : ir.vector(ir.i32, run.lanes)
                let slot = emitter.accumulator(accumulatorType)
                ir.loop("n", from: 0, to: run.count) { block in
                    let n = emitter.affine(block, times: run.lanes, plus: run.start)
                    ir.store(ir.zero(accumulatorType), to: slot, alignment: 4)
                    ir.loop("k", from: 0, to: depth) { k in
                        let aOffset = adjointA ? ir.add(emitter.affine(k, times: rows), m) : ir.add(emitter.affine(m, times: depth), k)
                        let bOffset = adjointB ? ir.add(emitter.affine(n, times: depth), k) : ir.add(emitter.affine(k, times: columns), n)
                        let x = ir.load(elementType, from: ir.gep(elementType, aPointer, [ir.add(bases.a, aOffset)]), alignment: 1)
                        let y = ir.load(
                            ir.vector(elementType, run.lanes), from: ir.gep(elementType, bPointer, [ir.add(bases.b, bOffset)]),
                            alignment: 1)
                        let sum = ir.load(accumulatorType, from: slot, alignment: 4)
                        ir.store(multiplyAdd(x, y, sum, lanes: run.lanes), to: slot, alignment: 4)
                    }
                    let offset = ir.add(bases.out, ir.add(emitter.affine(m, times: columns), n))
                    store(ir.load(accumulatorType, from: slot, alignment: 4), output: outputPointer, offset: offset, lanes: run.lanes)
                }
            }
        }
    }

    /// `sum + x · y` with `x` a scalar repeated across the lanes of `y`.
    private func multiplyAdd(_ x: IRValue, _ y: IRValue, _ sum: IRValue, lanes: Int) -> IRValue {
        guard let quantization else { return emitter.fma(ir.broadcast(x, count: lanes), y, sum, lanes: lanes) }
        let intType = ir.vector(ir.i32, lanes)
        let left = ir.broadcast(
            ir.sub(ir.sext(x, to: ir.i32), ir.constant(Int(quantization.a.zeroPoints[0]), ir.i32)), count: lanes)
        let right = ir.sub(
            ir.sext(y, to: intType), ir.splat(ir.constant(Int(quantization.b.zeroPoints[0]), ir.i32), count: lanes))
        return ir.add(sum, ir.mul(left, right))
    }

    private func store(_ sum: IRValue, output: IRValue, offset: IRValue, lanes: Int) {
        guard let quantization else { return emitter.storeVector(sum, output, offset: offset) }
        let scale = QuantizedArithmetic.requantizationScale(
            input: quantization.a.scales[0], filter: quantization.b.scales[0], output: quantization.output.scales[0])
        let steps = ir.fmul(ir.sitofp(sum, to: emitter.vectorType(lanes)), emitter.splat(scale, lanes: lanes))
        emitter.storeQuantized(
            steps, zeroPoint: quantization.output.zeroPoints[0], range: QuantizedArithmetic.int8Range, lanes: lanes,
            output: output, offset: offset)
    }
}
