import KilnIR

/// Transcendental functions emitted inline as polynomials, so generated code
/// never calls libm and stays self-contained.
extension KernelEmitter {
    /// Applies `activation` lane-wise; `nil` returns `x` unchanged.
    func activate(_ x: IRValue, _ activation: Activation?, lanes: Int) -> IRValue {
        guard let activation else { return x }
        switch activation {
        case .relu:
            return clamp(x, low: splat(0, lanes: lanes))
        case .relu6:
            return clamp(x, low: splat(0, lanes: lanes), high: splat(6, lanes: lanes))
        case .sigmoid:
            return sigmoid(x, lanes: lanes)
        case .tanh:
            return tanh(x, lanes: lanes)
        case .gelu:
            return gelu(x, lanes: lanes)
        case .hardSwish:
            // (x · 1/6) · clamp(x + 3, 0, 6), in XNNPACK's order so results match LiteRT's to the bit.
            let shifted = ir.fadd(x, splat(3, lanes: lanes))
            let gate = clamp(shifted, low: splat(0, lanes: lanes), high: splat(6, lanes: lanes))
            return ir.fmul(ir.fmul(x, splat(1.0 / 6, lanes: lanes)), gate)
        case .elu:
            return ir.select(ir.fcmp(.olt, x, splat(0, lanes: lanes)), expm1(x, lanes: lanes), x)
        case .reluMinus1To1:
            return clamp(x, low: splat(-1, lanes: lanes), high: splat(1, lanes: lanes))
        case .relu0To1:
            return clamp(x, low: splat(0, lanes: lanes), high: splat(1, lanes: lanes))
        case .exp:
            return exponential(x, lanes: lanes)
        case .log:
            return log(x, lanes: lanes)
        case .sqrt:
            return unaryIntrinsic("llvm.sqrt", x, lanes: lanes)
        case .rsqrt:
            return ir.fdiv(splat(1, lanes: lanes), unaryIntrinsic("llvm.sqrt", x, lanes: lanes))
        case .abs:
            return unaryIntrinsic("llvm.fabs", x, lanes: lanes)
        case .negate:
            return ir.fneg(x)
        case .erf:
            return erf(x, lanes: lanes)
        }
    }

    /// `function(a, b)` lane-wise, NaN in either operand giving NaN.
    func combine(_ a: IRValue, _ b: IRValue, _ function: BinaryFunction, lanes: Int) -> IRValue {
        switch function {
        case .divide:
            return ir.fdiv(a, b)
        case .minimum:
            return ir.select(ir.fcmp(.uno, a, b), ir.fadd(a, b), minimum(a, b))
        case .maximum:
            return maximumPropagatingNaN(a, b)
        case .squaredDifference:
            let difference = ir.fsub(a, b)
            return ir.fmul(difference, difference)
        case .power:
            return power(a, b, lanes: lanes)
        case .prelu:
            return ir.select(ir.fcmp(.olt, a, splat(0, lanes: lanes)), ir.fmul(a, b), a)
        }
    }

    /// `e^x` to about 1 ulp on [-87, 88]; inputs outside are clamped, NaN stays NaN.
    ///
    /// Range reduction `x = n·ln2 + r` with |r| ≤ ln2/2 (ln2 split in two
    /// parts so `n·ln2` is exact), a degree-7 Taylor polynomial for `e^r`
    /// (truncation error below 6e-9), and `2^n` built in the exponent bits.
    func exp(_ x: IRValue, lanes: Int) -> IRValue {
        let clamped = clamp(x, low: splat(-87.0, lanes: lanes), high: splat(88.0, lanes: lanes))
        let scaled = ir.fadd(ir.fmul(clamped, splat(1.442_695_04, lanes: lanes)), splat(0.5, lanes: lanes))
        let n = unaryIntrinsic("llvm.floor", scaled, lanes: lanes)
        // A NaN `n` would make the integer conversion below poison; the polynomial carries the NaN instead.
        let exponentSteps = replacingNaN(n, with: splat(0, lanes: lanes))
        var r = fma(n, splat(-0.693_359_375, lanes: lanes), clamped, lanes: lanes)
        r = fma(n, splat(2.121_944_4e-4, lanes: lanes), r, lanes: lanes)
        let coefficients: [Float] = [1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1]
        var polynomial = splat(coefficients[0], lanes: lanes)
        for coefficient in coefficients.dropFirst() {
            polynomial = fma(polynomial, r, splat(coefficient, lanes: lanes), lanes: lanes)
        }
        let intType = ir.vector(ir.i32, lanes)
        let exponent = ir.add(ir.fptosi(exponentSteps, to: intType), ir.splat(ir.constant(127, ir.i32), count: lanes))
        let power = ir.bitcast(ir.shl(exponent, ir.splat(ir.constant(23, ir.i32), count: lanes)), to: vectorType(lanes))
        return ir.fmul(polynomial, power)
    }

