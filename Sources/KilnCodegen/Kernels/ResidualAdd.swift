import KilnIR

/// A residual `add` fused into the epilogue of the layer before it
/// (``Graph/residualAdds()``): the layer's result, exactly as its own tensor
/// would hold it, plus the residual operand's element at the same offset, then
/// what the add does (activation, int8 requantization) as the element-wise
/// kernel would do it.
struct ResidualAdd {
    /// How the add combines the two operands.
    enum Arithmetic {
        /// float32: `activation(layer + residual)`.
        case float(activation: Activation?)
        /// int8, as ``ElementwiseKernel/quantizedElements(operands:result:range:output:)``:
        /// both operands dequantized, added, quantized to `result` within `range`.
        case int8(layer: QuantizationParameters, residual: QuantizationParameters, result: QuantizationParameters, range: ClosedRange<Int32>)
    }

    /// The residual operand (the add's other input), laid out as the result.
    let operand: IRValue
    let arithmetic: Arithmetic

    /// The add's result for `lanes` elements at `offset`, from the layer's
    /// finished values there (f32, or int8 values in i32 lanes, returned the same way).
    func apply(_ emitter: KernelEmitter, to value: IRValue, lanes: Int, offset: IRValue) -> IRValue {
        let ir = emitter.ir
        switch arithmetic {
        case .float(let activation):
            let sum = ir.fadd(value, emitter.loadVector(operand, offset: offset, lanes: lanes))
            return emitter.activate(sum, activation, lanes: lanes)
        case .int8(let layer, _, _, _):
            let zeroPoints = ir.splat(ir.constant(Int(layer.zeroPoints[0]), ir.i32), count: lanes)
            let centered = ir.sitofp(ir.sub(value, zeroPoints), to: emitter.vectorType(lanes))
            return int8Result(emitter, centered: centered, lanes: lanes, offset: offset, clamping: true) ?? value
        }
    }

    /// An int8 add's result for `lanes` elements at `offset`, from the layer's int8 values less
    /// their zero point, as f32 (``Epilogue``'s shortcut past the integers); `nil` for a float add.
    /// Without `clamping`, the result is left for ``KernelEmitter/narrowed(_:to:lanes:)`` to clamp.
    func int8Result(_ emitter: KernelEmitter, centered: IRValue, lanes: Int, offset: IRValue, clamping: Bool) -> IRValue? {
        let ir = emitter.ir
        switch arithmetic {
        case .float:
            return nil
        case .int8(let layer, let residual, let result, let range):
            let raw = ir.load(ir.vector(ir.i8, lanes), from: ir.gep(ir.i8, operand, [offset]), alignment: 1)
            // As dequantizedWide: the scale times the centered value.
            let sum = ir.fadd(
                ir.fmul(emitter.splat(layer.scales[0], lanes: lanes), centered),
                emitter.dequantized(raw, scale: residual.scales[0], zeroPoint: residual.zeroPoints[0], lanes: lanes))
            // Two dequantized int8 values (each at most 255 steps from its zero point) are finite
            // and bounded: no NaN or overflow to guard against, unlike the element-wise kernel's operands.
            let bound = 255 * (layer.scales[0] + residual.scales[0]) / result.scales[0] * 1.001
            let steps = emitter.divide(sum, byConstant: result.scales[0], lanes: lanes, finite: bound.isFinite)
            return emitter.quantizedWide(
                steps, zeroPoint: result.zeroPoints[0], range: range, lanes: lanes, bound: bound, clamping: clamping)
        }
    }
}
