import Foundation
import KilnIR

/// The reference definition of each op, as plain loops.
enum Kernels {
    static func apply(_ function: Activation, _ x: Float) -> Float {
        switch function {
        // Written with comparisons so NaN stays NaN, as IEEE arithmetic and LiteRT keep it.
        case .relu: return x < 0 ? 0 : x
        case .relu6: return x < 0 ? 0 : (x > 6 ? 6 : x)
        case .sigmoid: return 1 / (1 + Foundation.exp(-x))
        case .tanh: return Foundation.tanh(x)
        case .gelu: return Float(0.5 * Double(x) * Foundation.erfc(-Double(x) / 2.0.squareRoot()))
        // XNNPACK's order, (x · 1/6) · clamp(x + 3), so results agree to the bit; NaN stays NaN.
        case .hardSwish:
            let shifted = x + 3
            return (x * Self.oneSixth) * (shifted < 0 ? 0 : (shifted > 6 ? 6 : shifted))
        case .elu: return x < 0 ? Foundation.expm1(x) : x
        case .reluMinus1To1: return x < -1 ? -1 : (x > 1 ? 1 : x)
        case .relu0To1: return x < 0 ? 0 : (x > 1 ? 1 : x)
        case .exp: return Foundation.exp(x)
        case .log: return Foundation.log(x)
        case .sqrt: return x.squareRoot()
        case .rsqrt: return 1 / x.squareRoot()
        case .abs: return Swift.abs(x)
        case .negate: return -x
        case .erf: return Foundation.erf(x)
        }
    }

    /// `function(a, b)` as LiteRT's float kernels compute it; NaN in either operand stays NaN.
    static func apply(_ function: BinaryFunction, _ a: Float, _ b: Float) -> Float {
        switch function {
        case .divide: return a / b
        case .minimum: return a.isNaN || b.isNaN ? .nan : Swift.min(a, b)
        case .maximum: return a.isNaN || b.isNaN ? .nan : Swift.max(a, b)
        case .squaredDifference:
            let difference = a - b
            return difference * difference
        case .power: return Foundation.pow(a, b)
        case .prelu: return a < 0 ? a * b : a
        }
    }

    /// 1/6 rounded to float, as LiteRT's kernels multiply by it.
    static let oneSixth: Float = 1.0 / 6

    static func apply(_ function: Activation?, _ x: Float) -> Float {
        guard let function else { return x }
        return apply(function, x)
    }

    /// `out[.., n] = act(b[n] + Σ_k x[.., k] · w[n, k])`.
    static func fullyConnected(_ operands: [Tensor], activation: Activation?, resultShape: Shape) -> Tensor {
        let units = operands[1].shape[0]
        let sums = fullyConnectedSums(
            operands[0].values, operands[1].values, filterShape: operands[1].shape, initial: initialSums(operands, units))
        return Tensor(shape: resultShape, values: sums.map { apply(activation, $0) })
    }

    /// The starting value of each output channel's sum: its bias, or zero.
    ///
    /// Starting from the bias and accumulating taps in order is how LiteRT's
    /// default float kernels (XNNPACK) sum, so results can agree to the last bit.
    static func initialSums(_ operands: [Tensor], _ channels: Int) -> [Float] {
        operands.count > 2 ? operands[2].values : [Float](repeating: 0, count: channels)
    }

    /// `initial[n] + Σ_k x[r, k] · w[n, k]` for every row `r` and unit `n`.
    static func fullyConnectedSums<T: Numeric>(_ x: [T], _ w: [T], filterShape: Shape, initial: [T]? = nil) -> [T] {
        let (units, depth) = (filterShape[0], filterShape[1])
        let rows = x.count / max(depth, 1)
        var out = [T](repeating: 0, count: rows * units)
        for row in 0..<rows {
            for n in 0..<units {
                var sum: T = initial?[n] ?? 0
                for k in 0..<depth { sum += x[row * depth + k] * w[n * depth + k] }
                out[row * units + n] = sum
            }
        }
        return out
    }

