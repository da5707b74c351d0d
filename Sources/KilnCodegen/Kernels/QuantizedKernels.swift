import KilnIR

extension KernelEmitter {
    /// Stores i32 values expressed in `input`'s int8 parameters as int8 in `output`'s,
    /// as the reference's requantization does (a plain narrowing when they are equal).
    func storeRequantized(
        _ values: IRValue, from input: QuantizationParameters, to output: QuantizationParameters, lanes: Int,
        output pointer: IRValue, offset: IRValue, range: ClosedRange<Int32> = QuantizedArithmetic.int8Range
    ) {
        let narrow: IRValue
        if input.scales[0] == output.scales[0], input.zeroPoints[0] == output.zeroPoints[0] {
            narrow = ir.trunc(clamped(values, to: range, lanes: lanes), to: ir.vector(ir.i8, lanes))
        } else {
            let centered = ir.sub(values, ir.splat(ir.constant(Int(input.zeroPoints[0]), ir.i32), count: lanes))
            let real = ir.fmul(splat(input.scales[0], lanes: lanes), ir.sitofp(centered, to: vectorType(lanes)))
            let steps = divide(real, byConstant: output.scales[0], lanes: lanes)
            narrow = quantized(steps, zeroPoint: output.zeroPoints[0], range: range, lanes: lanes)
        }
        ir.store(narrow, to: ir.gep(ir.i8, pointer, [offset]), alignment: 1)
    }

    /// Loads `lanes` int8 values at `offset` widened to i32.
    func loadInt8(_ base: IRValue, offset: IRValue, lanes: Int) -> IRValue {
        let raw = ir.load(ir.vector(ir.i8, lanes), from: ir.gep(ir.i8, base, [offset]), alignment: 1)
        return ir.sext(raw, to: ir.vector(ir.i32, lanes))
    }
}

/// Element-wise and row-wise kernels on int8 tensors.
struct QuantizedKernels {
    let emitter: KernelEmitter

    /// `output[i] = table[input[i] + 128]`: int8 activations as a 256-entry lookup.
    func emitLookup(count: Int, table: [Int8], input: IRValue, output: IRValue) {
        let ir = emitter.ir
        let global = ir.addConstantBytes(name: "lut", bytes: table.map { UInt8(bitPattern: $0) }, alignment: 64)
        ir.loop("i", from: 0, to: count) { index in
            let q = ir.sext(ir.load(ir.i8, from: ir.gep(ir.i8, input, [index]), alignment: 1), to: ir.i64)
            let entry = ir.load(ir.i8, from: ir.gep(ir.i8, global, [ir.add(q, emitter.index(128))]), alignment: 1)
            ir.store(entry, to: ir.gep(ir.i8, output, [index]), alignment: 1)
        }
    }

    /// Int8 softmax over the last axis, as ``QuantizedArithmetic/softmaxRow(_:exponentials:output:)``.
    func emitSoftmax(shape: Shape, input: IRValue, output: IRValue, inputScale: Float, parameters: QuantizationParameters) {
        let ir = emitter.ir
        let depth = shape.dimensions.last ?? 1
        let exponentials = QuantizedArithmetic.softmaxExponentials(inputScale: inputScale)
        let table = ir.addConstantBytes(
            name: "softmax.exp", bytes: TensorData(exponentials, shape: [256]).bytes, alignment: 64)
        let maximum = emitter.accumulator(ir.i32)
        let sum = emitter.accumulator(ir.f32)
        func exponential(_ offset: IRValue) -> IRValue {
            let q = ir.sext(ir.load(ir.i8, from: ir.gep(ir.i8, input, [offset]), alignment: 1), to: ir.i32)
            let distance = ir.sext(ir.sub(ir.load(ir.i32, from: maximum, alignment: 4), q), to: ir.i64)
            return ir.load(ir.f32, from: ir.gep(ir.f32, table, [distance]), alignment: 4)
        }
        ir.loop("row", from: 0, to: shape.elementCount / max(depth, 1)) { row in
            let base = emitter.affine(row, times: depth)
            ir.store(ir.constant(-128, ir.i32), to: maximum, alignment: 4)
            ir.loop("max", from: 0, to: depth) { j in
                let q = ir.sext(ir.load(ir.i8, from: ir.gep(ir.i8, input, [ir.add(base, j)]), alignment: 1), to: ir.i32)
                let current = ir.load(ir.i32, from: maximum, alignment: 4)
                ir.store(ir.select(ir.icmp(.sgt, q, current), q, current), to: maximum, alignment: 4)
            }
            ir.store(ir.constant(0), to: sum, alignment: 4)
            ir.loop("sum", from: 0, to: depth) { j in
                let current = ir.load(ir.f32, from: sum, alignment: 4)
                ir.store(ir.fadd(current, exponential(ir.add(base, j))), to: sum, alignment: 4)
            }
            let scaled = ir.fmul(ir.load(ir.f32, from: sum, alignment: 4), ir.constant(parameters.scales[0]))
            let reciprocal = ir.fdiv(ir.constant(1), scaled)
            ir.loop("store", from: 0, to: depth) { j in
                let offset = ir.add(base, j)
                let steps = ir.broadcast(ir.fmul(exponential(offset), reciprocal), count: 1)
                emitter.storeQuantized(
                    steps, zeroPoint: parameters.zeroPoints[0], range: QuantizedArithmetic.int8Range, lanes: 1,
                    output: output, offset: offset)
            }
        }
    }

