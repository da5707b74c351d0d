import KilnIR

/// Operators imported as several Kiln ops: exact rearrangements (tiling,
/// stacking, depth ↔ space, a transposed convolution as a convolution over a
/// zero-stuffed input) and float compositions (log-softmax, softmax with a
/// temperature), which int8 models run between a dequantize and a quantize.
extension TFLiteConversion {
    /// A node for an intermediate value of `output`, in its first input's quantization.
    mutating func intermediate(_ op: Op, _ inputs: [ValueID], _ output: TFLiteTensor, _ suffix: String) throws -> ValueID {
        try graph.addNode(op, inputs: inputs, name: "\(output.name).\(suffix)", quantization: graph.type(of: inputs[0]).quantization)
    }

    /// A float computation of `output`: `body` builds it on float values and
    /// names its last node as it is told. On int8 input the input is
    /// dequantized first and the float result quantized to the output's
    /// parameters, rounding once.
    mutating func inFloat(
        _ x: ValueID, _ output: TFLiteTensor, body: (inout Self, _ x: ValueID, _ resultName: String) throws -> ValueID
    ) throws -> ValueID {
        guard graph.type(of: x).dtype == .int8 else { return try body(&self, x, output.name) }
        let real = try graph.addNode(.dequantize, inputs: [x], name: "\(output.name).dequantize")
        return try add(.quantize(to: .int8), [try body(&self, real, "\(output.name).float")], output)
    }

    /// A float32 scalar constant broadcast against any shape.
    mutating func scalar(_ value: Float, _ output: TFLiteTensor, _ suffix: String) -> ValueID {
        graph.addConstant(name: "\(output.name).\(suffix)", data: TensorData([value], shape: [1]))
    }

    /// BROADCAST_TO: leading size-1 axes added, then size-1 axes tiled to the target.
    mutating func convertBroadcast(_ x: ValueID, to target: [Int], _ output: TFLiteTensor) throws -> ValueID {
        let shape = graph.type(of: x).shape
        guard target.count >= shape.rank else {
            throw TFLiteError(message: "\(source): cannot broadcast \(shape) to the lower rank \(target)")
        }
        let padded = Array(repeating: 1, count: target.count - shape.rank) + shape.dimensions
        guard zip(padded, target).allSatisfy({ $0 == $1 || $0 == 1 && $1 >= 1 }) else {
            throw TFLiteError(message: "\(source): cannot broadcast \(shape) to \(target)")
        }
        let reshaped = try intermediate(.reshape(Shape(padded)), [x], output, "expand")
        return try graph.addTile(reshaped, multiples: zip(padded, target).map { $0 == $1 ? 1 : $1 }, name: output.name)
    }

    /// PACK on data: each input gains a size-1 axis at `axis`, then they are joined along it.
    mutating func convertPack(_ inputs: [ValueID], axis requestedAxis: Int, _ output: TFLiteTensor) throws -> ValueID {
        guard let first = inputs.first else { throw TFLiteError(message: "\(source): PACK has no inputs") }
        let shape = graph.type(of: first).shape
        guard let axis = Op.normalizedAxis(requestedAxis, rank: shape.rank + 1) else {
            throw TFLiteError(message: "\(source): axis \(requestedAxis) is out of range for stacking \(shape)")
        }
        var expanded = shape.dimensions
        expanded.insert(1, at: axis)
        let parts = try inputs.enumerated().map { position, input in
            try intermediate(.reshape(Shape(expanded)), [input], output, "expand\(position)")
        }
        return try add(.concatenation(axis: axis, activation: nil), parts, output)
    }

    /// LOG_SOFTMAX along the last axis, in float.
    mutating func convertLogSoftmax(_ x: ValueID, _ output: TFLiteTensor) throws -> ValueID {
        try inFloat(x, output) { conversion, x, name in
            try conversion.graph.addLogSoftmax(x, axis: conversion.graph.type(of: x).shape.rank - 1, name: name)
        }
    }

    /// L2_NORMALIZATION over the last axis, in float, then the fused activation.
    mutating func convertL2Normalization(_ x: ValueID, activation: Activation?, _ output: TFLiteTensor) throws -> ValueID {
        try inFloat(x, output) { conversion, x, name in
            let normalized = try conversion.graph.addL2Normalization(x, name: activation == nil ? name : "\(name).normalized")
            guard let activation else { return normalized }
            return try conversion.graph.addNode(.activation(activation), inputs: [normalized], name: name)
        }
    }

    /// SOFTMAX with a temperature: `softmax(beta · x)`.
    mutating func convertSoftmax(_ x: ValueID, beta: Float, _ output: TFLiteTensor) throws -> ValueID {
        guard beta != 1 else { return try add(.softmax, [x], output) }
        return try inFloat(x, output) { conversion, x, name in
            let factor = conversion.scalar(beta, output, "beta")
            let scaled = try conversion.intermediate(.multiply(activation: nil), [x, factor], output, "scaled")
            return try conversion.graph.addNode(.softmax, inputs: [scaled], name: name)
        }
    }

