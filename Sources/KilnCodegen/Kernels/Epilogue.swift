import KilnIR

/// What happens to a dot-product accumulator before it is stored: bias,
/// int8-weight scale and activation in float mode; bias and requantization
/// (``QuantizedArithmetic``) in int8 mode.
enum Epilogue {
    /// f32 accumulators; `scales` dequantizes int8 weights per channel.
    case float(scales: IRValue?, bias: IRValue?, activation: Activation?)
    /// i32 accumulators over `x - inputZeroPoint`; `scales` holds the per-channel requantization
    /// multipliers; `stepsBound`, when known, bounds `|accumulator · scale|` (``KernelEmitter/quantized(_:zeroPoint:range:lanes:bound:)``).
    case quantized(
        bias: IRValue?, scales: IRValue, inputZeroPoint: Int32, outputZeroPoint: Int32, range: ClosedRange<Int32>,
        stepsBound: Float?)
    /// `layer`'s epilogue, then a fused residual add on the value it would store.
    indirect case residual(Epilogue, ResidualAdd)

    /// The epilogue of the layer itself, without a fused residual add.
    var layer: Epilogue {
        if case .residual(let layer, _) = self { return layer.layer }
        return self
    }

    /// Whether accumulators are i32.
    var isQuantized: Bool {
        if case .quantized = layer { return true }
        return false
    }

    /// The accumulator vector type.
    func accumulatorType(_ emitter: KernelEmitter, lanes: Int) -> IRType {
        isQuantized ? emitter.ir.vector(emitter.ir.i32, lanes) : emitter.vectorType(lanes)
    }

    /// Whether the bias is the accumulator's starting value, as in XNNPACK's
    /// float kernels (LiteRT's default), rather than added at the end.
    var startsWithBias: Bool {
        if case .float(nil, _?, _) = layer { return true }
        return false
    }

    /// The accumulator's starting value for output channels `channel…`: the
    /// bias in plain float layers, else zero.
    func initial(_ emitter: KernelEmitter, channel: IRValue, lanes: Int) -> IRValue {
        if startsWithBias, case .float(_, let bias?, _) = layer {
            return emitter.loadVector(bias, offset: channel, lanes: lanes)
        }
        return emitter.ir.zero(accumulatorType(emitter, lanes: lanes))
    }

    /// An input element as the accumulator's scalar type: f32, or i32 minus the zero point.
    func tap(_ emitter: KernelEmitter, input: IRValue, offset: IRValue) -> IRValue {
        let ir = emitter.ir
        guard let zeroPoint = inputZeroPoint else {
            return ir.load(ir.f32, from: ir.gep(ir.f32, input, [offset]), alignment: 4)
        }
        let raw = ir.sext(ir.load(ir.i8, from: ir.gep(ir.i8, input, [offset]), alignment: 1), to: ir.i32)
        return ir.sub(raw, ir.constant(Int(zeroPoint), ir.i32))
    }

    /// `lanes` consecutive input elements as an accumulator-typed vector (for depthwise kernels).
    func tapVector(_ emitter: KernelEmitter, input: IRValue, offset: IRValue, lanes: Int) -> IRValue {
        let ir = emitter.ir
        guard let zeroPoint = inputZeroPoint else { return emitter.loadVector(input, offset: offset, lanes: lanes) }
        let type = ir.vector(ir.i32, lanes)
        let raw = ir.sext(ir.load(ir.vector(ir.i8, lanes), from: ir.gep(ir.i8, input, [offset]), alignment: 1), to: type)
        return ir.sub(raw, ir.splat(ir.constant(Int(zeroPoint), ir.i32), count: lanes))
    }

    /// Loads `lanes` weights of `weightType` at `offset` as accumulator-typed values.
    func weights(_ emitter: KernelEmitter, _ base: IRValue, weightType: IRType, offset: IRValue, lanes: Int) -> IRValue {
        let ir = emitter.ir
        guard isQuantized else { return emitter.loadVector(base, elementType: weightType, offset: offset, lanes: lanes) }
        let raw = ir.load(ir.vector(ir.i8, lanes), from: ir.gep(ir.i8, base, [offset]), alignment: 1)
        return ir.sext(raw, to: ir.vector(ir.i32, lanes))
    }

