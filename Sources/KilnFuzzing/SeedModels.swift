import KilnImport

/// Small valid models the TFLite fuzz target starts from when no model files are given.
///
/// Between them they use every operator the importer converts, float and
/// int8, per-tensor and per-channel, so mutations start from graphs that
/// import and reach the passes.
public enum SeedModels {
    /// Every built-in seed.
    public static var all: [TFLiteModel] {
        [floatCNN, floatElementwise, floatAttention, int8CNN, hybridFullyConnected, shapeArithmetic, floatDecoder, floatLSTM]
    }

    /// `input → CONV_2D → DEPTHWISE_CONV_2D → MAX_POOL_2D → RESHAPE → FULLY_CONNECTED → SOFTMAX`, float32.
    static var floatCNN: TFLiteModel {
        var model = Builder()
        let input = model.tensor([1, 8, 8, 2])
        var x = model.add(
            .conv2D, [input, model.floats([4, 3, 3, 2]), model.floats([4])], [1, 8, 8, 4],
            .conv2D(TFLiteConv2DOptions(padding: .same, strideWidth: 1, strideHeight: 1, activation: .relu)))
        x = model.add(
            .depthwiseConv2D, [x, model.floats([1, 3, 3, 4]), model.floats([4])], [1, 4, 4, 4],
            .depthwiseConv2D(
                TFLiteDepthwiseConv2DOptions(
                    padding: .same, strideWidth: 2, strideHeight: 2, depthMultiplier: 1, activation: .relu6)))
        x = model.add(
            .maxPool2D, [x], [1, 2, 2, 4],
            .pool2D(TFLitePool2DOptions(padding: .valid, strideWidth: 2, strideHeight: 2, filterWidth: 2, filterHeight: 2)))
        x = model.add(.reshape, [x, model.int32s([1, 16])], [1, 16], .reshape(newShape: [1, 16]))
        x = model.add(
            .fullyConnected, [x, model.floats([3, 16]), model.floats([3])], [1, 3],
            .fullyConnected(TFLiteFullyConnectedOptions()))
        x = model.add(.softmax, [x], [1, 3], .softmax(beta: 1))
        return model.finish(inputs: [input], outputs: [x])
    }

    /// `PAD`, `AVERAGE_POOL_2D`, `ADD`, `MUL`, `LOGISTIC`, `TANH`, `RELU`, `CONCATENATION`, `MEAN`, `SQUEEZE`, float32.
    static var floatElementwise: TFLiteModel {
        var model = Builder()
        let input = model.tensor([1, 4, 4, 3])
        let padded = model.add(.pad, [input, model.int32s([0, 0, 1, 1, 1, 1, 0, 0], shape: [4, 2])], [1, 6, 6, 3], .pad)
        let pooled = model.add(
            .averagePool2D, [padded], [1, 4, 4, 3],
            .pool2D(TFLitePool2DOptions(padding: .valid, strideWidth: 1, strideHeight: 1, filterWidth: 3, filterHeight: 3)))
        var x = model.add(.add, [input, pooled], [1, 4, 4, 3], .add(activation: .relu6))
        x = model.add(.mul, [x, model.floats([3])], [1, 4, 4, 3], .mul(activation: .none))
        let sigmoid = model.add(.logistic, [x], [1, 4, 4, 3], .none)
        let tanh = model.add(.tanh, [model.add(.relu, [input], [1, 4, 4, 3], .none)], [1, 4, 4, 3], .none)
        x = model.add(.concatenation, [sigmoid, tanh], [1, 4, 4, 6], .concatenation(axis: 3, activation: .none))
        x = model.add(.mean, [x, model.int32s([1, 2])], [1, 1, 1, 6], .reducer(keepDims: true))
        x = model.add(.squeeze, [x], [1, 6], .squeeze(dimensions: [1, 2]))
        return model.finish(inputs: [input], outputs: [x])
    }

