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

    /// The exact GELU, `x · Φ(x)` with `Φ(x) = erfc(-x/√2) / 2`.
    ///
    /// `erfc` uses the Chebyshev-fitted form `t·exp(-z² + P(t))`,
    /// `t = 1/(1 + z/2)` (Numerical Recipes' erfcc, fractional error below
    /// 1.2e-7 for all z ≥ 0), reflected for negative arguments.
    func gelu(_ x: IRValue, lanes: Int) -> IRValue {
        let z = ir.fmul(unaryIntrinsic("llvm.fabs", x, lanes: lanes), splat(0.707_106_781, lanes: lanes))
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
        let tail = ir.fmul(t, exp(exponent, lanes: lanes))  // erfc(|x|/√2)
        // Φ(x) = tail/2 for x < 0, 1 - tail/2 for x ≥ 0.
        let halfTail = ir.fmul(tail, splat(0.5, lanes: lanes))
        let phi = ir.select(ir.fcmp(.olt, x, splat(0, lanes: lanes)), halfTail, ir.fsub(one, halfTail))
        return ir.fmul(x, phi)
    }
}
