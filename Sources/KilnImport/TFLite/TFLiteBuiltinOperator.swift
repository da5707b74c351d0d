/// A builtin operator, as the schema's `BuiltinOperator` enum numbers it.
///
/// Codes this reader does not name are kept as `.unknown(code)` so newer
/// files still read; the importer decides what it supports.
public enum TFLiteBuiltinOperator: Hashable, Sendable {
    /// `ADD`, code 0.
    case add
    /// `AVERAGE_POOL_2D`, code 1.
    case averagePool2D
    /// `CONCATENATION`, code 2.
    case concatenation
    /// `CONV_2D`, code 3.
    case conv2D
    /// `DEPTHWISE_CONV_2D`, code 4.
    case depthwiseConv2D
    /// `DEPTH_TO_SPACE`, code 5.
    case depthToSpace
    /// `DEQUANTIZE`, code 6.
    case dequantize
    /// `EMBEDDING_LOOKUP`, code 7.
    case embeddingLookup
    /// `FLOOR`, code 8.
    case floor
    /// `FULLY_CONNECTED`, code 9.
    case fullyConnected
    /// `HASHTABLE_LOOKUP`, code 10.
    case hashtableLookup
    /// `L2_NORMALIZATION`, code 11.
    case l2Normalization
    /// `L2_POOL_2D`, code 12.
    case l2Pool2D
    /// `LOCAL_RESPONSE_NORMALIZATION`, code 13.
    case localResponseNormalization
    /// `LOGISTIC`, code 14.
    case logistic
    /// `LSH_PROJECTION`, code 15.
    case lshProjection
    /// `LSTM`, code 16.
    case lstm
    /// `MAX_POOL_2D`, code 17.
    case maxPool2D
    /// `MUL`, code 18.
    case mul
    /// `RELU`, code 19.
    case relu
    /// `RELU_N1_TO_1`, code 20.
    case reluN1To1
    /// `RELU6`, code 21.
    case relu6
    /// `RESHAPE`, code 22.
    case reshape
    /// `RESIZE_BILINEAR`, code 23.
    case resizeBilinear
    /// `RNN`, code 24.
    case rnn
    /// `SOFTMAX`, code 25.
    case softmax
    /// `SPACE_TO_DEPTH`, code 26.
    case spaceToDepth
    /// `SVDF`, code 27.
    case svdf
    /// `TANH`, code 28.
    case tanh
    /// `CONCAT_EMBEDDINGS`, code 29.
    case concatEmbeddings
    /// `SKIP_GRAM`, code 30.
    case skipGram
    /// `CALL`, code 31.
    case call
    /// `CUSTOM`, code 32.
    case custom
    /// `EMBEDDING_LOOKUP_SPARSE`, code 33.
    case embeddingLookupSparse
    /// `PAD`, code 34.
    case pad
    /// `UNIDIRECTIONAL_SEQUENCE_RNN`, code 35.
    case unidirectionalSequenceRnn
    /// `GATHER`, code 36.
    case gather
    /// `BATCH_TO_SPACE_ND`, code 37.
    case batchToSpaceND
    /// `SPACE_TO_BATCH_ND`, code 38.
    case spaceToBatchND
    /// `TRANSPOSE`, code 39.
    case transpose
    /// `MEAN`, code 40.
    case mean
    /// `SUB`, code 41.
    case sub
    /// `DIV`, code 42.
    case div
    /// `SQUEEZE`, code 43.
    case squeeze
    /// `UNIDIRECTIONAL_SEQUENCE_LSTM`, code 44.
    case unidirectionalSequenceLstm
    /// `STRIDED_SLICE`, code 45.
    case stridedSlice
    /// `BIDIRECTIONAL_SEQUENCE_RNN`, code 46.
    case bidirectionalSequenceRnn
    /// `EXP`, code 47.
    case exp
    /// `TOPK_V2`, code 48.
    case topKV2
    /// `SPLIT`, code 49.
    case split
    /// `LOG_SOFTMAX`, code 50.
    case logSoftmax
    /// `DELEGATE`, code 51.
    case delegate
    /// `BIDIRECTIONAL_SEQUENCE_LSTM`, code 52.
    case bidirectionalSequenceLstm
    /// `CAST`, code 53.
    case cast
    /// `PRELU`, code 54.
    case prelu
    /// `MAXIMUM`, code 55.
    case maximum
    /// `ARG_MAX`, code 56.
    case argMax
    /// `MINIMUM`, code 57.
    case minimum
    /// `LESS`, code 58.
    case less
    /// `NEG`, code 59.
    case neg
    /// `PADV2`, code 60.
    case padV2
    /// `GREATER`, code 61.
    case greater
    /// `GREATER_EQUAL`, code 62.
    case greaterEqual
    /// `LESS_EQUAL`, code 63.
    case lessEqual
    /// `SELECT`, code 64.
    case select
    /// `SLICE`, code 65.
    case slice
    /// `SIN`, code 66.
    case sin
    /// `TRANSPOSE_CONV`, code 67.
    case transposeConv
    /// `SPARSE_TO_DENSE`, code 68.
    case sparseToDense
    /// `TILE`, code 69.
    case tile
    /// `EXPAND_DIMS`, code 70.
    case expandDims
    /// `EQUAL`, code 71.
    case equal
    /// `NOT_EQUAL`, code 72.
    case notEqual
    /// `LOG`, code 73.
    case log
    /// `SUM`, code 74.
    case sum
    /// `SQRT`, code 75.
    case sqrt
    /// `RSQRT`, code 76.
    case rsqrt
    /// `SHAPE`, code 77.
    case shape
    /// `POW`, code 78.
    case pow
    /// `ARG_MIN`, code 79.
    case argMin
    /// `FAKE_QUANT`, code 80.
    case fakeQuant
    /// `REDUCE_PROD`, code 81.
    case reduceProd
    /// `REDUCE_MAX`, code 82.
    case reduceMax
    /// `PACK`, code 83.
    case pack
    /// `LOGICAL_OR`, code 84.
    case logicalOr
    /// `ONE_HOT`, code 85.
    case oneHot
    /// `LOGICAL_AND`, code 86.
    case logicalAnd
    /// `LOGICAL_NOT`, code 87.
    case logicalNot
    /// `UNPACK`, code 88.
    case unpack
    /// `REDUCE_MIN`, code 89.
    case reduceMin
    /// `FLOOR_DIV`, code 90.
    case floorDiv
    /// `REDUCE_ANY`, code 91.
    case reduceAny
    /// `SQUARE`, code 92.
    case square
    /// `ZEROS_LIKE`, code 93.
    case zerosLike
    /// `FILL`, code 94.
    case fill
    /// `FLOOR_MOD`, code 95.
    case floorMod
    /// `RANGE`, code 96.
    case range
    /// `RESIZE_NEAREST_NEIGHBOR`, code 97.
    case resizeNearestNeighbor
    /// `LEAKY_RELU`, code 98.
    case leakyRelu
    /// `SQUARED_DIFFERENCE`, code 99.
    case squaredDifference
    /// `MIRROR_PAD`, code 100.
    case mirrorPad
    /// `ABS`, code 101.
    case abs
    /// `SPLIT_V`, code 102.
    case splitV
    /// `UNIQUE`, code 103.
    case unique
    /// `CEIL`, code 104.
    case ceil
    /// `REVERSE_V2`, code 105.
    case reverseV2
    /// `ADD_N`, code 106.
    case addN
    /// `GATHER_ND`, code 107.
    case gatherND
    /// `COS`, code 108.
    case cos
    /// `WHERE`, code 109.
    case `where`
    /// `RANK`, code 110.
    case rank
    /// `ELU`, code 111.
    case elu
    /// `REVERSE_SEQUENCE`, code 112.
    case reverseSequence
    /// `MATRIX_DIAG`, code 113.
    case matrixDiag
    /// `QUANTIZE`, code 114.
    case quantize
    /// `MATRIX_SET_DIAG`, code 115.
    case matrixSetDiag
    /// `ROUND`, code 116.
    case round
    /// `HARD_SWISH`, code 117.
    case hardSwish
    /// `IF`, code 118.
    case `if`
    /// `WHILE`, code 119.
    case `while`
    /// `NON_MAX_SUPPRESSION_V4`, code 120.
    case nonMaxSuppressionV4
    /// `NON_MAX_SUPPRESSION_V5`, code 121.
    case nonMaxSuppressionV5
    /// `SCATTER_ND`, code 122.
    case scatterND
    /// `SELECT_V2`, code 123.
    case selectV2
    /// `DENSIFY`, code 124.
    case densify
    /// `SEGMENT_SUM`, code 125.
    case segmentSum
    /// `BATCH_MATMUL`, code 126.
    case batchMatMul
    /// `PLACEHOLDER_FOR_GREATER_OP_CODES`, code 127.
    case placeholderForGreaterOpCodes
    /// `CUMSUM`, code 128.
    case cumsum
    /// `CALL_ONCE`, code 129.
    case callOnce
    /// `BROADCAST_TO`, code 130.
    case broadcastTo
    /// `RFFT2D`, code 131.
    case rfft2D
    /// `CONV_3D`, code 132.
    case conv3D
    /// `IMAG`, code 133.
    case imag
    /// `REAL`, code 134.
    case real
    /// `COMPLEX_ABS`, code 135.
    case complexAbs
    /// `HASHTABLE`, code 136.
    case hashtable
    /// `HASHTABLE_FIND`, code 137.
    case hashtableFind
    /// `HASHTABLE_IMPORT`, code 138.
    case hashtableImport
    /// `HASHTABLE_SIZE`, code 139.
    case hashtableSize
    /// `REDUCE_ALL`, code 140.
    case reduceAll
    /// `CONV_3D_TRANSPOSE`, code 141.
    case conv3DTranspose
    /// `VAR_HANDLE`, code 142.
    case varHandle
    /// `READ_VARIABLE`, code 143.
    case readVariable
    /// `ASSIGN_VARIABLE`, code 144.
    case assignVariable
    /// `BROADCAST_ARGS`, code 145.
    case broadcastArgs
    /// `RANDOM_STANDARD_NORMAL`, code 146.
    case randomStandardNormal
    /// `BUCKETIZE`, code 147.
    case bucketize
    /// `RANDOM_UNIFORM`, code 148.
    case randomUniform
    /// `MULTINOMIAL`, code 149.
    case multinomial
    /// `GELU`, code 150.
    case gelu
    /// `DYNAMIC_UPDATE_SLICE`, code 151.
    case dynamicUpdateSlice
    /// `RELU_0_TO_1`, code 152.
    case relu0To1
    /// `UNSORTED_SEGMENT_PROD`, code 153.
    case unsortedSegmentProd
    /// `UNSORTED_SEGMENT_MAX`, code 154.
    case unsortedSegmentMax
    /// `UNSORTED_SEGMENT_SUM`, code 155.
    case unsortedSegmentSum
    /// `ATAN2`, code 156.
    case atan2
    /// `UNSORTED_SEGMENT_MIN`, code 157.
    case unsortedSegmentMin
    /// `SIGN`, code 158.
    case sign
    /// `BITCAST`, code 159.
    case bitcast
    /// `BITWISE_XOR`, code 160.
    case bitwiseXor
    /// `RIGHT_SHIFT`, code 161.
    case rightShift
    /// A code this reader does not name.
    case unknown(Int)

