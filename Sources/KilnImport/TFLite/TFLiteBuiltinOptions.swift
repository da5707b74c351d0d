/// The parameters of a builtin operator, decoded from the operator's `builtin_options` union.
///
/// Option tables that this reader does not decode come back as
/// `.unsupported(typeCode:)` with the union's type number, so the importer can
/// say which operator it cannot handle.
public enum TFLiteBuiltinOptions: Hashable, Sendable {
    /// The operator has no options (union type 0).
    case none
    /// `Conv2DOptions` (union type 1).
    case conv2D(TFLiteConv2DOptions)
    /// `DepthwiseConv2DOptions` (union type 2).
    case depthwiseConv2D(TFLiteDepthwiseConv2DOptions)
    /// `Pool2DOptions` (union type 5), for average, max and L2 pooling.
    case pool2D(TFLitePool2DOptions)
    /// `FullyConnectedOptions` (union type 8).
    case fullyConnected(TFLiteFullyConnectedOptions)
    /// `SoftmaxOptions` (union type 9): `softmax(beta × x)`.
    case softmax(beta: Float)
    /// `ConcatenationOptions` (union type 10).
    case concatenation(axis: Int, activation: TFLiteActivation)
    /// `AddOptions` (union type 11).
    case add(activation: TFLiteActivation)
    /// `ReshapeOptions` (union type 17); `nil` when the shape comes from the second input instead.
    case reshape(newShape: [Int]?)
    /// `MulOptions` (union type 21).
    case mul(activation: TFLiteActivation)
    /// `PadOptions` (union type 22), which has no fields.
    case pad
    /// `GatherOptions` (union type 23).
    case gather(axis: Int, batchDims: Int)
    /// `TransposeOptions` (union type 26), which has no fields.
    case transpose
    /// `ReducerOptions` (union type 27), for MEAN, SUM, REDUCE_MAX and the other reductions.
    case reducer(keepDims: Bool)
    /// `SubOptions` (union type 28).
    case sub(activation: TFLiteActivation)
    /// `DivOptions` (union type 29).
    case div(activation: TFLiteActivation)
    /// `SqueezeOptions` (union type 30); an empty list squeezes every size-1 dimension.
    case squeeze(dimensions: [Int])
    /// `StridedSliceOptions` (union type 32).
    case stridedSlice(TFLiteStridedSliceOptions)
    /// `DequantizeOptions` (union type 38), which has no fields.
    case dequantize
    /// `SplitOptions` (union type 35): `count` equal parts.
    case split(count: Int)
    /// `PackOptions` (union type 59): stacks `valuesCount` tensors along a new dimension `axis`.
    case pack(valuesCount: Int, axis: Int)
    /// `UnpackOptions` (union type 64): `count` tensors, one per index along `axis`, which disappears.
    case unpack(count: Int, axis: Int)
    /// `SplitVOptions` (union type 79): `count` parts of the sizes an operand gives.
    case splitV(count: Int)
    /// `PadV2Options` (union type 43), which has no fields.
    case padV2
    /// `LeakyReluOptions` (union type 75): `x < 0 ? alpha × x : x`.
    case leakyRelu(alpha: Float)
    /// `QuantizeOptions` (union type 89), which has no fields.
    case quantize
    /// `HardSwishOptions` (union type 91), which has no fields.
    case hardSwish
    /// `BatchMatMulOptions` (union type 101): an operand marked adjoint is read transposed.
    case batchMatMul(adjointX: Bool, adjointY: Bool, asymmetricQuantizeInputs: Bool)
    /// `GeluOptions` (union type 116): the tanh approximation when `approximate`, the exact erf form otherwise.
    case gelu(approximate: Bool)
    /// `UnidirectionalSequenceLSTMOptions` (union type 71).
    case sequenceLSTM(TFLiteSequenceLSTMOptions)
    /// `L2NormOptions` (union type 12).
    case l2Normalization(activation: TFLiteActivation)
    /// `ResizeBilinearOptions` (union type 15).
    case resizeBilinear(alignCorners: Bool, halfPixelCenters: Bool)
    /// `ResizeNearestNeighborOptions` (union type 74).
    case resizeNearestNeighbor(alignCorners: Bool, halfPixelCenters: Bool)
    /// `SpaceToDepthOptions` (union type 19).
    case spaceToDepth(blockSize: Int)
    /// `DepthToSpaceOptions` (union type 94).
    case depthToSpace(blockSize: Int)
    /// `TransposeConvOptions` (union type 49).
    case transposeConv(padding: TFLitePadding, strideWidth: Int, strideHeight: Int, activation: TFLiteActivation)
    /// `ArgMaxOptions` (union type 40): the result's tensor type code.
    case argMax(outputType: Int)
    /// `ArgMinOptions` (union type 57): the result's tensor type code.
    case argMin(outputType: Int)
    /// `WhileOptions` (union type 93): the subgraphs of the loop's condition and body.
    case whileLoop(condition: Int, body: Int)
    /// An options table this reader does not decode, by its union type number.
    case unsupported(typeCode: Int)

