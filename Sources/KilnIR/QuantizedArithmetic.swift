import Foundation

/// Kiln's int8 arithmetic: the exact formulas both the reference interpreter
/// and generated code use, so they agree bit for bit.
///
/// They follow TensorFlow Lite's quantization spec (`real = scale · (q - zeroPoint)`,
/// symmetric int8 filters, int32 biases with scale `inputScale · filterScale`)
/// and the rounding LiteRT's default CPU kernels (XNNPACK) apply when
/// requantizing accumulators: a float32 multiplier and round-half-to-even.
public enum QuantizedArithmetic {
    /// The int8 range, as int32.
    public static let int8Range: ClosedRange<Int32> = -128...127

    /// The multiplier from an int32 accumulator to output steps: `inputScale · filterScale / outputScale`,
    /// evaluated in float32 from left to right.
    public static func requantizationScale(input: Float, filter: Float, output: Float) -> Float {
        input * filter / output
    }

    /// `clamp(roundHalfEven(Float(accumulator) · scale) + zeroPoint, range)`.
    public static func requantize(_ accumulator: Int32, scale: Float, zeroPoint: Int32, range: ClosedRange<Int32>)
        -> Int32
    {
        quantize(steps: Float(accumulator) * scale, zeroPoint: zeroPoint, range: range)
    }

    /// `clamp(roundHalfEven(value) + zeroPoint, range)` for a value already in output steps.
    ///
    /// Clamping happens before rounding, against the integer bounds shifted by
    /// the zero point; that gives the same result and never overflows, and it
    /// is how generated code computes it.
    public static func quantize(steps value: Float, zeroPoint: Int32, range: ClosedRange<Int32> = int8Range) -> Int32 {
        let low = Float(range.lowerBound - zeroPoint)
        let high = Float(range.upperBound - zeroPoint)
        let limited = value.isNaN ? 0 : min(max(value, low), high)
        return Int32(limited.rounded(.toNearestOrEven)) + zeroPoint
    }

    /// The quantized range a clamping activation leaves: ReLU clamps below at
    /// the zero point, ReLU6 also above at the step nearest 6, the unit ReLUs
    /// at the steps nearest their bounds (rounded half away from zero, as LiteRT does).
    ///
    /// - Returns: `nil` for activations that cannot be fused into an int8 op.
    public static func activationRange(_ activation: Activation?, scale: Float, zeroPoint: Int32) -> ClosedRange<Int32>? {
        func step(_ real: Float) -> Int32 { saturatingInt32((real / scale).rounded(.toNearestOrAwayFromZero)) &+ zeroPoint }
        func range(_ low: Int32, _ high: Int32) -> ClosedRange<Int32> {
            let lower = min(max(low, -128), 127)
            return lower...max(min(high, 127), lower)
        }
        switch activation {
        case nil: return int8Range
        case .relu?: return range(zeroPoint, 127)
        case .relu6?: return range(zeroPoint, step(6))
        case .reluMinus1To1?: return range(step(-1), step(1))
        case .relu0To1?: return range(zeroPoint, step(1))
        default: return nil
        }
    }

    /// `value` limited to `range`.
    public static func clamp(_ value: Int32, _ range: ClosedRange<Int32>) -> Int32 {
        min(max(value, range.lowerBound), range.upperBound)
    }

    /// Converts a whole-valued float to Int32, saturating instead of trapping.
    public static func saturatingInt32(_ value: Float) -> Int32 {
        if value.isNaN { return 0 }
        if value >= 2_147_483_520 { return .max }
        if value <= -2_147_483_648 { return .min }
        return Int32(value)
    }
}

extension QuantizedArithmetic {
    /// `scale · (q - zeroPoint)` in float32, the dequantization every int8 kernel uses.
    public static func dequantize(_ q: Int32, scale: Float, zeroPoint: Int32) -> Float {
        scale * Float(q - zeroPoint)
    }

