import KilnIR

/// The reference definition of each op on int8 tensors, in Kiln's integer
/// arithmetic (``QuantizedArithmetic``): what generated int8 code must equal bit for bit.
enum IntegerKernels {
    /// An int8 or int32 tensor as plain integers with its quantization.
    struct Quantized {
        var shape: Shape
        var values: [Int32]
        var scale: Float
        var zeroPoint: Int32
        var scales: [Float]

        init(_ data: TensorData, _ type: TensorType) {
            shape = data.shape
            values = data.dtype == .int32 ? data.int32s() : data.dtype == .int8 ? data.int8s().map(Int32.init) : []
            scales = type.quantization?.scales ?? [1]
            scale = scales[0]
            zeroPoint = type.quantization?.zeroPoints.first ?? 0
        }
    }

    static func evaluate(_ op: Op, _ operands: [TensorData], _ types: [TensorType], _ result: TensorType)
        throws(ReferenceError) -> TensorData
    {
        guard result.dtype == .int8, let output = result.quantization, output.scales.count == 1 else {
            throw ReferenceError("\(op.kindName): integer results must be int8 with per-tensor quantization")
        }
        let outputZero = output.zeroPoints[0]
        let inputs = zip(operands, types).map { Quantized($0, $1) }
        let x = inputs.first
        func finish(_ values: [Int32]) -> TensorData {
            TensorData(int8: values.map { Int8(QuantizedArithmetic.clamp($0, QuantizedArithmetic.int8Range)) }, shape: result.shape)
        }
        func range(_ activation: Activation?) throws(ReferenceError) -> ClosedRange<Int32> {
            guard let range = QuantizedArithmetic.activationRange(activation, scale: output.scales[0], zeroPoint: outputZero)
            else { throw ReferenceError("\(op.kindName): activation \(activation?.rawValue ?? "") cannot be fused into an int8 op") }
            return range
        }
        /// Re-expresses `q` of `input` in the output's parameters.
        func requantized(_ q: Int32, _ input: Quantized) -> Int32 {
            if input.scale == output.scales[0], input.zeroPoint == outputZero { return q }
            return QuantizedArithmetic.quantize(
                steps: QuantizedArithmetic.dequantize(q, scale: input.scale, zeroPoint: input.zeroPoint) / output.scales[0],
                zeroPoint: outputZero)
        }

        switch op {
        case .fullyConnected(let activation):
            return finish(dotProducts(inputs, result.shape, output, try range(activation), kind: .fullyConnected))
        case .conv2D(let attributes):
            return finish(dotProducts(inputs, result.shape, output, try range(attributes.activation), kind: .conv(attributes)))
        case .depthwiseConv2D(let attributes):
            return finish(
                dotProducts(inputs, result.shape, output, try range(attributes.activation), kind: .depthwise(attributes)))
        case .maxPool2D(let attributes), .averagePool2D(let attributes):
            guard let x else { break }
            var isAverage = false
            if case .averagePool2D = op { isAverage = true }
            return finish(pool(x, attributes, result.shape, average: isAverage).map { requantized($0, x) })
        case .reshape:
            guard let x else { break }
            return finish(x.values.map { requantized($0, x) })
        case .activation(let function):
            guard let x, let input = types[0].quantization else { break }
            let table = QuantizedArithmetic.lookupTable(function, input: input, output: output)
            return finish(x.values.map { Int32(table[Int($0) + 128]) })
        case .softmax:
            guard let x else { break }
            let exponentials = QuantizedArithmetic.softmaxExponentials(inputScale: x.scale)
            let depth = x.shape.dimensions.last ?? 1
            var out: [Int32] = []
            for start in stride(from: 0, to: x.values.count, by: depth) {
                out += QuantizedArithmetic.softmaxRow(
                    Array(x.values[start..<(start + depth)]), exponentials: exponentials, output: output)
            }
            return finish(out)
        case .add(let activation), .multiply(let activation), .subtract(let activation), .binary(_, let activation):
            let (a, b) = (inputs[0], inputs[1])
            let combine: (Float, Float) -> Float =
                switch op {
                case .add: (+)
                case .subtract: (-)
                case .binary(let function, _): { Kernels.apply(function, $0, $1) }
                default: (*)
                }
            let bounds = try range(activation)
            let combined = broadcastPairs(a.shape, b.shape, result.shape).map { pair in
                let real = QuantizedArithmetic.dequantize(a.values[pair.0], scale: a.scale, zeroPoint: a.zeroPoint)
                let other = QuantizedArithmetic.dequantize(b.values[pair.1], scale: b.scale, zeroPoint: b.zeroPoint)
                let value = combine(real, other)
                return QuantizedArithmetic.quantize(steps: value / output.scales[0], zeroPoint: outputZero, range: bounds)
            }
            return finish(combined)
        case .batchMatMul(let adjointA, let adjointB):
            // Σ (a - za)(b - zb) in int32, requantized with the float32 multiplier `sa · sb / so`.
            let (a, b) = (inputs[0], inputs[1])
            let sums = Kernels.batchMatMulSums(
                a.values.map { $0 - a.zeroPoint }, a.shape, b.values.map { $0 - b.zeroPoint }, b.shape, adjointA: adjointA,
                adjointB: adjointB, resultShape: result.shape)
            let scale = QuantizedArithmetic.requantizationScale(input: a.scale, filter: b.scale, output: output.scales[0])
            return finish(
                sums.map {
                    QuantizedArithmetic.requantize($0, scale: scale, zeroPoint: outputZero, range: QuantizedArithmetic.int8Range)
                })
        case .transpose(let permutation):
            guard let x else { break }
            return finish(Kernels.transpose(x.values, shape: x.shape, permutation: permutation).map { requantized($0, x) })
        case .concatenation(let axis, let activation):
            let bounds = try range(activation)
            let tensors = inputs.map { input in
                Tensor(shape: input.shape, values: input.values.map { Float(requantized($0, input)) })
            }
            let joined = Kernels.concatenate(tensors, axis: axis, resultShape: result.shape)
            return finish(joined.values.map { QuantizedArithmetic.clamp(Int32($0), bounds) })
        case .pad(let paddings):
            guard let x else { break }
            let padded = Kernels.pad(
                Tensor(shape: x.shape, values: x.values.map(Float.init)), paddings, value: Float(x.zeroPoint),
                resultShape: result.shape)
            return finish(padded.values.map { requantized(Int32($0), x) })
        case .slice(let begin, _):
            guard let x else { break }
            return finish(Kernels.slice(x.values, shape: x.shape, begin: begin, resultShape: result.shape).map { requantized($0, x) })
        case .mean(let axes, _):
            guard let x else { break }
            let centered = Tensor(shape: x.shape, values: x.values.map { Float($0 - x.zeroPoint) })
            // Sums of int8 offsets are exact in float32 for any tensor under 2^16 elements per sum.
            let (sums, count) = Kernels.reduceSum(centered, axes: axes)
            return finish(
                sums.map { sum in
                    QuantizedArithmetic.quantize(
                        steps: x.scale * sum / (Float(count) * output.scales[0]), zeroPoint: outputZero)
                })
        case .reduce(let function, let axes, _):
            guard let x else { break }
            switch function {
            case .maximum, .minimum:
                let folded = Kernels.fold(
                    x.values, shape: x.shape, axes: axes, initial: function == .maximum ? Int32.min : Int32.max,
                    function == .maximum ? { Swift.max($0, $1) } : { Swift.min($0, $1) })
                return finish(folded.map { requantized($0, x) })
            case .sum:
                // Sums of int8 offsets are exact in float32 for any tensor under 2^16 elements per sum.
                let centered = x.values.map { Float($0 - x.zeroPoint) }
                let sums = Kernels.fold(centered, shape: x.shape, axes: axes, initial: 0, +)
                let ratio = x.scale / output.scales[0]
                return finish(sums.map { QuantizedArithmetic.quantize(steps: $0 * ratio, zeroPoint: outputZero) })
            case .product:
                let reals = x.values.map { QuantizedArithmetic.dequantize($0, scale: x.scale, zeroPoint: x.zeroPoint) }
                let products = Kernels.fold(reals, shape: x.shape, axes: axes, initial: 1, *)
                return finish(products.map { QuantizedArithmetic.quantize(steps: $0 / output.scales[0], zeroPoint: outputZero) })
            }
        case .resize(let attributes) where attributes.method == .nearest:
            guard let x else { break }
            let picked = Kernels.resize(x.values.map(Float.init), shape: x.shape, attributes, resultShape: result.shape)
            return finish(picked.map { requantized(Int32($0), x) })
        case .resize(let attributes):
            guard let x else { break }
            // Interpolated in steps from the input's zero point, then rescaled once.
            let centered = x.values.map { Float($0 - x.zeroPoint) }
            let ratio = x.scale / output.scales[0]
            let resized = Kernels.resize(centered, shape: x.shape, attributes, resultShape: result.shape)
            return finish(resized.map { QuantizedArithmetic.quantize(steps: $0 * ratio, zeroPoint: outputZero) })
        case .gather(let axis):
            guard let x, inputs.count == 2 else { break }
            let picked = Kernels.gather(
                x.values, shape: x.shape, indices: inputs[1].values.map(Int.init), axis: axis, fill: x.zeroPoint)
            return finish(picked.map { requantized($0, x) })
        case .argExtremum, .cast:
            break
        case .quantize:
            if operands[0].dtype == .float32 {
                return finish(
                    operands[0].floats().map {
                        QuantizedArithmetic.quantize(steps: $0 / output.scales[0], zeroPoint: outputZero)
                    })
            }
            guard let x else { break }
            return finish(x.values.map { requantized($0, x) })
        case .dequantize, .dynamicRangeQuantize:
            break
        }
        throw ReferenceError("\(op.kindName) is not defined on int8 tensors of these types")
    }