    /// The schema's `BuiltinOptions` union type number of these options.
    public var typeCode: Int {
        switch self {
        case .none: 0
        case .conv2D: 1
        case .depthwiseConv2D: 2
        case .pool2D: 5
        case .fullyConnected: 8
        case .softmax: 9
        case .concatenation: 10
        case .add: 11
        case .reshape: 17
        case .mul: 21
        case .pad: 22
        case .gather: 23
        case .transpose: 26
        case .reducer: 27
        case .sub: 28
        case .div: 29
        case .squeeze: 30
        case .stridedSlice: 32
        case .dequantize: 38
        case .split: 35
        case .pack: 59
        case .unpack: 64
        case .splitV: 79
        case .padV2: 43
        case .leakyRelu: 75
        case .quantize: 89
        case .hardSwish: 91
        case .batchMatMul: 101
        case .gelu: 116
        case .sequenceLSTM: 71
        case .l2Normalization: 12
        case .resizeBilinear: 15
        case .resizeNearestNeighbor: 74
        case .spaceToDepth: 19
        case .depthToSpace: 94
        case .transposeConv: 49
        case .argMax: 40
        case .argMin: 57
        case .whileLoop: 93
        case .unsupported(let typeCode): typeCode
        }
    }
}

/// The fields of `Conv2DOptions`.
public struct TFLiteConv2DOptions: Hashable, Sendable {
    /// How the window treats the input's edges.
    public var padding: TFLitePadding
    /// The step between windows along the width.
    public var strideWidth: Int
    /// The step between windows along the height.
    public var strideHeight: Int
    /// The spacing between filter taps along the width; 1 is a dense filter.
    public var dilationWidthFactor: Int
    /// The spacing between filter taps along the height; 1 is a dense filter.
    public var dilationHeightFactor: Int
    /// The activation applied to the result.
    public var activation: TFLiteActivation

    /// Creates convolution options; dilations default to 1 as in the schema.
    public init(
        padding: TFLitePadding, strideWidth: Int, strideHeight: Int, dilationWidthFactor: Int = 1,
        dilationHeightFactor: Int = 1, activation: TFLiteActivation = .none
    ) {
        self.padding = padding
        self.strideWidth = strideWidth
        self.strideHeight = strideHeight
        self.dilationWidthFactor = dilationWidthFactor
        self.dilationHeightFactor = dilationHeightFactor
        self.activation = activation
    }
}

/// The fields of `DepthwiseConv2DOptions`.
public struct TFLiteDepthwiseConv2DOptions: Hashable, Sendable {
    /// How the window treats the input's edges.
    public var padding: TFLitePadding
    /// The step between windows along the width.
    public var strideWidth: Int
    /// The step between windows along the height.
    public var strideHeight: Int
    /// Output channels per input channel; newer runtimes infer it from the filter's shape.
    public var depthMultiplier: Int
    /// The spacing between filter taps along the width; 1 is a dense filter.
    public var dilationWidthFactor: Int
    /// The spacing between filter taps along the height; 1 is a dense filter.
    public var dilationHeightFactor: Int
    /// The activation applied to the result.
    public var activation: TFLiteActivation

    /// Creates depthwise convolution options; dilations default to 1 as in the schema.
    public init(
        padding: TFLitePadding, strideWidth: Int, strideHeight: Int, depthMultiplier: Int,
        dilationWidthFactor: Int = 1, dilationHeightFactor: Int = 1,
        activation: TFLiteActivation = .none
    ) {
        self.padding = padding
        self.strideWidth = strideWidth
        self.strideHeight = strideHeight
        self.depthMultiplier = depthMultiplier
        self.dilationWidthFactor = dilationWidthFactor
        self.dilationHeightFactor = dilationHeightFactor
        self.activation = activation
    }
}