    /// `e^x` over the whole float range: ``exp(_:lanes:)`` with +∞ above the
    /// largest finite result and 0 below the smallest normal one.
    func exponential(_ x: IRValue, lanes: Int) -> IRValue {
        let inner = exp(x, lanes: lanes)
        let overflowed = ir.select(ir.fcmp(.ogt, x, splat(88.722_84, lanes: lanes)), splat(.infinity, lanes: lanes), inner)
        return ir.select(ir.fcmp(.olt, x, splat(-87.336_55, lanes: lanes)), splat(0, lanes: lanes), overflowed)
    }

    /// `e^x - 1`, without the cancellation of subtracting one near zero.
    ///
    /// For |x| < 0.5 the Taylor series to x⁹ (next term below 3e-10 of x);
    /// elsewhere `e^x - 1`, which loses nothing there.
    func expm1(_ x: IRValue, lanes: Int) -> IRValue {
        var polynomial = splat(1.0 / 362_880, lanes: lanes)
        for factorial: Float in [40320, 5040, 720, 120, 24, 6, 2, 1] {
            polynomial = fma(polynomial, x, splat(1 / factorial, lanes: lanes), lanes: lanes)
        }
        let series = ir.fmul(polynomial, x)
        let direct = ir.fsub(exponential(x, lanes: lanes), splat(1, lanes: lanes))
        let small = ir.fcmp(.olt, unaryIntrinsic("llvm.fabs", x, lanes: lanes), splat(0.5, lanes: lanes))
        return ir.select(small, series, direct)
    }

    /// The natural logarithm to about 1 ulp: NaN below zero, -∞ at zero, +∞ at +∞.
    ///
    /// `x = m·2^e` with `m` in [√½, √2) read from the bits (subnormals scaled
    /// by 2²³ first); `ln m = 2·atanh(s)`, `s = (m-1)/(m+1)`, |s| ≤ 0.172,
    /// by its odd series to s¹¹ (truncation below 1e-10 relative).
    func log(_ x: IRValue, lanes: Int) -> IRValue {
        let intType = ir.vector(ir.i32, lanes)
        func integers(_ value: Int) -> IRValue { ir.splat(ir.constant(value, ir.i32), count: lanes) }
        let subnormal = ir.fcmp(.olt, x, splat(1.175_494_4e-38, lanes: lanes))
        let scaled = ir.select(subnormal, ir.fmul(x, splat(8_388_608, lanes: lanes)), x)
        let bits = ir.bitcast(scaled, to: intType)
        var exponent = ir.sub(ir.lshr(bits, integers(23)), integers(127))
        exponent = ir.select(subnormal, ir.sub(exponent, integers(23)), exponent)
        var mantissa = ir.bitcast(ir.or(ir.and(bits, integers(0x007F_FFFF)), integers(0x3F80_0000)), to: vectorType(lanes))
        let large = ir.fcmp(.ogt, mantissa, splat(1.414_213_5, lanes: lanes))
        mantissa = ir.select(large, ir.fmul(mantissa, splat(0.5, lanes: lanes)), mantissa)
        exponent = ir.select(large, ir.add(exponent, integers(1)), exponent)
        let one = splat(1, lanes: lanes)
        let s = ir.fdiv(ir.fsub(mantissa, one), ir.fadd(mantissa, one))
        let square = ir.fmul(s, s)
        var series = splat(1.0 / 11, lanes: lanes)
        for denominator: Float in [9, 7, 5, 3] {
            series = fma(series, square, splat(1 / denominator, lanes: lanes), lanes: lanes)
        }
        let twiceS = ir.fadd(s, s)
        let logMantissa = fma(ir.fmul(twiceS, square), series, twiceS, lanes: lanes)
        let e = ir.sitofp(exponent, to: vectorType(lanes))
        let result = fma(
            e, splat(0.693_145_75, lanes: lanes), fma(e, splat(1.428_606_8e-6, lanes: lanes), logMantissa, lanes: lanes),
            lanes: lanes)
        // Special values: +∞ and NaN pass through, zero gives -∞, negatives NaN.
        let zero = splat(0, lanes: lanes)
        var special = ir.select(ir.fcmp(.oeq, x, zero), splat(-.infinity, lanes: lanes), result)
        special = ir.select(ir.fcmp(.olt, x, zero), splat(.nan, lanes: lanes), special)
        let passesThrough = ir.or(ir.fcmp(.oeq, x, splat(.infinity, lanes: lanes)), ir.fcmp(.uno, x, x))
        return ir.select(passesThrough, x, special)
    }