    enum DotProductKind {
        case fullyConnected
        case conv(Conv2DAttributes)
        case depthwise(Conv2DAttributes)
    }

    /// Fully-connected and convolution layers on int8: `Σ (x - zx) · w + bias`
    /// in int32, requantized per output channel.
    static func dotProducts(
        _ inputs: [Quantized], _ resultShape: Shape, _ output: QuantizationParameters, _ bounds: ClosedRange<Int32>,
        kind: DotProductKind
    ) -> [Int32] {
        let (x, w) = (inputs[0], inputs[1])
        let bias = inputs.count > 2 ? inputs[2].values : nil
        let channels = resultShape.dimensions.last ?? 1
        func scale(_ channel: Int) -> Float {
            QuantizedArithmetic.requantizationScale(
                input: x.scale, filter: w.scales.count == 1 ? w.scales[0] : w.scales[channel], output: output.scales[0])
        }
        let centered = x.values.map { $0 - x.zeroPoint }
        let sums: [Int32]
        switch kind {
        case .fullyConnected:
            sums = Kernels.fullyConnectedSums(centered, w.values, filterShape: w.shape)
        case .conv(let attributes):
            sums = Kernels.convolutionSums(
                centered, inputShape: x.shape, w.values, filterShape: w.shape, attributes, resultShape: resultShape,
                depthwise: false)
        case .depthwise(let attributes):
            sums = Kernels.convolutionSums(
                centered, inputShape: x.shape, w.values, filterShape: w.shape, attributes, resultShape: resultShape,
                depthwise: true)
        }
        return sums.enumerated().map { index, sum in
            let channel = index % channels
            let accumulator = sum &+ (bias?[channel] ?? 0)
            return QuantizedArithmetic.requantize(
                accumulator, scale: scale(channel), zeroPoint: output.zeroPoints[0], range: bounds)
        }
    }