    /// float32 → int8, or int8 → int8 with new parameters.
    func emitQuantize(
        count: Int, input: IRValue, inputParameters: QuantizationParameters?, output: IRValue,
        outputParameters: QuantizationParameters
    ) {
        let ir = emitter.ir
        for run in LaneRun.covering(count, width: emitter.laneWidth) {
            ir.loop("i", from: 0, to: run.count) { block in
                let offset = emitter.affine(block, times: run.lanes, plus: run.start)
                if let inputParameters {
                    emitter.storeRequantized(
                        emitter.loadInt8(input, offset: offset, lanes: run.lanes), from: inputParameters,
                        to: outputParameters, lanes: run.lanes, output: output, offset: offset)
                } else {
                    let quotient = emitter.divide(
                        emitter.loadVector(input, offset: offset, lanes: run.lanes),
                        byConstant: outputParameters.scales[0], lanes: run.lanes)
                    // Float inputs may hold NaN, which the clamp in `quantized` would send to the
                    // lower bound; QuantizedArithmetic maps it to 0 steps. (Integer layers never see NaN.)
                    let steps = emitter.replacingNaN(quotient, with: emitter.splat(0, lanes: run.lanes))
                    emitter.storeQuantized(
                        steps, zeroPoint: outputParameters.zeroPoints[0], range: QuantizedArithmetic.int8Range,
                        lanes: run.lanes, output: output, offset: offset)
                }
            }
        }
    }

    /// int8 → float32.
    func emitDequantize(count: Int, input: IRValue, parameters: QuantizationParameters, output: IRValue) {
        let ir = emitter.ir
        for run in LaneRun.covering(count, width: emitter.laneWidth) {
            ir.loop("i", from: 0, to: run.count) { block in
                let offset = emitter.affine(block, times: run.lanes, plus: run.start)
                let raw = ir.load(ir.vector(ir.i8, run.lanes), from: ir.gep(ir.i8, input, [offset]), alignment: 1)
                let value = emitter.dequantized(
                    raw, scale: parameters.scales[0], zeroPoint: parameters.zeroPoints[0], lanes: run.lanes)
                emitter.storeVector(value, output, offset: offset)
            }
        }
    }
}

extension QuantizedKernels {
    /// Rounds each group of `groupSize` floats to the int8 grid of its own range,
    /// exactly as ``QuantizedArithmetic/dynamicRangeParameters(minimum:maximum:)``
    /// and ``QuantizedArithmetic/roundToGrid(_:_:)`` define it.
    func emitDynamicRangeQuantize(count: Int, groupSize: Int, input: IRValue, output: IRValue) {
        let ir = emitter.ir
        let runs = LaneRun.covering(groupSize, width: emitter.laneWidth)
        let scratch = extremeSlots(groupSize)
        ir.loop("group", from: 0, to: count / max(groupSize, 1)) { group in
            let base = emitter.affine(group, times: groupSize)
            let (minimum, maximum) = extremes(of: input, base: base, count: groupSize, slots: scratch)
            let grid = parameters(minimum: minimum, maximum: maximum)
            for run in runs {
                ir.loop("round", from: 0, to: run.count) { block in
                    let offset = ir.add(base, emitter.affine(block, times: run.lanes, plus: run.start))
                    let steps = roundedSteps(emitter.loadVector(input, offset: offset, lanes: run.lanes), grid, lanes: run.lanes)
                    let value = ir.fmul(ir.sitofp(steps, to: emitter.vectorType(run.lanes)), ir.broadcast(grid.step, count: run.lanes))
                    emitter.storeVector(value, output, offset: offset)
                }
            }
        }
    }