    /// `a^b` as `e^(b·ln|a|)`, with the sign of a negative base raised to an
    /// odd integer, NaN for a negative base and a fractional power, and
    /// `a^0 = 1^b = 1` as C's `pow` defines them.
    func power(_ a: IRValue, _ b: IRValue, lanes: Int) -> IRValue {
        let zero = splat(0, lanes: lanes)
        let one = splat(1, lanes: lanes)
        let magnitude = exponential(ir.fmul(b, log(unaryIntrinsic("llvm.fabs", a, lanes: lanes), lanes: lanes)), lanes: lanes)
        let isInteger = ir.fcmp(.oeq, unaryIntrinsic("llvm.floor", b, lanes: lanes), b)
        let half = ir.fmul(b, splat(0.5, lanes: lanes))
        let isOdd = ir.and(isInteger, ir.fcmp(.one, unaryIntrinsic("llvm.floor", half, lanes: lanes), half))
        let negativeResult = ir.select(isInteger, ir.select(isOdd, ir.fneg(magnitude), magnitude), splat(.nan, lanes: lanes))
        let signed = ir.select(ir.fcmp(.olt, a, zero), negativeResult, magnitude)
        let trivial = ir.or(ir.fcmp(.oeq, b, zero), ir.fcmp(.oeq, a, one))
        return ir.select(trivial, one, signed)
    }

    /// `1 / (1 + e^-x)`.
    func sigmoid(_ x: IRValue, lanes: Int) -> IRValue {
        let one = splat(1, lanes: lanes)
        return ir.fdiv(one, ir.fadd(one, exp(ir.fneg(x), lanes: lanes)))
    }

    /// Hyperbolic tangent with relative error near 1e-7.
    ///
    /// Below |x| = 0.5 the odd Taylor series to x¹³ (next term under 5e-8
    /// relative); above it `1 - 2 / (e^{2|x|} + 1)`, which loses at most a bit
    /// to cancellation there; the sign is restored at the end.
    func tanh(_ x: IRValue, lanes: Int) -> IRValue {
        let magnitude = unaryIntrinsic("llvm.fabs", x, lanes: lanes)
        let square = ir.fmul(x, x)
        let series: [Float] = [21844.0 / 6_081_075, -1382.0 / 155_925, 62.0 / 2835, -17.0 / 315, 2.0 / 15, -1.0 / 3]
        var polynomial = splat(series[0], lanes: lanes)
        for coefficient in series.dropFirst() {
            polynomial = fma(polynomial, square, splat(coefficient, lanes: lanes), lanes: lanes)
        }
        let small = fma(ir.fmul(polynomial, square), x, x, lanes: lanes)
        let one = splat(1, lanes: lanes)
        let twice = exp(ir.fadd(magnitude, magnitude), lanes: lanes)
        let largeMagnitude = ir.fsub(one, ir.fdiv(splat(2, lanes: lanes), ir.fadd(twice, one)))
        let large = ir.select(ir.fcmp(.olt, x, splat(0, lanes: lanes)), ir.fneg(largeMagnitude), largeMagnitude)
        return ir.select(ir.fcmp(.olt, magnitude, splat(0.5, lanes: lanes)), small, large)
    }