    /// NHWC input, OHWI filter.
    static func conv2D(_ operands: [Tensor], _ attributes: Conv2DAttributes, resultShape: Shape) -> Tensor {
        let sums = convolutionSums(
            operands[0].values, inputShape: operands[0].shape, operands[1].values, filterShape: operands[1].shape,
            attributes, resultShape: resultShape, depthwise: false, initial: initialSums(operands, resultShape[3]))
        return Tensor(shape: resultShape, values: sums.map { apply(attributes.activation, $0) })
    }

    /// NHWC input, `[1, kh, kw, channels · multiplier]` filter: output channel
    /// `c · multiplier + m` convolves input channel `c` alone.
    static func depthwiseConv2D(_ operands: [Tensor], _ attributes: Conv2DAttributes, resultShape: Shape) -> Tensor {
        let sums = convolutionSums(
            operands[0].values, inputShape: operands[0].shape, operands[1].values, filterShape: operands[1].shape,
            attributes, resultShape: resultShape, depthwise: true, initial: initialSums(operands, resultShape[3]))
        return Tensor(shape: resultShape, values: sums.map { apply(attributes.activation, $0) })
    }

    /// The convolution sums of every output element; taps in the padding contribute nothing.
    static func convolutionSums<T: Numeric>(
        _ x: [T], inputShape: Shape, _ w: [T], filterShape: Shape, _ attributes: Conv2DAttributes,
        resultShape: Shape, depthwise: Bool, initial: [T]? = nil
    ) -> [T] {
        let (batches, inHeight, inWidth, inChannels) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (kernelHeight, kernelWidth) = (filterShape[1], filterShape[2])
        let (outHeight, outWidth, outChannels) = (resultShape[1], resultShape[2], resultShape[3])
        let multiplier = max(outChannels / max(inChannels, 1), 1)
        let (rows, columns) = attributes.geometry(input: inputShape, kernel: (kernelHeight, kernelWidth))
        var out = [T](repeating: 0, count: resultShape.elementCount)
        for b in 0..<batches {
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    for oc in 0..<outChannels {
                        var sum: T = initial?[oc] ?? 0
                        for ky in 0..<kernelHeight {
                            let iy = oy * attributes.strides[0] - rows.padBefore + ky * attributes.dilations[0]
                            guard iy >= 0, iy < inHeight else { continue }
                            for kx in 0..<kernelWidth {
                                let ix = ox * attributes.strides[1] - columns.padBefore + kx * attributes.dilations[1]
                                guard ix >= 0, ix < inWidth else { continue }
                                let pixel = ((b * inHeight + iy) * inWidth + ix) * inChannels
                                if depthwise {
                                    sum += x[pixel + oc / multiplier] * w[(ky * kernelWidth + kx) * outChannels + oc]
                                } else {
                                    for ic in 0..<inChannels {
                                        sum += x[pixel + ic] * w[((oc * kernelHeight + ky) * kernelWidth + kx) * inChannels + ic]
                                    }
                                }
                            }
                        }
                        out[((b * outHeight + oy) * outWidth + ox) * outChannels + oc] = sum
                    }
                }
            }
        }
        return out
    }

    /// Max or average over each window; padding is skipped, not counted.
    static func pool(_ x: Tensor, _ attributes: Pool2DAttributes, resultShape: Shape, average: Bool) -> Tensor {
        var out = [Float](repeating: 0, count: resultShape.elementCount)
        forEachWindow(inputShape: x.shape, attributes, resultShape: resultShape) { output, taps in
            let values = taps.map { x.values[$0] }
            out[output] = average ? values.reduce(0, +) / Float(max(values.count, 1)) : maximum(values) ?? 0
        }
        return Tensor(shape: resultShape, values: out)
    }

    /// Calls `body` for each pooled output element with the flat input indices of its in-bounds taps.
    static func forEachWindow(
        inputShape: Shape, _ attributes: Pool2DAttributes, resultShape: Shape, _ body: (_ output: Int, _ taps: [Int]) -> Void
    ) {
        let (batches, inHeight, inWidth, channels) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (outHeight, outWidth) = (resultShape[1], resultShape[2])
        let (rows, columns) = attributes.geometry(input: inputShape)
        for b in 0..<batches {
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    for c in 0..<channels {
                        var taps: [Int] = []
                        for ky in 0..<attributes.window[0] {
                            let iy = oy * attributes.strides[0] - rows.padBefore + ky
                            guard iy >= 0, iy < inHeight else { continue }
                            for kx in 0..<attributes.window[1] {
                                let ix = ox * attributes.strides[1] - columns.padBefore + kx
                                guard ix >= 0, ix < inWidth else { continue }
                                taps.append(((b * inHeight + iy) * inWidth + ix) * channels + c)
                            }
                        }
                        body(((b * outHeight + oy) * outWidth + ox) * channels + c, taps)
                    }
                }
            }
        }
    }

    /// The largest value, NaN if any is NaN (IEEE 754-2019 `maximum`), or `nil` if there are none.
    static func maximum<Values: Collection<Float>>(_ values: Values) -> Float? {
        values.contains(where: \.isNaN) ? .nan : values.max()
    }

    /// Softmax over the last axis, shifted by the row maximum for range safety.
    static func softmax(_ x: Tensor) -> Tensor {
        let depth = x.shape.dimensions.last ?? 1
        var out = x.values
        for start in stride(from: 0, to: out.count, by: depth) {
            let row = start..<(start + depth)
            let maximum = Self.maximum(x.values[row]) ?? 0
            var sum: Float = 0
            for index in row {
                out[index] = Foundation.exp(x.values[index] - maximum)
                sum += out[index]
            }
            for index in row { out[index] /= sum }
        }
        return Tensor(shape: x.shape, values: out)
    }

    /// An element-wise binary op with NumPy broadcasting.
    static func elementwise(
        _ a: Tensor, _ b: Tensor, resultShape: Shape, activation: Activation?, _ combine: (Float, Float) -> Float
    ) -> Tensor {
        let rank = resultShape.rank
        func strides(_ shape: Shape) -> [Int] {
            // Broadcast axes get stride 0 so the same element is reused.
            let padded = [Int](repeating: 1, count: rank - shape.rank) + shape.dimensions
            let dense = Shape(padded).strides
            return (0..<rank).map { padded[$0] == 1 ? 0 : dense[$0] }
        }
        let (stridesA, stridesB) = (strides(a.shape), strides(b.shape))
        let outStrides = resultShape.strides
        var out = [Float](repeating: 0, count: resultShape.elementCount)
        for index in out.indices {
            var (offsetA, offsetB, rest) = (0, 0, index)
            for axis in 0..<rank {
                let coordinate = rest / outStrides[axis]
                rest %= outStrides[axis]
                offsetA += coordinate * stridesA[axis]
                offsetB += coordinate * stridesB[axis]
            }
            out[index] = apply(activation, combine(a.values[offsetA], b.values[offsetB]))
        }
        return Tensor(shape: resultShape, values: out)
    }
}