    /// Per lane width: the running minimum, maximum and non-finite probe; then the scalar minimum and maximum.
    typealias ExtremeSlots = (vectors: [Int: (IRValue, IRValue, IRValue)], scalars: (IRValue, IRValue))

    /// Accumulator slots for ``extremes(of:base:count:slots:)``, allocated once per node function.
    func extremeSlots(_ count: Int) -> ExtremeSlots {
        let lanes = Set(LaneRun.covering(count, width: emitter.laneWidth).map(\.lanes))
        let vectors = Dictionary(uniqueKeysWithValues: lanes.map { lanes in
            let slot = { emitter.accumulator(emitter.vectorType(lanes)) }
            return (lanes, (slot(), slot(), slot()))
        })
        return (vectors, (emitter.accumulator(emitter.ir.f32), emitter.accumulator(emitter.ir.f32)))
    }

    /// The smallest of `count` floats at `base` (NaN ignored) and the largest (NaN if any is not finite).
    ///
    /// Non-finite values are caught by a separate sum of `x · 0` (NaN for NaN and ±∞), a chain
    /// independent of the min/max chains and added to the maximum once at the end, so the loop and
    /// the reductions stay as fast as a plain min/max.
    func extremes(
        of input: IRValue, base: IRValue, count: Int, slots: ExtremeSlots
    ) -> (IRValue, IRValue) {
        let ir = emitter.ir
        let extremes = slots.scalars
        ir.store(ir.constant(Float.infinity), to: extremes.0, alignment: 4)
        ir.store(ir.constant(-Float.infinity), to: extremes.1, alignment: 4)
        var nonFinite = ir.constant(Float(0))
        for run in LaneRun.covering(count, width: emitter.laneWidth) {
            guard let (low, high, probe) = slots.vectors[run.lanes] else { continue }
            let type = emitter.vectorType(run.lanes)
            ir.store(emitter.splat(.infinity, lanes: run.lanes), to: low, alignment: 4)
            ir.store(emitter.splat(-.infinity, lanes: run.lanes), to: high, alignment: 4)
            ir.store(emitter.splat(0, lanes: run.lanes), to: probe, alignment: 4)
            ir.loop("minmax", from: 0, to: run.count) { block in
                let x = emitter.loadVector(input, offset: ir.add(base, emitter.affine(block, times: run.lanes, plus: run.start)), lanes: run.lanes)
                ir.store(emitter.minimum(x, ir.load(type, from: low, alignment: 4)), to: low, alignment: 4)
                ir.store(emitter.maximum(x, ir.load(type, from: high, alignment: 4)), to: high, alignment: 4)
                ir.store(
                    emitter.fma(x, emitter.splat(0, lanes: run.lanes), ir.load(type, from: probe, alignment: 4), lanes: run.lanes),
                    to: probe, alignment: 4)
            }
            let runLow = reduce(ir.load(type, from: low, alignment: 4), lanes: run.lanes, emitter.minimum)
            let runHigh = reduce(ir.load(type, from: high, alignment: 4), lanes: run.lanes, emitter.maximum)
            nonFinite = ir.fadd(nonFinite, reduce(ir.load(type, from: probe, alignment: 4), lanes: run.lanes) { ir.fadd($0, $1) })
            ir.store(emitter.minimum(runLow, ir.load(ir.f32, from: extremes.0, alignment: 4)), to: extremes.0, alignment: 4)
            ir.store(emitter.maximum(runHigh, ir.load(ir.f32, from: extremes.1, alignment: 4)), to: extremes.1, alignment: 4)
        }
        return (
            ir.load(ir.f32, from: extremes.0, alignment: 4), ir.fadd(ir.load(ir.f32, from: extremes.1, alignment: 4), nonFinite)
        )
    }

    /// `clamp(roundHalfEven(x · multiplier))` within `[-128 - zp, 127 - zp]`, as i32 steps from the zero point.
    func roundedSteps(_ x: IRValue, _ grid: (multiplier: IRValue, step: IRValue, zeroPoint: IRValue), lanes: Int) -> IRValue {
        let ir = emitter.ir
        let lowBound = ir.sitofp(ir.sub(ir.constant(-128, ir.i32), grid.zeroPoint), to: ir.f32)
        let highBound = ir.sitofp(ir.sub(ir.constant(127, ir.i32), grid.zeroPoint), to: ir.f32)
        let steps = ir.fmul(x, ir.broadcast(grid.multiplier, count: lanes))
        // NaN lands on a bound (a defined integer); its group's step is NaN, so the value never shows.
        let limited = emitter.minimum(
            emitter.maximum(steps, ir.broadcast(lowBound, count: lanes)), ir.broadcast(highBound, count: lanes))
        return ir.fptosi(emitter.unaryIntrinsic("llvm.roundeven", limited, lanes: lanes), to: ir.vector(ir.i32, lanes))
    }