    /// LEAKY_RELU and PRELU: `x < 0 ? alpha · x : x`. An int8 PRELU with
    /// per-channel slopes runs in float (the int8 function computes in float too).
    mutating func convertLeakyReLU(_ x: ValueID, slopes: ValueID?, alpha: Float, _ output: TFLiteTensor) throws -> ValueID {
        let isQuantized = graph.type(of: x).dtype == .int8
        if let slopes, !isQuantized || graph.type(of: slopes).quantization?.scales.count == 1 {
            return try add(.binary(.prelu, activation: nil), [x, slopes], output)
        }
        if slopes == nil, isQuantized {
            // One step of scale |alpha| holds alpha exactly.
            let constant = graph.addConstant(
                name: "\(output.name).alpha", data: TensorData(int8: [alpha < 0 ? -1 : alpha > 0 ? 1 : 0], shape: [1]),
                quantization: QuantizationParameters(scales: [alpha == 0 ? 1 : Swift.abs(alpha)], zeroPoints: [0]))
            return try add(.binary(.prelu, activation: nil), [x, constant], output)
        }
        let realSlopes: ValueID
        if let slopes {
            let type = graph.type(of: slopes)
            guard let data = graph.constantData(slopes), let quantization = type.quantization else {
                throw TFLiteError(message: "\(source): PRELU with per-channel int8 slopes needs them constant")
            }
            realSlopes = graph.addConstant(
                name: "\(output.name).alpha", data: TensorData(quantization.dequantize(data), shape: type.shape))
        } else {
            realSlopes = scalar(alpha, output, "alpha")
        }
        return try inFloat(x, output) { conversion, x, name in
            try conversion.graph.addNode(.binary(.prelu, activation: nil), inputs: [x, realSlopes], name: name)
        }
    }

    /// TRANSPOSE_CONV: a stride-1 convolution with the filter turned 180° over
    /// the input with `stride − 1` zeros between pixels (the zero point on
    /// int8) and the borders the output size implies.
    mutating func convertTransposeConv(
        _ op: TFLiteOperator, padding: TFLitePadding, strides: [Int], activation: TFLiteActivation, _ output: TFLiteTensor,
        _ outputType: TensorType
    ) throws -> ValueID {
        let operands = op.inputs.filter { $0 >= 0 }
        guard operands.count >= 3 else { throw TFLiteError(message: "\(source): TRANSPOSE_CONV needs output shape, filter and input") }
        let outputShape = try integers(operands[0])
        let filter = try value(of: operands[1])
        var x = try value(of: operands[2])
        let bias = operands.count > 3 ? try value(of: operands[3]) : nil
        let (inputShape, filterShape) = (graph.type(of: x).shape, graph.type(of: filter).shape)
        guard inputShape.rank == 4, filterShape.rank == 4, outputShape.count == 4, filterShape[3] == inputShape[3],
            strides.allSatisfy({ (1...Shape.maximumDimension).contains($0) })
        else {
            throw TFLiteError(
                message: "\(source): input \(inputShape), filter \(filterShape), output shape \(outputShape) and strides "
                    + "\(strides) do not describe a transposed convolution")
        }
        var borders: [[Int]] = []
        for axis in 0..<2 {
            let (size, window, stride, target) = (inputShape[axis + 1], filterShape[axis + 1], strides[axis], outputShape[axis + 1])
            // The forward convolution this one transposes: its padding before the first pixel.
            let padBefore = padding == .same ? max((size - 1) * stride + window - target, 0) / 2 : 0
            borders.append(
                try Graph.transposedConvolutionBorders(input: size, window: window, stride: stride, output: target, padBefore: padBefore))
        }
        x = try graph.addZeroStuffing(x, strides: strides, name: output.name)
        guard let filterData = graph.constantData(filter) else {
            throw TFLiteError(message: "\(source): TRANSPOSE_CONV needs a constant filter")
        }
        let turned = graph.addConstant(
            name: "\(output.name).filter", data: rotatedHalfTurn(filterData),
            quantization: graph.type(of: filter).quantization)
        let attributes = Conv2DAttributes(
            padding: .valid, explicitPadding: borders, activation: try Self.activation(activation))
        return try add(.conv2D(attributes), [x, turned] + (bias.map { [$0] } ?? []), output)
    }

    /// RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR with TensorFlow's coordinate rules.
    func resizeAttributes(size: [Int], bilinear: Bool, alignCorners: Bool, halfPixelCenters: Bool) throws -> ResizeAttributes {
        guard size.count == 2 else { throw TFLiteError(message: "\(source): the size operand holds \(size), not (height, width)") }
        if bilinear {
            return ResizeAttributes(
                size: size, method: .bilinear,
                coordinates: alignCorners ? .alignCorners : halfPixelCenters ? .halfPixel : .asymmetric)
        }
        switch (alignCorners, halfPixelCenters) {
        case (false, false): return ResizeAttributes(size: size, method: .nearest, coordinates: .asymmetric, rounding: .floor)
        case (false, true):
            return ResizeAttributes(size: size, method: .nearest, coordinates: .tfHalfPixelForNearest, rounding: .floor)
        case (true, false):
            return ResizeAttributes(size: size, method: .nearest, coordinates: .alignCorners, rounding: .roundPreferCeil)
        case (true, true):
            throw TFLiteError(message: "\(source): align_corners together with half_pixel_centers is not supported")
        }
    }
}