extension Kernels {
    /// The operands joined along `axis`.
    static func concatenate(_ operands: [Tensor], axis: Int, resultShape: Shape) -> Tensor {
        let axis = Op.normalizedAxis(axis, rank: resultShape.rank) ?? 0
        let outer = resultShape.dimensions[..<axis].reduce(1, *)
        var out: [Float] = []
        out.reserveCapacity(resultShape.elementCount)
        for index in 0..<outer {
            for operand in operands {
                let block = operand.shape.dimensions[axis...].reduce(1, *)
                out += operand.values[(index * block)..<((index + 1) * block)]
            }
        }
        return Tensor(shape: resultShape, values: out)
    }

    /// `x` surrounded by `value` as `paddings` says.
    static func pad(_ x: Tensor, _ paddings: [[Int]], value: Float, resultShape: Shape) -> Tensor {
        var out = [Float](repeating: value, count: resultShape.elementCount)
        let inStrides = x.shape.strides
        let outStrides = resultShape.strides
        for index in x.values.indices {
            var rest = index
            var target = 0
            for axis in 0..<x.shape.rank {
                let coordinate = rest / inStrides[axis]
                rest %= inStrides[axis]
                target += (coordinate + paddings[axis][0]) * outStrides[axis]
            }
            out[target] = x.values[index]
        }
        return Tensor(shape: resultShape, values: out)
    }