    /// Attention and layer-norm arithmetic, float32: `TRANSPOSE`, `BATCH_MATMUL`, `SQUARED_DIFFERENCE`, `RSQRT`,
    /// `NEG`, `DIV`, `MAXIMUM`, `MINIMUM`, `POW`, `EXP`, `LOG`, `ABS`, `SQRT`, `ELU`, `RELU_N1_TO_1`, `RELU_0_TO_1`.
    static var floatAttention: TFLiteModel {
        var model = Builder()
        let input = model.tensor([1, 4, 2, 3])
        let heads = model.add(.transpose, [input, model.int32s([0, 2, 1, 3])], [1, 2, 4, 3], .transpose)
        let scores = model.add(
            .batchMatMul, [heads, heads], [1, 2, 4, 4],
            .batchMatMul(adjointX: false, adjointY: true, asymmetricQuantizeInputs: false))
        var x = model.add(.batchMatMul, [scores, heads], [1, 2, 4, 3], .batchMatMul(adjointX: false, adjointY: false, asymmetricQuantizeInputs: false))
        let mean = model.add(.mean, [x, model.int32s([3])], [1, 2, 4, 1], .reducer(keepDims: true))
        let variance = model.add(
            .mean, [model.add(.squaredDifference, [x, mean], [1, 2, 4, 3], .none), model.int32s([3])], [1, 2, 4, 1],
            .reducer(keepDims: true))
        let scale = model.add(.rsqrt, [model.add(.add, [variance, model.floats([1])], [1, 2, 4, 1], .add(activation: .none))], [1, 2, 4, 1], .none)
        x = model.add(.mul, [model.add(.sub, [x, mean], [1, 2, 4, 3], .sub(activation: .none)), scale], [1, 2, 4, 3], .mul(activation: .none))
        x = model.add(.add, [x, model.add(.neg, [mean], [1, 2, 4, 1], .none)], [1, 2, 4, 3], .add(activation: .none))
        x = model.add(.div, [x, model.add(.exp, [x], [1, 2, 4, 3], .none)], [1, 2, 4, 3], .div(activation: .reluN1To1))
        let positive = model.add(.abs, [x], [1, 2, 4, 3], .none)
        x = model.add(.maximum, [x, model.add(.log, [positive], [1, 2, 4, 3], .none)], [1, 2, 4, 3], .none)
        x = model.add(.minimum, [x, model.add(.sqrt, [positive], [1, 2, 4, 3], .none)], [1, 2, 4, 3], .none)
        x = model.add(.pow, [model.add(.relu0To1, [x], [1, 2, 4, 3], .none), model.floats([3])], [1, 2, 4, 3], .none)
        x = model.add(.elu, [model.add(.reluN1To1, [x], [1, 2, 4, 3], .none)], [1, 2, 4, 3], .none)
        return model.finish(inputs: [input], outputs: [x])
    }