    /// Every named operator, in code order: the code of each is its index.
    private static let known: [TFLiteBuiltinOperator] = [
        .add, .averagePool2D, .concatenation, .conv2D, .depthwiseConv2D, .depthToSpace, .dequantize,
        .embeddingLookup, .floor, .fullyConnected, .hashtableLookup, .l2Normalization, .l2Pool2D,
        .localResponseNormalization, .logistic, .lshProjection, .lstm, .maxPool2D, .mul, .relu,
        .reluN1To1, .relu6, .reshape, .resizeBilinear, .rnn, .softmax, .spaceToDepth, .svdf, .tanh,
        .concatEmbeddings, .skipGram, .call, .custom, .embeddingLookupSparse, .pad,
        .unidirectionalSequenceRnn, .gather, .batchToSpaceND, .spaceToBatchND, .transpose, .mean,
        .sub, .div, .squeeze, .unidirectionalSequenceLstm, .stridedSlice, .bidirectionalSequenceRnn,
        .exp, .topKV2, .split, .logSoftmax, .delegate, .bidirectionalSequenceLstm, .cast, .prelu,
        .maximum, .argMax, .minimum, .less, .neg, .padV2, .greater, .greaterEqual, .lessEqual,
        .select, .slice, .sin, .transposeConv, .sparseToDense, .tile, .expandDims, .equal,
        .notEqual, .log, .sum, .sqrt, .rsqrt, .shape, .pow, .argMin, .fakeQuant, .reduceProd,
        .reduceMax, .pack, .logicalOr, .oneHot, .logicalAnd, .logicalNot, .unpack, .reduceMin,
        .floorDiv, .reduceAny, .square, .zerosLike, .fill, .floorMod, .range,
        .resizeNearestNeighbor, .leakyRelu, .squaredDifference, .mirrorPad, .abs, .splitV, .unique,
        .ceil, .reverseV2, .addN, .gatherND, .cos, .where, .rank, .elu, .reverseSequence,
        .matrixDiag, .quantize, .matrixSetDiag, .round, .hardSwish, .if, .while,
        .nonMaxSuppressionV4, .nonMaxSuppressionV5, .scatterND, .selectV2, .densify, .segmentSum,
        .batchMatMul, .placeholderForGreaterOpCodes, .cumsum, .callOnce, .broadcastTo, .rfft2D,
        .conv3D, .imag, .real, .complexAbs, .hashtable, .hashtableFind, .hashtableImport,
        .hashtableSize, .reduceAll, .conv3DTranspose, .varHandle, .readVariable, .assignVariable,
        .broadcastArgs, .randomStandardNormal, .bucketize, .randomUniform, .multinomial, .gelu,
        .dynamicUpdateSlice, .relu0To1, .unsortedSegmentProd, .unsortedSegmentMax,
        .unsortedSegmentSum, .atan2, .unsortedSegmentMin, .sign, .bitcast, .bitwiseXor, .rightShift,
    ]

