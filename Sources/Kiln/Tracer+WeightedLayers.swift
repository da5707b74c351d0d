import KilnIR

extension Tracer {
    /// What a layer with a filter (Dense, Conv2D, DepthwiseConv2D) adds to the graph.
    struct WeightedLayer {
        /// The op, given the activation to fuse (always `nil` on float data).
        var op: (Activation?) -> Op
        var name: String
        var weightShape: Shape
        /// The filter's output-channel axis, along which int8 scales run.
        var channelAxis: Int
        var channels: Int
        var useBias: Bool
        var activation: Activation?
        var fanIn: Int
        var fanOut: Int
        var location: SourceLocation
        var quantization: QuantizationParameters?
        /// Turns the loaded float filter into the one the op reads (a transposed convolution's half turn).
        var prepareWeight: ((Tracer, ValueID) -> ValueID?)? = nil
    }

    /// Adds a filter layer.
    ///
    /// On float data it emits the bare op, a bias add and an activation, which
    /// `fuse-bias-activation` folds together later. On int8 data it emits the
    /// fused op at once, with an int8 filter, an int32 bias and the output's
    /// quantization, since int8 intermediates would need parameters of their own.
    func addWeightedLayer(_ layer: WeightedLayer) {
        if isQuantized {
            guard layer.prepareWeight == nil else {
                return fail("layer '\(layer.name)' runs on float data only; import int8 models of it from .tflite", at: layer.location)
            }
            let weight = addParameter(
                layer: layer.name, suffix: "weight", shape: layer.weightShape, scheme: .glorotUniform, fanIn: layer.fanIn,
                fanOut: layer.fanOut, dtype: .int8, scaleAxis: layer.channelAxis, at: layer.location)
            var operands = [weight]
            if layer.useBias {
                operands.append(
                    addParameter(
                        layer: layer.name, suffix: "bias", shape: [layer.channels], scheme: .zeros, fanIn: layer.fanIn,
                        fanOut: layer.fanOut, dtype: .int32, at: layer.location))
            }
            apply(
                layer.op(layer.activation), operands: operands, name: layer.name, at: layer.location,
                quantization: layer.quantization)
            return
        }
        // Float layers accept int8 weights with scales too (weight-only quantization, as imported models have).
        var weight = addParameter(
            layer: layer.name, suffix: "weight", shape: layer.weightShape, scheme: layer.activation.initializerScheme,
            fanIn: layer.fanIn, fanOut: layer.fanOut, scaleAxis: layer.channelAxis)
        if let prepare = layer.prepareWeight {
            guard let prepared = prepare(self, weight) else { return }
            weight = prepared
        }
        apply(layer.op(nil), operands: [weight], name: layer.name, at: layer.location)
        if layer.useBias {
            let bias = addParameter(
                layer: layer.name, suffix: "bias", shape: [layer.channels], scheme: .zeros, fanIn: layer.fanIn,
                fanOut: layer.fanOut)
            apply(.add(activation: nil), operands: [bias], name: "\(layer.name).bias_add", at: layer.location)
        }
        if let activation = layer.activation {
            apply(.activation(activation), name: "\(layer.name).\(activation.rawValue)", at: layer.location)
        }
    }
}