/// The fields of `Pool2DOptions`.
public struct TFLitePool2DOptions: Hashable, Sendable {
    /// How the window treats the input's edges.
    public var padding: TFLitePadding
    /// The step between windows along the width.
    public var strideWidth: Int
    /// The step between windows along the height.
    public var strideHeight: Int
    /// The window's width.
    public var filterWidth: Int
    /// The window's height.
    public var filterHeight: Int
    /// The activation applied to the result.
    public var activation: TFLiteActivation

    /// Creates pooling options.
    public init(
        padding: TFLitePadding, strideWidth: Int, strideHeight: Int, filterWidth: Int,
        filterHeight: Int, activation: TFLiteActivation = .none
    ) {
        self.padding = padding
        self.strideWidth = strideWidth
        self.strideHeight = strideHeight
        self.filterWidth = filterWidth
        self.filterHeight = filterHeight
        self.activation = activation
    }
}

/// The fields of `FullyConnectedOptions`.
public struct TFLiteFullyConnectedOptions: Hashable, Sendable {
    /// The activation applied to the result.
    public var activation: TFLiteActivation
    /// How the weights are laid out in their buffer.
    public var weightsFormat: TFLiteWeightsFormat
    /// Whether the output keeps the input's rank instead of flattening to 2-D.
    public var keepNumDims: Bool
    /// Whether a weights-only quantized operator quantizes its float input asymmetrically.
    public var asymmetricQuantizeInputs: Bool

    /// Creates fully connected options.
    public init(
        activation: TFLiteActivation = .none, weightsFormat: TFLiteWeightsFormat = .default,
        keepNumDims: Bool = false, asymmetricQuantizeInputs: Bool = false
    ) {
        self.activation = activation
        self.weightsFormat = weightsFormat
        self.keepNumDims = keepNumDims
        self.asymmetricQuantizeInputs = asymmetricQuantizeInputs
    }
}

/// The fields of `StridedSliceOptions`: bit masks over dimensions, as in TensorFlow.
public struct TFLiteStridedSliceOptions: Hashable, Sendable {
    /// Dimensions whose begin index is ignored (start from the edge).
    public var beginMask: Int
    /// Dimensions whose end index is ignored (run to the edge).
    public var endMask: Int
    /// The dimension that stands for all the ones not named.
    public var ellipsisMask: Int
    /// Positions where a new size-1 dimension is inserted.
    public var newAxisMask: Int
    /// Dimensions that are indexed rather than sliced, and so removed.
    public var shrinkAxisMask: Int
    /// Whether the end tensor holds offsets from begin rather than indices.
    public var offset: Bool

    /// Creates strided slice options.
    public init(
        beginMask: Int = 0, endMask: Int = 0, ellipsisMask: Int = 0, newAxisMask: Int = 0,
        shrinkAxisMask: Int = 0, offset: Bool = false
    ) {
        self.beginMask = beginMask
        self.endMask = endMask
        self.ellipsisMask = ellipsisMask
        self.newAxisMask = newAxisMask
        self.shrinkAxisMask = shrinkAxisMask
        self.offset = offset
    }
}

/// `UnidirectionalSequenceLSTMOptions`: the LSTM's cell and output activation and clipping.
public struct TFLiteSequenceLSTMOptions: Hashable, Sendable {
    /// The activation of the cell input and of the output (`tanh` for Keras).
    public var activation: TFLiteActivation
    /// Bound on the cell state's magnitude; 0 for none.
    public var cellClip: Float
    /// Bound on the projected output's magnitude; 0 for none.
    public var projectionClip: Float
    /// Whether the input is `[time, batch, features]` instead of `[batch, time, features]`.
    public var timeMajor: Bool
    /// Whether dynamic-range weights quantize the input asymmetrically.
    public var asymmetricQuantizeInputs: Bool
    /// Whether the recurrent weights are diagonal (one vector per gate).
    public var diagonalRecurrentTensors: Bool

    /// Creates the options.
    public init(
        activation: TFLiteActivation = .tanh, cellClip: Float = 0, projectionClip: Float = 0, timeMajor: Bool = false,
        asymmetricQuantizeInputs: Bool = false, diagonalRecurrentTensors: Bool = false
    ) {
        self.activation = activation
        self.cellClip = cellClip
        self.projectionClip = projectionClip
        self.timeMajor = timeMajor
        self.asymmetricQuantizeInputs = asymmetricQuantizeInputs
        self.diagonalRecurrentTensors = diagonalRecurrentTensors
    }
}