    /// `out[i] = x[begin + i]` for every index `i` of the result.
    static func slice<T>(_ values: [T], shape: Shape, begin: [Int], resultShape: Shape) -> [T] {
        let strides = shape.strides
        return (0..<resultShape.elementCount).map { index in
            var rest = index
            var source = 0
            for (axis, stride) in resultShape.strides.enumerated() {
                source += (rest / stride + begin[axis]) * strides[axis]
                rest %= stride
            }
            return values[source]
        }
    }

    /// The mean over `axes`.
    static func mean(_ x: Tensor, axes: [Int], resultShape: Shape) -> Tensor {
        let (sums, count) = reduceSum(x, axes: axes)
        return Tensor(shape: resultShape, values: sums.map { $0 / Float(count) })
    }

    /// Sums over `axes` in row-major order of the kept axes, and how many elements each sum covers.
    static func reduceSum(_ x: Tensor, axes: [Int]) -> (sums: [Float], count: Int) {
        let sums = fold(x.values, shape: x.shape, axes: axes, initial: 0, +)
        let reduced = Set(axes.compactMap { Op.normalizedAxis($0, rank: x.shape.rank) })
        let count = reduced.reduce(1) { $0 * x.shape[$1] }
        return (sums, count)
    }

    /// `combine` folded over `axes` from `initial`, in input order, one result per position of the kept axes.
    static func fold<T>(_ values: [T], shape: Shape, axes: [Int], initial: T, _ combine: (T, T) -> T) -> [T] {
        let reduced = Set(axes.compactMap { Op.normalizedAxis($0, rank: shape.rank) })
        let kept = shape.indices.filter { !reduced.contains($0) }
        let keptStrides = Shape(kept.map { shape[$0] }).strides
        let inStrides = shape.strides
        var results = [T](repeating: initial, count: Shape(kept.map { shape[$0] }).elementCount)
        for index in values.indices {
            var target = 0
            for (position, axis) in kept.enumerated() {
                target += (index / inStrides[axis]) % shape[axis] * keptStrides[position]
            }
            results[target] = combine(results[target], values[index])
        }
        return results
    }
}

extension Kernels {
    /// Each group's values rounded to the int8 grid its own range gives.
    static func dynamicRangeQuantize(_ x: Tensor, _ scope: DynamicQuantizationScope) -> Tensor {
        let group = scope == .perRow ? (x.shape.dimensions.last ?? 1) : x.values.count / max(x.shape.first ?? 1, 1)
        var out = x.values
        for start in stride(from: 0, to: out.count, by: max(group, 1)) {
            let values = x.values[start..<min(start + group, out.count)]
            // A NaN maximum turns the whole group into NaN (see dynamicRangeParameters).
            let parameters = QuantizedArithmetic.dynamicRangeParameters(
                minimum: values.filter { !$0.isNaN }.min() ?? 0, maximum: maximum(values) ?? 0)
            for index in values.indices { out[index] = QuantizedArithmetic.roundToGrid(x.values[index], parameters) }
        }
        return Tensor(shape: x.shape, values: out)
    }
}