    /// Max of raw values, or the average rounded half away from zero, over in-bounds taps.
    static func pool(_ x: Quantized, _ attributes: Pool2DAttributes, _ resultShape: Shape, average: Bool) -> [Int32] {
        var out = [Int32](repeating: 0, count: resultShape.elementCount)
        Kernels.forEachWindow(inputShape: x.shape, attributes, resultShape: resultShape) { output, taps in
            let values = taps.map { x.values[$0] }
            let (sum, count) = (values.reduce(0, +), Int32(values.count))
            let rounded = count == 0 ? 0 : sum >= 0 ? (sum + count / 2) / count : (sum - count / 2) / count
            out[output] = average ? rounded : values.max() ?? -128
        }
        return out
    }

    /// For each result element, the flat indices of its two broadcast operands.
    static func broadcastPairs(_ a: Shape, _ b: Shape, _ result: Shape) -> [(Int, Int)] {
        let rank = result.rank
        func strides(_ shape: Shape) -> [Int] {
            let padded = [Int](repeating: 1, count: rank - shape.rank) + shape.dimensions
            let dense = Shape(padded).strides
            return (0..<rank).map { padded[$0] == 1 ? 0 : dense[$0] }
        }
        let (stridesA, stridesB, outStrides) = (strides(a), strides(b), result.strides)
        return (0..<result.elementCount).map { index in
            var (offsetA, offsetB, rest) = (0, 0, index)
            for axis in 0..<rank {
                let coordinate = rest / outStrides[axis]
                rest %= outStrides[axis]
                offsetA += coordinate * stridesA[axis]
                offsetB += coordinate * stridesB[axis]
            }
            return (offsetA, offsetB)
        }
    }
}