    /// `accumulator + x · w` (an FMA in float mode).
    ///
    /// In int8 mode the product is formed in 16 bits, which is exact: `x` is
    /// centered on the zero point (`|x| ≤ 255`) and `|w| ≤ 128`, so
    /// `|x · w| ≤ 32640`. A 16-bit multiply is one fast instruction on every
    /// ISA, where a 32-bit one is slow on x86.
    func multiplyAdd(_ emitter: KernelEmitter, _ x: IRValue, _ w: IRValue, _ accumulator: IRValue, lanes: Int) -> IRValue {
        guard isQuantized else { return emitter.fma(x, w, accumulator, lanes: lanes) }
        let ir = emitter.ir
        let narrow = ir.vector(ir.i16, lanes)
        let product = ir.mul(ir.trunc(x, to: narrow), ir.trunc(w, to: narrow))
        return ir.add(accumulator, ir.sext(product, to: ir.vector(ir.i32, lanes)))
    }

    /// The input's zero point in int8 mode; `nil` in float mode.
    var inputZeroPoint: Int32? {
        if case .quantized(_, _, let zeroPoint, _, _, _) = layer { return zeroPoint }
        return nil
    }

    /// Finishes `accumulator` for output channels `channel…` and stores it at `offset` of `output`.
    func store(
        _ emitter: KernelEmitter, _ accumulator: IRValue, channel: IRValue, lanes: Int, output: IRValue, offset: IRValue
    ) {
        let value = finished(emitter, accumulator, channel: channel, lanes: lanes, offset: offset)
        storeFinished(emitter, value, lanes: lanes, output: output, offset: offset)
    }

    /// Stores a value from ``finished(_:_:channel:lanes:offset:)`` at `offset` of `output`.
    func storeFinished(_ emitter: KernelEmitter, _ value: IRValue, lanes: Int, output: IRValue, offset: IRValue) {
        let ir = emitter.ir
        if let range = outputRange {
            ir.store(emitter.narrowed(value, to: range, lanes: lanes), to: ir.gep(ir.i8, output, [offset]), alignment: 1)
        } else {
            emitter.storeVector(value, output, offset: offset)
        }
    }

    /// The int8 range of the stored values (the layer's, or its fused add's); `nil` in float mode.
    private var outputRange: ClosedRange<Int32>? {
        switch self {
        case .float: nil
        case .quantized(_, _, _, _, let range, _): range
        case .residual(let layer, let add):
            if case .int8(_, _, _, let range) = add.arithmetic { range } else { layer.outputRange }
        }
    }

    /// The value stored for `accumulator`: f32, or in int8 mode i32 lanes that
    /// ``storeFinished(_:_:lanes:output:offset:)`` narrows to int8 and clamps to the
    /// range (``KernelEmitter/narrowed(_:to:lanes:)``): clamping them first would repeat
    /// what the narrowing's saturation does.
    func finished(
        _ emitter: KernelEmitter, _ accumulator: IRValue, channel: IRValue, lanes: Int, offset: IRValue
    ) -> IRValue {
        finished(emitter, accumulator, channel: channel, lanes: lanes, offset: offset, clamping: false)
    }

    /// ``finished(_:_:channel:lanes:offset:)``, int8 values clamped to the range with `clamping`.
    private func finished(
        _ emitter: KernelEmitter, _ accumulator: IRValue, channel: IRValue, lanes: Int, offset: IRValue, clamping: Bool
    ) -> IRValue {
        let ir = emitter.ir
        switch self {
        case .float(let scales, let bias, let activation):
            var value = accumulator
            if let scales { value = ir.fmul(value, emitter.loadVector(scales, offset: channel, lanes: lanes)) }
            if let bias, !startsWithBias { value = ir.fadd(value, emitter.loadVector(bias, offset: channel, lanes: lanes)) }
            return emitter.activate(value, activation, lanes: lanes)
        case .quantized(let bias, let scales, _, let zeroPoint, let range, let bound):
            var value = accumulator
            if let bias {
                let biasVector = ir.load(ir.vector(ir.i32, lanes), from: ir.gep(ir.i32, bias, [channel]), alignment: 4)
                value = ir.add(value, biasVector)
            }
            let steps = ir.fmul(ir.sitofp(value, to: emitter.vectorType(lanes)), emitter.loadVector(scales, offset: channel, lanes: lanes))
            return emitter.quantizedWide(steps, zeroPoint: zeroPoint, range: range, lanes: lanes, bound: bound, clamping: clamping)
        case .residual(let layer, let add):
            if let centered = layer.centeredQuantized(emitter, accumulator, channel: channel, lanes: lanes),
                let result = add.int8Result(emitter, centered: centered, lanes: lanes, offset: offset, clamping: clamping)
            {
                return result
            }
            let value = layer.finished(emitter, accumulator, channel: channel, lanes: lanes, offset: offset, clamping: true)
            return add.apply(emitter, to: value, lanes: lanes, offset: offset)
        }
    }