    /// The int8 result of `function` for each of the 256 int8 inputs, indexed by `q + 128`.
    ///
    /// Element-wise functions on int8 tensors are table lookups, computed here
    /// once in float64 and rounded half to even.
    public static func lookupTable(
        _ function: Activation, input: QuantizationParameters, output: QuantizationParameters
    ) -> [Int8] {
        (-128...127).map { q in
            let real = Double(input.scales[0]) * Double(Int32(q) - input.zeroPoints[0])
            let result: Double
            switch function {
            case .relu: result = max(real, 0)
            case .relu6: result = min(max(real, 0), 6)
            case .sigmoid: result = 1 / (1 + exp(-real))
            case .tanh: result = tanh(real)
            case .gelu: result = 0.5 * real * erfc(-real / 2.0.squareRoot())
            case .hardSwish: result = real * min(max(real + 3, 0), 6) / 6
            case .elu: result = real > 0 ? real : expm1(real)
            case .reluMinus1To1: result = min(max(real, -1), 1)
            case .relu0To1: result = min(max(real, 0), 1)
            case .exp: result = Foundation.exp(real)
            case .log: result = Foundation.log(real)
            case .sqrt: result = real.squareRoot()
            case .rsqrt: result = 1 / real.squareRoot()
            case .abs: result = Swift.abs(real)
            case .negate: result = -real
            case .erf: result = Foundation.erf(real)
            }
            let steps = Float(result / Double(output.scales[0]))
            return Int8(quantize(steps: steps, zeroPoint: output.zeroPoints[0]))
        }
    }

    /// `e^(-inputScale · beta · d)` for each distance `d` = 0…255 below a row's maximum:
    /// the exponentials int8 softmax sums.
    public static func softmaxExponentials(inputScale: Float, beta: Float = 1) -> [Float] {
        (0...255).map { distance in Float(exp(-Double(inputScale) * Double(beta) * Double(distance))) }
    }

    /// One row of int8 softmax: exponentials from ``softmaxExponentials(inputScale:beta:)``
    /// summed left to right in float32, each divided by the sum and quantized.
    public static func softmaxRow(
        _ row: [Int32], exponentials: [Float], output: QuantizationParameters
    ) -> [Int32] {
        let maximum = row.max() ?? 0
        var sum: Float = 0
        for q in row { sum += exponentials[Int(maximum - q)] }
        let reciprocal = 1 / (sum * output.scales[0])
        return row.map { q in
            quantize(steps: exponentials[Int(maximum - q)] * reciprocal, zeroPoint: output.zeroPoints[0])
        }
    }
}

/// The int8 grid a dynamic-range kernel picks for one group of float values.
public struct DynamicRangeParameters: Hashable, Sendable {
    /// Multiplier from real values to steps.
    public var multiplier: Float
    /// Real value of one step.
    public var step: Float
    /// The zero point.
    public var zeroPoint: Int32
}

extension QuantizedArithmetic {
    /// Asymmetric int8 parameters covering `[min(0, minimum), max(0, maximum)]`,
    /// computed in float32 as XNNPACK's dynamic quantization does (LiteRT's
    /// default for layers with int8 weights and float activations): the zero
    /// point is taken from whichever end loses less, clamped and rounded half
    /// to even; an all-zero range gets step 1.
    ///
    /// Non-finite groups stay non-finite: a NaN `maximum` (the group holds a
    /// NaN) gives a NaN step, and an infinite range an infinite one, so every
    /// value of the group rounds to NaN, as IEEE arithmetic would carry it.
    public static func dynamicRangeParameters(minimum: Float, maximum: Float) -> DynamicRangeParameters {
        let low = min(0, minimum)
        let high = max(0, maximum)
        let scale: Float = low == high ? 1 : 255 / (high - low)
        let lowScaled = low * scale
        let highScaled = high * scale
        var zeroPoint = (-128 + lowScaled) + (127 + highScaled) > 0 ? -128 - lowScaled : 127 - highScaled
        // An infinite range makes the zero point NaN (∞ · 0); it goes to -128, and every value of
        // the group then rounds to NaN through the infinite step.
        zeroPoint = zeroPoint > -128 ? min(zeroPoint, 127) : -128
        let step = maximum.isNaN ? .nan : 1 / scale
        return DynamicRangeParameters(
            multiplier: 1 / step, step: step, zeroPoint: Int32(zeroPoint.rounded(.toNearestOrEven)))
    }

    /// `x` rounded to the grid of `parameters` and returned as a real value.
    public static func roundToGrid(_ x: Float, _ parameters: DynamicRangeParameters) -> Float {
        let q = quantize(steps: x * parameters.multiplier, zeroPoint: parameters.zeroPoint)
        return Float(q - parameters.zeroPoint) * parameters.step
    }
}