    /// `erfc(z)` for `z ≥ 0` in the Chebyshev-fitted form `t·exp(-z² + P(t))`,
    /// `t = 1/(1 + z/2)` (Numerical Recipes' erfcc, fractional error below
    /// 1.2e-7 for all z ≥ 0).
    func erfcOfMagnitude(_ z: IRValue, lanes: Int) -> IRValue {
        let one = splat(1, lanes: lanes)
        let t = ir.fdiv(one, fma(z, splat(0.5, lanes: lanes), one, lanes: lanes))
        let coefficients: [Float] = [
            0.170_872_77, -0.822_152_23, 1.488_515_87, -1.135_203_98, 0.278_868_07, -0.186_288_06, 0.096_784_18,
            0.374_091_96, 1.000_023_68, -1.265_512_23,
        ]
        var polynomial = splat(coefficients[0], lanes: lanes)
        for coefficient in coefficients.dropFirst() {
            polynomial = fma(polynomial, t, splat(coefficient, lanes: lanes), lanes: lanes)
        }
        let exponent = ir.fsub(polynomial, ir.fmul(z, z))
        return ir.fmul(t, exp(exponent, lanes: lanes))
    }

    /// The exact GELU, `x · Φ(x)` with `Φ(x) = erfc(-x/√2) / 2`, reflected for negative arguments.
    func gelu(_ x: IRValue, lanes: Int) -> IRValue {
        let z = ir.fmul(unaryIntrinsic("llvm.fabs", x, lanes: lanes), splat(0.707_106_781, lanes: lanes))
        let tail = erfcOfMagnitude(z, lanes: lanes)  // erfc(|x|/√2)
        // Φ(x) = tail/2 for x < 0, 1 - tail/2 for x ≥ 0.
        let halfTail = ir.fmul(tail, splat(0.5, lanes: lanes))
        let phi = ir.select(ir.fcmp(.olt, x, splat(0, lanes: lanes)), halfTail, ir.fsub(splat(1, lanes: lanes), halfTail))
        return ir.fmul(x, phi)
    }

    /// The error function: below |x| = 0.5 its odd Taylor series to x¹³ (next term under 2e-9 of the
    /// result), where `1 - erfc` would cancel; above it `±(1 - erfc(|x|))`. NaN stays NaN.
    func erf(_ x: IRValue, lanes: Int) -> IRValue {
        let square = ir.fmul(x, x)
        // 2/√π · (x - x³/3 + x⁵/10 - x⁷/42 + x⁹/216 - x¹¹/1320 + x¹³/9360)
        let series: [Float] = [1.0 / 9360, -1.0 / 1320, 1.0 / 216, -1.0 / 42, 1.0 / 10, -1.0 / 3, 1]
        var polynomial = splat(series[0], lanes: lanes)
        for coefficient in series.dropFirst() {
            polynomial = fma(polynomial, square, splat(coefficient, lanes: lanes), lanes: lanes)
        }
        let small = ir.fmul(ir.fmul(polynomial, x), splat(1.128_379_17, lanes: lanes))
        let magnitude = unaryIntrinsic("llvm.fabs", x, lanes: lanes)
        let largeMagnitude = ir.fsub(splat(1, lanes: lanes), erfcOfMagnitude(magnitude, lanes: lanes))
        let large = ir.select(ir.fcmp(.olt, x, splat(0, lanes: lanes)), ir.fneg(largeMagnitude), largeMagnitude)
        return ir.select(ir.fcmp(.olt, magnitude, splat(0.5, lanes: lanes)), small, large)
    }
}
