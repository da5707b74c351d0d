import Foundation
import KilnIR

/// The reference definition of each op, as plain loops.
enum Kernels {
    static func apply(_ function: Activation, _ x: Float) -> Float {
        switch function {
        case .relu: return max(x, 0)
        case .relu6: return min(max(x, 0), 6)
        case .sigmoid: return 1 / (1 + Foundation.exp(-x))
        case .tanh: return Foundation.tanh(x)
        case .gelu: return Float(0.5 * Double(x) * Foundation.erfc(-Double(x) / 2.0.squareRoot()))
        }
    }

    static func apply(_ function: Activation?, _ x: Float) -> Float {
        guard let function else { return x }
        return apply(function, x)
    }

    /// `out[.., n] = Σ_k x[.., k] · w[n, k] + b[n]`.
    static func fullyConnected(_ operands: [Tensor], activation: Activation?, resultShape: Shape) -> Tensor {
        let (x, w) = (operands[0], operands[1])
        let (units, depth) = (w.shape[0], w.shape[1])
        let rows = x.values.count / depth
        var out = [Float](repeating: 0, count: rows * units)
        for row in 0..<rows {
            for n in 0..<units {
                var sum: Float = 0
                for k in 0..<depth {
                    sum += x.values[row * depth + k] * w.values[n * depth + k]
                }
                // Bias last, as TensorFlow Lite's reference kernels add it.
                if operands.count > 2 { sum += operands[2].values[n] }
                out[row * units + n] = apply(activation, sum)
            }
        }
        return Tensor(shape: resultShape, values: out)
    }

    /// NHWC input, OHWI filter.
    static func conv2D(_ operands: [Tensor], _ attributes: Conv2DAttributes, resultShape: Shape) -> Tensor {
        let (x, w) = (operands[0], operands[1])
        let (batches, inHeight, inWidth, inChannels) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (outChannels, kernelHeight, kernelWidth) = (w.shape[0], w.shape[1], w.shape[2])
        let (outHeight, outWidth) = (resultShape[1], resultShape[2])
        let rows = WindowGeometry(
            inputSize: inHeight, window: kernelHeight, stride: attributes.strides[0],
            dilation: attributes.dilations[0], padding: attributes.padding)
        let columns = WindowGeometry(
            inputSize: inWidth, window: kernelWidth, stride: attributes.strides[1],
            dilation: attributes.dilations[1], padding: attributes.padding)
        var out = [Float](repeating: 0, count: resultShape.elementCount)
        for b in 0..<batches {
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    for oc in 0..<outChannels {
                        var sum: Float = 0
                        for ky in 0..<kernelHeight {
                            let iy = oy * attributes.strides[0] - rows.padBefore + ky * attributes.dilations[0]
                            guard iy >= 0, iy < inHeight else { continue }
                            for kx in 0..<kernelWidth {
                                let ix = ox * attributes.strides[1] - columns.padBefore + kx * attributes.dilations[1]
                                guard ix >= 0, ix < inWidth else { continue }
                                for ic in 0..<inChannels {
                                    let input = x.values[((b * inHeight + iy) * inWidth + ix) * inChannels + ic]
                                    let weight = w.values[((oc * kernelHeight + ky) * kernelWidth + kx) * inChannels + ic]
                                    sum += input * weight
                                }
                            }
                        }
                        if operands.count > 2 { sum += operands[2].values[oc] }
                        out[((b * outHeight + oy) * outWidth + ox) * outChannels + oc] = apply(attributes.activation, sum)
                    }
                }
            }
        }
        return Tensor(shape: resultShape, values: out)
    }

    /// Max or average over each window; padding is skipped, not counted.
    static func pool(_ x: Tensor, _ attributes: Pool2DAttributes, resultShape: Shape, average: Bool) -> Tensor {
        let (batches, inHeight, inWidth, channels) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (outHeight, outWidth) = (resultShape[1], resultShape[2])
        let rows = WindowGeometry(
            inputSize: inHeight, window: attributes.window[0], stride: attributes.strides[0], padding: attributes.padding)
        let columns = WindowGeometry(
            inputSize: inWidth, window: attributes.window[1], stride: attributes.strides[1], padding: attributes.padding)
        var out = [Float](repeating: 0, count: resultShape.elementCount)
        for b in 0..<batches {
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    for c in 0..<channels {
                        var result: Float = average ? 0 : -.infinity
                        var count = 0
                        for ky in 0..<attributes.window[0] {
                            let iy = oy * attributes.strides[0] - rows.padBefore + ky
                            guard iy >= 0, iy < inHeight else { continue }
                            for kx in 0..<attributes.window[1] {
                                let ix = ox * attributes.strides[1] - columns.padBefore + kx
                                guard ix >= 0, ix < inWidth else { continue }
                                let value = x.values[((b * inHeight + iy) * inWidth + ix) * channels + c]
                                result = average ? result + value : max(result, value)
                                count += 1
                            }
                        }
                        out[((b * outHeight + oy) * outWidth + ox) * channels + c] =
                            average ? result / Float(max(count, 1)) : result
                    }
                }
            }
        }
        return Tensor(shape: resultShape, values: out)
    }

    /// Softmax over the last axis, shifted by the row maximum for range safety.
    static func softmax(_ x: Tensor) -> Tensor {
        let depth = x.shape.dimensions.last ?? 1
        var out = x.values
        for start in stride(from: 0, to: out.count, by: depth) {
            let row = start..<(start + depth)
            let maximum = x.values[row].max() ?? 0
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