    /// Upsampling, rearranging and reducing, float32: `LEAKY_RELU`, `PRELU`, `TRANSPOSE_CONV`, `RESIZE_NEAREST_NEIGHBOR`,
    /// `RESIZE_BILINEAR`, `SPACE_TO_DEPTH`, `DEPTH_TO_SPACE`, `TILE`, `BROADCAST_TO`, `PACK`, `GATHER`, `REDUCE_MAX`,
    /// `REDUCE_MIN`, `REDUCE_PROD`, `SUM`, `LOG_SOFTMAX`, `L2_NORMALIZATION`, `SOFTMAX` with beta and `ARG_MAX`;
    /// two outputs.
    static var floatDecoder: TFLiteModel {
        var model = Builder()
        let input = model.tensor([1, 4, 4, 2])
        var x = model.add(.leakyRelu, [input], [1, 4, 4, 2], .leakyRelu(alpha: 0.2))
        x = model.add(.prelu, [x, model.floats([1, 1, 2])], [1, 4, 4, 2], .none)
        x = model.add(
            .transposeConv, [model.int32s([1, 8, 8, 3]), model.floats([3, 3, 3, 2]), x, model.floats([3])], [1, 8, 8, 3],
            .transposeConv(padding: .same, strideWidth: 2, strideHeight: 2, activation: .relu))
        x = model.add(
            .resizeNearestNeighbor, [x, model.int32s([16, 16])], [1, 16, 16, 3],
            .resizeNearestNeighbor(alignCorners: false, halfPixelCenters: true))
        x = model.add(
            .resizeBilinear, [x, model.int32s([12, 12])], [1, 12, 12, 3],
            .resizeBilinear(alignCorners: false, halfPixelCenters: true))
        x = model.add(.spaceToDepth, [x], [1, 6, 6, 12], .spaceToDepth(blockSize: 2))
        x = model.add(.depthToSpace, [x], [1, 12, 12, 3], .depthToSpace(blockSize: 2))
        x = model.add(.tile, [x, model.int32s([1, 1, 1, 2])], [1, 12, 12, 6], .none)
        let pooled = model.add(.reduceMax, [x, model.int32s([1, 2])], [1, 6], .reducer(keepDims: false))
        let low = model.add(.reduceMin, [x, model.int32s([1, 2])], [1, 6], .reducer(keepDims: false))
        let product = model.add(.reduceProd, [model.add(.logistic, [x], [1, 12, 12, 6], .none), model.int32s([3])], [1, 12, 12], .reducer(keepDims: false))
        let total = model.add(.sum, [product, model.int32s([1, 2])], [1], .reducer(keepDims: false))
        var y = model.add(.pack, [pooled, low], [1, 2, 6], .pack(valuesCount: 2, axis: 1))
        y = model.add(.gather, [y, model.int32s([5, 0, 2])], [1, 2, 3], .gather(axis: 2, batchDims: 0))
        y = model.add(.add, [y, model.add(.broadcastTo, [total, model.int32s([1, 2, 3])], [1, 2, 3], .none)], [1, 2, 3], .add(activation: .none))
        y = model.add(.logSoftmax, [y], [1, 2, 3], .none)
        y = model.add(.l2Normalization, [y], [1, 2, 3], .l2Normalization(activation: .none))
        y = model.add(.softmax, [y], [1, 2, 3], .softmax(beta: 0.5))
        let positions = model.add(.argMax, [y, model.int32s([2])], [1, 2], .argMax(outputType: 2), type: .int32)
        return model.finish(inputs: [input], outputs: [y, positions])
    }

    /// `UNIDIRECTIONAL_SEQUENCE_LSTM` with peepholes, a projection and cell clipping, float32, 4 steps.
    static var floatLSTM: TFLiteModel {
        var model = Builder()
        let input = model.tensor([1, 4, 3])
        let (cells, units) = (5, 2)
        var inputs = [input]
        inputs += (0..<4).map { _ in model.floats([cells, 3]) }
        inputs += (0..<4).map { _ in model.floats([cells, units]) }
        inputs += (0..<3).map { _ in model.floats([cells]) }
        inputs += (0..<4).map { _ in model.floats([cells]) }
        inputs += [model.floats([units, cells]), model.floats([units])]
        inputs += [model.tensor([1, units]), model.tensor([1, cells])]
        inputs += [-1, -1, -1, -1]
        let x = model.add(
            .unidirectionalSequenceLstm, inputs, [1, 4, units],
            .sequenceLSTM(TFLiteSequenceLSTMOptions(activation: .tanh, cellClip: 3, projectionClip: 0.5)))
        return model.finish(inputs: [input], outputs: [x])
    }