    /// The schema's name of each named operator, in code order.
    private static let knownNames: [String] = [
        "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
        "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP",
        "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC",
        "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE",
        "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH", "CONCAT_EMBEDDINGS",
        "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
        "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND",
        "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM",
        "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2", "SPLIT", "LOG_SOFTMAX",
        "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM", "ARG_MAX", "MINIMUM",
        "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE", "SIN",
        "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG",
        "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD",
        "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK",
        "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD",
        "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS",
        "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK",
        "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND",
        "HARD_SWISH", "IF", "WHILE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5",
        "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL",
        "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D",
        "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT",
        "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE",
        "ASSIGN_VARIABLE", "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL", "BUCKETIZE",
        "RANDOM_UNIFORM", "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1",
        "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2",
        "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT",
    ]

    /// Each named operator's code.
    private static let codes: [TFLiteBuiltinOperator: Int] = Dictionary(
        uniqueKeysWithValues: known.enumerated().map { ($0.element, $0.offset) })

    /// The operator the schema numbers `code`: a named case when there is one.
    public init(code: Int) {
        self = Self.known.indices.contains(code) ? Self.known[code] : .unknown(code)
    }

    /// The schema's number for this operator.
    public var code: Int {
        if case .unknown(let code) = self { return code }
        return Self.codes[self] ?? -1
    }

    /// The schema's name for this operator, such as `CONV_2D`.
    public var name: String {
        if case .unknown(let code) = self { return "BuiltinOperator(\(code))" }
        return Self.knownNames.indices.contains(code) ? Self.knownNames[code] : "BuiltinOperator"
    }
}