    /// ``roundedSteps(_:_:lanes:)`` plus `shift` (`zeroPoint + 128`), as unsigned bytes.
    ///
    /// `|x · multiplier|` is at most 255 for the values the grid was made from
    /// (or the group's step is NaN and the bytes never show), so rounding is one
    /// addition (``KernelEmitter/roundedHalfEven(_:plus:lanes:)``) and the clamp to
    /// `0…255` is one maximum and the narrowing's unsigned saturation.
    func unsignedSteps(
        _ x: IRValue, _ grid: (multiplier: IRValue, step: IRValue, zeroPoint: IRValue), shift: IRValue, lanes: Int
    ) -> IRValue {
        let ir = emitter.ir
        let steps = ir.fmul(x, ir.broadcast(grid.multiplier, count: lanes))
        let unsigned = emitter.roundedHalfEven(steps, plus: ir.broadcast(shift, count: lanes), lanes: lanes)
        return ir.trunc(emitter.clamped(unsigned, to: 0...255, lanes: lanes), to: ir.vector(ir.i8, lanes))
    }

    /// Lane-wise `combine` down to one scalar: halves combined while the width
    /// is even (a chain of log₂ lanes steps, not lanes − 1), then lane by lane.
    /// `combine` must not depend on the order (min, max, sums of zeros and NaN).
    private func reduce(_ vector: IRValue, lanes: Int, _ combine: (IRValue, IRValue) -> IRValue) -> IRValue {
        let ir = emitter.ir
        var (value, width) = (vector, max(lanes, 1))
        while width > 1, width % 2 == 0 {
            let half = width / 2
            value = combine(ir.shuffle(value, value, mask: Array(0..<half)), ir.shuffle(value, value, mask: Array(half..<width)))
            width = half
        }
        var result = ir.extractElement(value, at: 0)
        for lane in 1..<width { result = combine(result, ir.extractElement(value, at: lane)) }
        return result
    }

    /// The scalar parameter arithmetic of ``QuantizedArithmetic/dynamicRangeParameters(minimum:maximum:)``.
    func parameters(minimum: IRValue, maximum: IRValue) -> (multiplier: IRValue, step: IRValue, zeroPoint: IRValue) {
        let ir = emitter.ir
        let zero = ir.constant(Float(0))
        let low = ir.select(ir.fcmp(.olt, minimum, zero), minimum, zero)
        let high = ir.select(ir.fcmp(.oge, maximum, zero), maximum, zero)
        let scale = ir.select(ir.fcmp(.oeq, low, high), ir.constant(Float(1)), ir.fdiv(ir.constant(Float(255)), ir.fsub(high, low)))
        let lowScaled = ir.fmul(low, scale)
        let highScaled = ir.fmul(high, scale)
        let balance = ir.fadd(ir.fadd(ir.constant(Float(-128)), lowScaled), ir.fadd(ir.constant(Float(127)), highScaled))
        var zeroPoint = ir.select(
            ir.fcmp(.ogt, balance, zero), ir.fsub(ir.constant(Float(-128)), lowScaled), ir.fsub(ir.constant(Float(127)), highScaled))
        let floor = ir.constant(Float(-128))
        // `uge`: a NaN zero point (from an infinite range) goes to the floor, as in QuantizedArithmetic.
        zeroPoint = ir.select(ir.fcmp(.uge, floor, zeroPoint), floor, zeroPoint)
        let ceiling = ir.constant(Float(127))
        zeroPoint = ir.select(ir.fcmp(.olt, ceiling, zeroPoint), ceiling, zeroPoint)
        let rounded = ir.fptosi(
            ir.extractElement(emitter.unaryIntrinsic("llvm.roundeven", ir.broadcast(zeroPoint, count: 1), lanes: 1), at: 0),
            to: ir.i32)
        // A NaN maximum (the group holds NaN) makes the whole group NaN, as in QuantizedArithmetic.
        let step = ir.select(
            ir.fcmp(.uno, maximum, maximum), ir.constant(Float.nan), ir.fdiv(ir.constant(Float(1)), scale))
        return (ir.fdiv(ir.constant(Float(1)), step), step, rounded)
    }
}