    /// In int8 mode, the value ``finished(_:_:channel:lanes:offset:)`` returns less the output
    /// zero point, as f32 (exact: a small integer), for a fused residual add to dequantize
    /// without converting back from integers; `nil` in float mode.
    private func centeredQuantized(_ emitter: KernelEmitter, _ accumulator: IRValue, channel: IRValue, lanes: Int) -> IRValue? {
        guard case .quantized(let bias, let scales, _, let zeroPoint, let range, let bound) = self else { return nil }
        let ir = emitter.ir
        var value = accumulator
        if let bias {
            value = ir.add(value, ir.load(ir.vector(ir.i32, lanes), from: ir.gep(ir.i32, bias, [channel]), alignment: 4))
        }
        let steps = ir.fmul(ir.sitofp(value, to: emitter.vectorType(lanes)), emitter.loadVector(scales, offset: channel, lanes: lanes))
        return emitter.quantizedCentered(steps, zeroPoint: zeroPoint, range: range, lanes: lanes, bound: bound)
    }
}

extension KernelEmitter {
    /// Stores `clamp(roundHalfEven(steps) + zeroPoint, range)` as int8, exactly as
    /// ``QuantizedArithmetic/quantize(steps:zeroPoint:range:)`` computes it.
    func storeQuantized(
        _ steps: IRValue, zeroPoint: Int32, range: ClosedRange<Int32>, lanes: Int, output: IRValue, offset: IRValue
    ) {
        ir.store(quantized(steps, zeroPoint: zeroPoint, range: range, lanes: lanes), to: ir.gep(ir.i8, output, [offset]), alignment: 1)
    }

    /// `clamp(roundHalfEven(steps) + zeroPoint, range)` as an int8 vector.
    func quantized(_ steps: IRValue, zeroPoint: Int32, range: ClosedRange<Int32>, lanes: Int, bound: Float? = nil) -> IRValue {
        narrowed(quantizedWide(steps, zeroPoint: zeroPoint, range: range, lanes: lanes, bound: bound, clamping: false), to: range, lanes: lanes)
    }

    /// ``quantized(_:zeroPoint:range:lanes:bound:)`` with the int8 values left in i32 lanes.
    ///
    /// With `bound` (a build-time bound on `|steps|`, which must then be finite)
    /// under 2²², rounding is ``roundedHalfEven(_:plus:lanes:)`` (in the default
    /// floating-point environment, which generated code assumes) and the clamp
    /// runs on integers (equal to clamping first: the bounds are integers);
    /// without `clamping`, it is left to ``narrowed(_:to:lanes:)``.
    func quantizedWide(
        _ steps: IRValue, zeroPoint: Int32, range: ClosedRange<Int32>, lanes: Int, bound: Float? = nil, clamping: Bool = true
    ) -> IRValue {
        let zeroPoints = ir.splat(ir.constant(Int(zeroPoint), ir.i32), count: lanes)
        if let bound, bound < Self.exactRoundingLimit {
            let rounded = roundedHalfEven(steps, plus: zeroPoints, lanes: lanes)
            return clamping ? clamped(rounded, to: range, lanes: lanes) : rounded
        }
        let low = splat(Float(range.lowerBound - zeroPoint), lanes: lanes)
        let high = splat(Float(range.upperBound - zeroPoint), lanes: lanes)
        // NaN-free inputs: select-based min/max match Swift's min/max here.
        let limited = minimum(maximum(steps, low), high)
        let rounded = unaryIntrinsic("llvm.roundeven", limited, lanes: lanes)
        return ir.add(ir.fptosi(rounded, to: ir.vector(ir.i32, lanes)), zeroPoints)
    }