    /// `QUANTIZE → CONV_2D → AVERAGE_POOL_2D → RESHAPE → FULLY_CONNECTED → DEQUANTIZE`, int8 with per-channel filters.
    static var int8CNN: TFLiteModel {
        var model = Builder()
        let input = model.tensor([1, 6, 6, 1])
        let activation = TFLiteQuantization(scale: [0.05], zeroPoint: [-3])
        var x = model.add(.quantize, [input], [1, 6, 6, 1], .quantize, type: .int8, quantization: activation)
        x = model.add(
            .conv2D,
            [
                x,
                model.int8s([4, 3, 3, 1], quantization: TFLiteQuantization(scale: [0.01, 0.02, 0.03, 0.04], zeroPoint: [0, 0, 0, 0])),
                model.int32s(Array(repeating: 5, count: 4), quantization: TFLiteQuantization(scale: [5e-4, 1e-3, 1.5e-3, 2e-3], zeroPoint: [0, 0, 0, 0])),
            ],
            [1, 4, 4, 4],
            .conv2D(TFLiteConv2DOptions(padding: .valid, strideWidth: 1, strideHeight: 1, activation: .relu)),
            type: .int8, quantization: TFLiteQuantization(scale: [0.1], zeroPoint: [-128]))
        x = model.add(
            .averagePool2D, [x], [1, 2, 2, 4],
            .pool2D(TFLitePool2DOptions(padding: .valid, strideWidth: 2, strideHeight: 2, filterWidth: 2, filterHeight: 2)),
            type: .int8, quantization: TFLiteQuantization(scale: [0.1], zeroPoint: [-128]))
        x = model.add(
            .reshape, [x, model.int32s([1, 16])], [1, 16], .reshape(newShape: [1, 16]), type: .int8,
            quantization: TFLiteQuantization(scale: [0.1], zeroPoint: [-128]))
        x = model.add(
            .fullyConnected,
            [
                x, model.int8s([5, 16], quantization: TFLiteQuantization(scale: [0.02], zeroPoint: [0])),
                model.int32s(Array(repeating: -7, count: 5), quantization: TFLiteQuantization(scale: [2e-3], zeroPoint: [0])),
            ],
            [1, 5], .fullyConnected(TFLiteFullyConnectedOptions()), type: .int8,
            quantization: TFLiteQuantization(scale: [0.2], zeroPoint: [4]))
        x = model.add(.dequantize, [x], [1, 5], .dequantize)
        return model.finish(inputs: [input], outputs: [x])
    }

    /// A float `FULLY_CONNECTED` with int8 per-channel weights: the dynamic-range (hybrid) path.
    static var hybridFullyConnected: TFLiteModel {
        var model = Builder()
        let input = model.tensor([2, 8])
        let x = model.add(
            .fullyConnected,
            [
                input,
                model.int8s([3, 8], quantization: TFLiteQuantization(scale: [0.01, 0.02, 0.04], zeroPoint: [0, 0, 0])),
                model.floats([3]),
            ],
            [2, 3], .fullyConnected(TFLiteFullyConnectedOptions(activation: .relu, asymmetricQuantizeInputs: true)))
        return model.finish(inputs: [input], outputs: [x])
    }

