import KilnIR

extension Kernels {
    /// A float layer with int8 weights: `out[.., c] = act(s[c] · Σ x · (q[c, ..] − z[c]) + b[c])`.
    ///
    /// The weight scale multiplies the finished sum rather than each weight,
    /// as in LiteRT's default kernels (XNNPACK) and Kiln's native code. The
    /// results differ from scaling each weight only by rounding, except near
    /// the float range's edge: an input of 1e38 overflows to infinity exactly
    /// where theirs does. `nil` when `op` is not such a layer.
    static func weightOnlyInt8Layer(
        _ op: Op, _ operands: [TensorData], _ operandTypes: [TensorType], resultShape: Shape
    ) -> Tensor? {
        guard operands.count >= 2, operands[0].dtype == .float32, operands[1].dtype == .int8,
            let quantization = operandTypes[1].quantization
        else { return nil }
        let filter = operands[1]
        let raw = filter.floats()
        // Output channels run along axis 0 of dense filters and the last axis of depthwise ones.
        let depthwise: Bool
        let activation: Activation?
        switch op {
        case .fullyConnected(let function): (depthwise, activation) = (false, function)
        case .conv2D(let attributes): (depthwise, activation) = (false, attributes.activation)
        case .depthwiseConv2D(let attributes): (depthwise, activation) = (true, attributes.activation)
        default: return nil
        }
        let channels = resultShape.dimensions.last ?? 1
        let perChannel = quantization.axis != nil && quantization.scales.count == channels
        func scale(_ channel: Int) -> Float { quantization.scales[perChannel ? channel : 0] }
        func zeroPoint(_ channel: Int) -> Float { Float(quantization.zeroPoints[perChannel ? channel : 0]) }
        let stride = depthwise ? 1 : raw.count / max(channels, 1)
        let centered = raw.indices.map { index in
            let channel = depthwise ? index % channels : index / max(stride, 1)
            return raw[index] - zeroPoint(channel)
        }
        let x = operands[0].floats()
        let sums: [Float]
        switch op {
        case .conv2D(let attributes), .depthwiseConv2D(let attributes):
            sums = convolutionSums(
                x, inputShape: operands[0].shape, centered, filterShape: filter.shape, attributes,
                resultShape: resultShape, depthwise: depthwise)
        default:
            sums = fullyConnectedSums(x, centered, filterShape: filter.shape)
        }
        let bias = operands.count > 2 ? Tensor(operands[2], quantization: operandTypes[2].quantization).values : nil
        let values = sums.indices.map { index in
            let channel = index % channels
            return apply(activation, sums[index] * scale(channel) + (bias?[channel] ?? 0))
        }
        return Tensor(shape: resultShape, values: values)
    }
}