    /// `Float(quantizedWide(steps, …) − zeroPoint)`, computed in f32 throughout: rounding
    /// (``roundedHalfEven(_:plus:lanes:)``'s addition, then its subtraction in f32, under
    /// `bound`) and a clamp to the range less the zero point, which give the same integer.
    func quantizedCentered(_ steps: IRValue, zeroPoint: Int32, range: ClosedRange<Int32>, lanes: Int, bound: Float? = nil) -> IRValue {
        let low = splat(Float(range.lowerBound - zeroPoint), lanes: lanes)
        let high = splat(Float(range.upperBound - zeroPoint), lanes: lanes)
        guard let bound, bound < Self.exactRoundingLimit else {
            // NaN-free inputs, as in quantizedWide.
            return unaryIntrinsic("llvm.roundeven", minimum(maximum(steps, low), high), lanes: lanes)
        }
        let magic = splat(12_582_912, lanes: lanes)
        return minimum(maximum(ir.fsub(ir.fadd(steps, magic), magic), low), high)
    }

    /// The magnitude below which ``roundedHalfEven(_:plus:lanes:)`` is exact: 2²².
    static let exactRoundingLimit: Float = 4_194_304

    /// `roundHalfEven(x) + offset` as i32 lanes, for `|x|` below ``exactRoundingLimit``
    /// (other lanes get some defined integer): `x + 1.5·2²³` lands where the float
    /// grid is the integers, so the sum is rounded half to even, and its bits less
    /// those of `1.5·2²³` are the rounded integer. One addition and one subtraction.
    func roundedHalfEven(_ x: IRValue, plus offset: IRValue, lanes: Int) -> IRValue {
        let magic: Float = 12_582_912
        let biased = ir.bitcast(ir.fadd(x, splat(magic, lanes: lanes)), to: ir.vector(ir.i32, lanes))
        let magicBits = ir.splat(ir.constant(Int(Int32(bitPattern: magic.bitPattern)), ir.i32), count: lanes)
        return ir.sub(biased, ir.sub(magicBits, offset))
    }

    /// i32 lanes as int8 clamped to `range` (within the int8 range): a narrowing that saturates
    /// (`vpmovsdb` on AVX-512, `packssdw` then `packsswb` on other x86 levels, `sqxtn` on NEON),
    /// then a clamp of the bytes to whichever bound lies inside. Clamping the i32 lanes to
    /// `range` first, then narrowing, gives the same bytes with two more operations on wider vectors.
    func narrowed(_ values: IRValue, to range: ClosedRange<Int32>, lanes: Int) -> IRValue {
        let bytes = ir.trunc(clamped(values, to: -128...127, lanes: lanes), to: ir.vector(ir.i8, lanes))
        var result = bytes
        if range.lowerBound > -128 {
            let low = ir.splat(ir.constant(Int(range.lowerBound), ir.i8), count: lanes)
            result = ir.select(ir.icmp(.sgt, result, low), result, low)
        }
        if range.upperBound < 127 {
            let high = ir.splat(ir.constant(Int(range.upperBound), ir.i8), count: lanes)
            result = ir.select(ir.icmp(.slt, result, high), result, high)
        }
        return result
    }

    /// i32 lanes clamped to `range` (a narrowing then saturates for free where the range is the type's).
    func clamped(_ values: IRValue, to range: ClosedRange<Int32>, lanes: Int) -> IRValue {
        let low = ir.splat(ir.constant(Int(range.lowerBound), ir.i32), count: lanes)
        let high = ir.splat(ir.constant(Int(range.upperBound), ir.i32), count: lanes)
        let above = ir.select(ir.icmp(.sgt, values, low), values, low)
        return ir.select(ir.icmp(.slt, above, high), above, high)
    }

    /// `scale · Float(q - zeroPoint)` for an int8 vector, as ``QuantizedArithmetic/dequantize(_:scale:zeroPoint:)``.
    func dequantized(_ q: IRValue, scale: Float, zeroPoint: Int32, lanes: Int) -> IRValue {
        dequantizedWide(ir.sext(q, to: ir.vector(ir.i32, lanes)), scale: scale, zeroPoint: zeroPoint, lanes: lanes)
    }

    /// ``dequantized(_:scale:zeroPoint:lanes:)`` for int8 values held in i32 lanes.
    func dequantizedWide(_ q: IRValue, scale: Float, zeroPoint: Int32, lanes: Int) -> IRValue {
        let centered = ir.sub(q, ir.splat(ir.constant(Int(zeroPoint), ir.i32), count: lanes))
        return ir.fmul(splat(scale, lanes: lanes), ir.sitofp(centered, to: vectorType(lanes)))
    }
}