    /// The shape computations converters write around reshapes, folded at import:
    /// `SHAPE → STRIDED_SLICE → PACK → RESHAPE` (a Keras `Flatten`) and `SHAPE → GATHER → REDUCE_PROD → CONCATENATION`.
    static var shapeArithmetic: TFLiteModel {
        var model = Builder()
        let input = model.tensor([1, 4, 4, 2])
        let shape = model.add(.shape, [input], [4], .none, type: .int32)
        let batch = model.add(
            .stridedSlice, [shape, model.int32s([0]), model.int32s([1]), model.int32s([1])], [], 
            .stridedSlice(TFLiteStridedSliceOptions(shrinkAxisMask: 1)), type: .int32)
        let packed = model.add(.pack, [batch, model.int32s([-1], shape: [])], [2], .pack(valuesCount: 2, axis: 0), type: .int32)
        let flat = model.add(.reshape, [input, packed], [1, 32], .reshape(newShape: nil))
        let spatial = model.add(.gather, [shape, model.int32s([1, 2])], [2], .gather(axis: 0, batchDims: 0), type: .int32)
        let pixels = model.add(.reduceProd, [spatial, model.int32s([0])], [1], .reducer(keepDims: true), type: .int32)
        let target = model.add(
            .concatenation, [model.int32s([1]), pixels, model.int32s([2])], [3],
            .concatenation(axis: 0, activation: .none), type: .int32)
        let rows = model.add(.reshape, [input, target], [1, 16, 2], .reshape(newShape: nil))
        let dense = model.add(
            .fullyConnected, [flat, model.floats([4, 32]), model.floats([4])], [1, 4],
            .fullyConnected(TFLiteFullyConnectedOptions()))
        return model.finish(inputs: [input], outputs: [dense, rows])
    }

    /// Assembles one subgraph: tensors, constant buffers with deterministic contents, and operators.
    private struct Builder {
        var tensors: [TFLiteTensor] = []
        var buffers: [[UInt8]] = [[]]
        var codes: [TFLiteBuiltinOperator] = []
        var operators: [TFLiteOperator] = []

        mutating func tensor(
            _ shape: [Int], type: TFLiteTensorType = .float32, data: [UInt8] = [],
            quantization: TFLiteQuantization? = nil
        ) -> Int {
            var buffer = 0
            if !data.isEmpty {
                buffer = buffers.count
                buffers.append(data)
            }
            tensors.append(
                TFLiteTensor(name: "t\(tensors.count)", shape: shape, type: type, buffer: buffer, quantization: quantization))
            return tensors.count - 1
        }

        /// A float constant with small values that differ per element.
        mutating func floats(_ shape: [Int]) -> Int {
            let count = shape.reduce(1, *)
            let values = (0..<count).map { Float(($0 * 7) % 11 - 5) / 8 }
            return tensor(shape, data: values.flatMap { bytes(of: $0.bitPattern) })
        }

        mutating func int8s(_ shape: [Int], quantization: TFLiteQuantization) -> Int {
            let count = shape.reduce(1, *)
            return tensor(
                shape, type: .int8, data: (0..<count).map { UInt8(truncatingIfNeeded: ($0 * 37) % 255 - 127) },
                quantization: quantization)
        }

        mutating func int32s(_ values: [Int32], shape: [Int]? = nil, quantization: TFLiteQuantization? = nil) -> Int {
            tensor(shape ?? [values.count], type: .int32, data: values.flatMap(bytes(of:)), quantization: quantization)
        }

        /// Adds an operator writing a new tensor of `shape`; returns that tensor.
        mutating func add(
            _ code: TFLiteBuiltinOperator, _ inputs: [Int], _ shape: [Int], _ options: TFLiteBuiltinOptions,
            type: TFLiteTensorType = .float32, quantization: TFLiteQuantization? = nil
        ) -> Int {
            let output = tensor(shape, type: type, quantization: quantization)
            if !codes.contains(code) { codes.append(code) }
            let opcodeIndex = codes.firstIndex(of: code) ?? 0
            operators.append(TFLiteOperator(opcodeIndex: opcodeIndex, inputs: inputs, outputs: [output], options: options))
            return output
        }

        func finish(inputs: [Int], outputs: [Int]) -> TFLiteModel {
            TFLiteModel(
                operatorCodes: codes.map { TFLiteOperatorCode(builtinCode: $0) },
                subgraphs: [
                    TFLiteSubgraph(name: "main", tensors: tensors, inputs: inputs, outputs: outputs, operators: operators)
                ],
                buffers: buffers)
        }

        private func bytes<T: FixedWidthInteger>(of value: T) -> [UInt8] {
            withUnsafeBytes(of: value.littleEndian) { Array($0) }
        }
    }
}
