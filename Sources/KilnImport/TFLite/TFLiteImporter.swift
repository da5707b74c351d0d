import Foundation
import KilnIR

/// Converts a TensorFlow Lite model into a Kiln graph.
///
/// Tensor layouts already match Kiln's (NHWC, `[N, K]` and OHWI filters), so
/// constants are taken as stored, int8 quantization parameters included.
/// Anything Kiln cannot run is an error naming the operator and its position.
///
/// ```swift
/// let graph = try TFLiteImporter.importGraph(contentsOf: url)
/// ```
public enum TFLiteImporter {
    /// The TFLite builtin operators the importer converts.
    public static let supportedOperators: [TFLiteBuiltinOperator] = (
        [
            .add, .averagePool2D, .batchMatMul, .concatenation, .conv2D, .depthwiseConv2D, .dequantize, .fullyConnected,
            .gelu, .fill, .maxPool2D, .mean, .mul, .pad, .padV2, .quantize, .reshape, .slice, .softmax, .split, .splitV,
            .squeeze, .stridedSlice, .sub, .transpose, .unpack, .argMax, .argMin, .broadcastTo, .depthToSpace, .gather,
            .l2Normalization, .leakyRelu, .logSoftmax, .pack, .prelu, .resizeBilinear, .resizeNearestNeighbor, .spaceToDepth, .tile,
            .transposeConv, .unidirectionalSequenceLstm, .cast, .while,
        ] + TFLiteConversion.elementwiseFunctions.keys + TFLiteConversion.binaryFunctions.keys
            + TFLiteConversion.reductions.keys
    ).sorted { $0.name < $1.name }

    /// The operators folded to constants when they compute integer shape tensors from known values.
    public static var shapeArithmeticOperators: [TFLiteBuiltinOperator] {
        TFLiteConversion.shapeArithmetic.sorted { $0.name < $1.name }
    }

    /// Reads and converts the model at `url`; the graph is named after the file.
    public static func importGraph(contentsOf url: URL) throws -> Graph {
        let model = try TFLiteModel(contentsOf: url)
        return try importGraph(model, name: url.deletingPathExtension().lastPathComponent, source: url.lastPathComponent)
    }

    /// Converts the first subgraph of `model`.
    public static func importGraph(_ model: TFLiteModel, name: String, source: String) throws -> Graph {
        guard let subgraph = model.subgraphs.first else { throw TFLiteError(message: "\(source): the model has no subgraph") }
        var converter = TFLiteConversion(model: model, subgraph: subgraph, source: source, graph: Graph(name: name))
        try converter.run()
        return converter.graph
    }
}

/// The state of one conversion: which Kiln value each TFLite tensor became,
/// and which integer tensors are known at import (see ``StaticTensor``).
struct TFLiteConversion {
    let model: TFLiteModel
    let subgraph: TFLiteSubgraph
    let source: String
    var graph: Graph
    var values: [Int: ValueID] = [:]
    var known: [Int: StaticTensor] = [:]
    /// Boolean tensors `indices < 0`, by the indices' tensor (see ``foldIndexWrapping(_:_:)``).
    var negativeTests: [Int: Int] = [:]
    /// Integer tensors `indices + constant`, by the indices' tensor.
    var shiftedIndices: [Int: Int] = [:]
    /// WHILE loops this subgraph runs inside (see ``convertWhile(_:condition:body:)``).
    var loopDepth = 0
    /// Loop steps unrolled so far in the whole model, nested loops included.
    var unrolledSteps = 0

    mutating func run() throws {
        for index in subgraph.inputs {
            values[index] = graph.addInput(name: subgraph.tensors[index].name, type: try tensorType(index))
        }
        try convertOperators()
        graph.outputs = try subgraph.outputs.map { try value(of: $0) }
        try graph.verify()
    }

    /// Converts the subgraph's operators in order, its inputs already converted.
    mutating func convertOperators() throws {
        for (position, op) in subgraph.operators.enumerated() {
            let code = model.operatorCodes[op.opcodeIndex].builtinCode
            do {
                if code == .while {
                    guard case .whileLoop(let condition, let body) = op.options else {
                        throw TFLiteError(message: "\(source): WHILE needs its WhileOptions (condition and body subgraphs)")
                    }
                    try convertWhile(op, condition: condition, body: body)
                } else if Self.splittingOperators.contains(code) {
                    try convertParts(op, code)
                } else if try foldIndexWrapping(op, code) {
                    continue
                } else if try !foldShapeArithmetic(op, code) {
                    try convert(op, code)
                }
            } catch let error as TFLiteError {
                // Put the operator and its position after the file name the message may start with.
                let prefix = "\(source): "
                let problem = error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : error.message
                throw TFLiteError(message: "\(prefix)operator #\(position) \(code.name): \(problem)")
            } catch {
                throw TFLiteError(message: "\(source): operator #\(position) \(code.name): \(error)")
            }
        }
    }

    // MARK: Tensors

    func tensorType(_ index: Int, int64AsInt32: Bool = false) throws -> TensorType {
        let tensor = subgraph.tensors[index]
        let dtype: DType
        switch tensor.type {
        case .float32: dtype = .float32
        case .float16: dtype = .float16
        case .int8: dtype = .int8
        case .int32: dtype = .int32
        case .int64 where int64AsInt32: dtype = .int32
        default:
            throw TFLiteError(
                message: "\(source): tensor '\(tensor.name)' has type \(tensor.type.name); Kiln supports FLOAT32, FLOAT16, INT8 and INT32")
        }
        let type = TensorType(dtype, Shape(tensor.shape), quantization: try quantization(tensor, dtype: dtype))
        if let problem = type.problem {
            throw TFLiteError(message: "\(source): tensor \(index) '\(tensor.name)': \(problem)")
        }
        return type
    }

    func quantization(_ tensor: TFLiteTensor, dtype: DType) throws -> QuantizationParameters? {
        guard dtype == .int8 || dtype == .int32, let q = tensor.quantization, !q.scale.isEmpty else { return nil }
        let zeroPoints: [Int64] = q.zeroPoint.isEmpty ? Array(repeating: 0, count: q.scale.count) : q.zeroPoint
        let narrowed = zeroPoints.compactMap { Int32(exactly: $0) }
        guard zeroPoints.count == q.scale.count, narrowed.count == zeroPoints.count else {
            throw TFLiteError(
                message: "\(source): tensor '\(tensor.name)': quantization has \(q.scale.count) scales and zero points \(q.zeroPoint); "
                    + "it needs one 32-bit zero point per scale")
        }
        return QuantizationParameters(
            scales: q.scale, zeroPoints: narrowed, axis: q.scale.count > 1 ? q.quantizedDimension : nil)
    }

    /// The Kiln value of tensor `index`, creating constants on first use.
    mutating func value(of index: Int) throws -> ValueID {
        if let id = values[index] { return id }
        let tensor = subgraph.tensors[index]
        let type = try tensorType(index)
        if let folded = known[index], type.dtype == .int32 {
            // A folded shape computation read as data: it becomes a constant like any other.
            guard folded.values.count == type.shape.elementCount else {
                throw TFLiteError(
                    message: "\(source): tensor '\(tensor.name)' computes to \(folded.values.count) values at import, "
                        + "but its shape is \(type.shape)")
            }
            let id = graph.addConstant(
                name: tensor.name, data: TensorData(int32: folded.values.map { Int32(truncatingIfNeeded: $0) }, shape: type.shape))
            values[index] = id
            return id
        }
        let bytes = tensor.buffer < model.buffers.count ? model.buffers[tensor.buffer] : []
        guard !bytes.isEmpty else {
            throw TFLiteError(message: "\(source): tensor '\(tensor.name)' is read before any operator writes it")
        }
        guard bytes.count == type.byteCount else {
            throw TFLiteError(
                message: "\(source): constant '\(tensor.name)' holds \(bytes.count) bytes but \(type) needs \(type.byteCount)")
        }
        let id = graph.addConstant(
            name: tensor.name, data: TensorData(dtype: type.dtype, shape: type.shape, bytes: bytes),
            quantization: type.quantization)
        values[index] = id
        return id
    }

    /// The integers of a constant int32 or int64 tensor (shapes, axes, paddings).
    func integers(_ index: Int) throws -> [Int] {
        if let folded = known[index] { return folded.values }
        let tensor = subgraph.tensors[index]
        let bytes = tensor.buffer < model.buffers.count ? model.buffers[tensor.buffer] : []
        let size: Int
        switch tensor.type {
        case .int32: size = 4
        case .int64: size = 8
        default: throw TFLiteError(message: "\(source): '\(tensor.name)' must be a constant int32 or int64 tensor")
        }
        guard !bytes.isEmpty, bytes.count % size == 0 else {
            throw TFLiteError(message: "\(source): '\(tensor.name)' must be a constant tensor")
        }
        return stride(from: 0, to: bytes.count, by: size).map { start in
            var word: UInt64 = 0
            for byte in 0..<size { word |= UInt64(bytes[start + byte]) << (8 * byte) }
            return size == 4 ? Int(Int32(truncatingIfNeeded: word)) : Int(Int64(bitPattern: word))
        }
    }

    // MARK: Operators

    mutating func convert(_ op: TFLiteOperator, _ code: TFLiteBuiltinOperator) throws {
        guard let outputIndex = op.outputs.first, op.outputs.count == 1, outputIndex >= 0 else {
            throw TFLiteError(message: "\(source): \(code.name) must have exactly one output")
        }
        let output = subgraph.tensors[outputIndex]
        // Arg-reductions may state int64 positions; Kiln computes them as int32.
        let outputType = try tensorType(outputIndex, int64AsInt32: [.argMax, .argMin, .cast].contains(code))
        let operands = op.inputs.filter { $0 >= 0 }
        func operand(_ position: Int) throws -> Int {
            guard position < operands.count else { throw TFLiteError(message: "\(source): \(code.name) is missing input \(position)") }
            return operands[position]
        }
        func input(_ position: Int) throws -> ValueID { try value(of: try operand(position)) }
        var result: ValueID
        switch (code, op.options) {
        case (.conv2D, .conv2D(let options)):
            let attributes = try convolution(
                options.padding, [options.strideHeight, options.strideWidth],
                [options.dilationHeightFactor, options.dilationWidthFactor], options.activation)
            var inputs = try operands.indices.map(input)
            let filterShape = graph.type(of: try input(1)).shape
            let isPointwise = filterShape.rank == 4 && filterShape[1] == 1 && filterShape[2] == 1 && attributes.strides == [1, 1]
            inputs[0] = try dynamicRangeInput(inputs, scope: isPointwise ? .perRow : .perBatch, output)
            result = try add(.conv2D(attributes), inputs, output)
        case (.depthwiseConv2D, .depthwiseConv2D(let options)):
            let attributes = try convolution(
                options.padding, [options.strideHeight, options.strideWidth],
                [options.dilationHeightFactor, options.dilationWidthFactor], options.activation)
            result = try add(.depthwiseConv2D(attributes), try operands.indices.map(input), output)
        case (.fullyConnected, _):
            var activation: TFLiteActivation = .none
            if case .fullyConnected(let fullyConnected) = op.options {
                guard fullyConnected.weightsFormat == .default else {
                    // TensorFlow Lite runs this layout only with uint8 input and int16 output (the
                    // legacy TOCO converter's 16-bit LSTM path); Kiln has neither tensor type.
                    throw TFLiteError(
                        message: "\(source): FULLY_CONNECTED with SHUFFLED4x16INT8 weights (TensorFlow Lite's legacy uint8-input, "
                            + "int16-output kernel) is not supported; convert the model again with today's converter")
                }
                activation = fullyConnected.activation
            }
            var x = try input(0)
            let filter = try input(1)
            let depth = graph.type(of: filter).shape.dimensions.last ?? 1
            let xShape = graph.type(of: x).shape
            if xShape.rank != 2 || xShape.dimensions.last != depth {
                // TFLite flattens the input to [elements / depth, depth].
                x = try graph.addNode(
                    .reshape([xShape.elementCount / max(depth, 1), depth]), inputs: [x], name: "\(output.name).flatten")
            }
            x = try dynamicRangeInput([x, filter], scope: .perRow, output)
            result = try add(
                .fullyConnected(activation: try Self.activation(activation)), [x, filter] + (try operands.indices.dropFirst(2).map(input)),
                output)
        case (.averagePool2D, .pool2D(let options)), (.maxPool2D, .pool2D(let options)):
            let attributes = Pool2DAttributes(
                window: [options.filterHeight, options.filterWidth], strides: [options.strideHeight, options.strideWidth],
                padding: options.padding == .same ? .same : .valid)
            result = try add(code == .averagePool2D ? .averagePool2D(attributes) : .maxPool2D(attributes), [try input(0)], output)
            if let activation = try Self.activation(options.activation) {
                result = try graph.addNode(
                    .activation(activation), inputs: [result], name: "\(output.name).\(activation.rawValue)",
                    quantization: outputType.quantization)
            }
        case (.reshape, _), (.squeeze, _):
            let x = try input(0)
            result = try add(.reshape(try reshapeTarget(of: x, op, output)), [x], output)
        case (.softmax, .softmax(let beta)):
            result = try convertSoftmax(try input(0), beta: beta, output)
        case (.add, .add(let activation)):
            result = try add(.add(activation: try Self.activation(activation)), [try input(0), try input(1)], output)
        case (.mul, .mul(let activation)):
            result = try add(.multiply(activation: try Self.activation(activation)), [try input(0), try input(1)], output)
        case (.concatenation, .concatenation(let axis, let activation)):
            result = try add(
                .concatenation(axis: axis, activation: try Self.activation(activation)), try operands.indices.map(input), output)
        case (.pad, _), (.padV2, _):
            let flat = try integers(try operand(1))
            guard flat.count % 2 == 0 else {
                throw TFLiteError(message: "\(source): \(code.name) paddings hold \(flat.count) integers, not [before, after] pairs")
            }
            let paddings = stride(from: 0, to: flat.count, by: 2).map { [flat[$0], flat[$0 + 1]] }
            result = try add(.pad(paddings: paddings), [try input(0)], output)
        case (.mean, .reducer(let keepDims)):
            result = try add(.mean(axes: try integers(try operand(1)), keepDimensions: keepDims), [try input(0)], output)
        case (.quantize, _):
            result = try add(.quantize(to: outputType.dtype), [try input(0)], output)
        case (.dequantize, _):
            result = try add(.dequantize, [try input(0)], output)
        case (.batchMatMul, let options):
            var (adjointA, adjointB) = (false, false)
            if case .batchMatMul(let adjointX, let adjointY, _) = options { (adjointA, adjointB) = (adjointX, adjointY) }
            result = try add(.batchMatMul(adjointA: adjointA, adjointB: adjointB), [try input(0), try input(1)], output)
        case (.gelu, let options):
            guard options != .gelu(approximate: true) else {
                throw TFLiteError(message: "\(source): the tanh approximation of GELU is not supported (only the exact form)")
            }
            result = try add(.activation(.gelu), [try input(0)], output)
        case (.slice, _):
            result = try convertSlice(try input(0), begin: try operand(1), size: try operand(2), output)
        case (.stridedSlice, .stridedSlice(let options)):
            result = try convertStridedSlice(
                try input(0), options, begin: try operand(1), end: try operand(2), strides: try operand(3), output)
        case (.fill, _):
            result = try convertFill(dimensions: try operand(0), value: try operand(1), output, outputType)
        case (.transpose, _):
            result = try convertTranspose(try input(0), permutation: try operand(1), output)
        case (.sub, .sub(let activation)):
            result = try add(.subtract(activation: try Self.activation(activation)), [try input(0), try input(1)], output)
        case (.leakyRelu, .leakyRelu(let alpha)):
            result = try convertLeakyReLU(try input(0), slopes: nil, alpha: alpha, output)
        case (.prelu, _):
            result = try convertLeakyReLU(try input(0), slopes: try input(1), alpha: 0, output)
        case (.tile, _):
            result = try graph.addTile(try input(0), multiples: try integers(try operand(1)), name: output.name)
        case (.broadcastTo, _):
            result = try convertBroadcast(try input(0), to: try integers(try operand(1)), output)
        case (.pack, .pack(_, let axis)):
            result = try convertPack(try operands.indices.map(input), axis: axis, output)
        case (.spaceToDepth, .spaceToDepth(let block)), (.depthToSpace, .depthToSpace(let block)):
            result = try graph.addSpaceDepthRearrangement(
                try input(0), blockSize: block, toDepth: code == .spaceToDepth, name: output.name)
        case (.logSoftmax, _):
            result = try convertLogSoftmax(try input(0), output)
        case (.cast, _):
            let x = try input(0)
            result = graph.type(of: x).dtype == outputType.dtype ? x : try add(.cast(to: outputType.dtype), [x], output)
        case (.unidirectionalSequenceLstm, .sequenceLSTM(let options)):
            result = try convertSequenceLSTM(op, options, output)
        case (.l2Normalization, .l2Normalization(let activation)):
            result = try convertL2Normalization(try input(0), activation: try Self.activation(activation), output)
        case (.transposeConv, .transposeConv(let padding, let strideWidth, let strideHeight, let activation)):
            result = try convertTransposeConv(
                op, padding: padding, strides: [strideHeight, strideWidth], activation: activation, output, outputType)
        case (.resizeBilinear, .resizeBilinear(let alignCorners, let halfPixelCenters)),
            (.resizeNearestNeighbor, .resizeNearestNeighbor(let alignCorners, let halfPixelCenters)):
            let attributes = try resizeAttributes(
                size: try integers(try operand(1)), bilinear: code == .resizeBilinear, alignCorners: alignCorners,
                halfPixelCenters: halfPixelCenters)
            result = try add(.resize(attributes), [try input(0)], output)
        case (.argMax, _), (.argMin, _):
            let axes = try integers(try operand(1))
            guard axes.count == 1 else { throw TFLiteError(message: "\(source): \(code.name) needs one axis, got \(axes)") }
            result = try graph.addNode(
                .argExtremum(code == .argMax ? .maximum : .minimum, axis: axes[0], keepDimensions: false), inputs: [try input(0)], name: output.name)
        case (.gather, .gather(let axis, let batchDimensions)):
            guard batchDimensions == 0 else {
                throw TFLiteError(message: "\(source): GATHER with batch_dims \(batchDimensions) is not supported (only 0)")
            }
            result = try add(.gather(axis: axis), [try input(0), try input(1)], output)
        default:
            if let function = Self.elementwiseFunctions[code] {
                result = try add(.activation(function), [try input(0)], output)
            } else if let function = Self.reductions[code], case .reducer(let keepDims) = op.options {
                result = try add(
                    .reduce(function, axes: try integers(try operand(1)), keepDimensions: keepDims), [try input(0)], output)
            } else if let function = Self.binaryFunctions[code] {
                var activation: TFLiteActivation = .none
                if case .div(let fused) = op.options { activation = fused }
                result = try add(
                    .binary(function, activation: try Self.activation(activation)), [try input(0), try input(1)], output)
            } else {
                throw unsupported(code)
            }
        }
        result = try keepingStoredShape(result, of: output, outputType)
        values[outputIndex] = result
    }

    /// `result` reshaped to the shape the model stores for `output` (e.g. FULLY_CONNECTED with keep_num_dims).
    ///
    /// Where the stored shape is a placeholder (the converter writes `[1, 1]`
    /// for tensors downstream of a reshape it computed at run time), the
    /// dimensions the shape signature marks dynamic (-1) take the inferred size.
    mutating func keepingStoredShape(_ result: ValueID, of output: TFLiteTensor, _ outputType: TensorType) throws -> ValueID {
        let inferred = graph.type(of: result).shape
        guard inferred != outputType.shape else { return result }
        if let signature = output.shapeSignature, signature.count == outputType.shape.rank,
            signature.count == inferred.rank,
            (0..<inferred.rank).allSatisfy({ signature[$0] == -1 || signature[$0] == inferred[$0] })
        {
            return result
        }
        return try graph.addNode(
            .reshape(outputType.shape), inputs: [result], name: "\(output.name).reshape", quantization: outputType.quantization)
    }

    /// The error for an operator the importer does not convert, listing those it does.
    func unsupported(_ code: TFLiteBuiltinOperator) -> TFLiteError {
        TFLiteError(
            message: "\(source): not supported (builtin code \(code.code)); Kiln imports "
                + TFLiteImporter.supportedOperators.map(\.name).joined(separator: ", ")
                + ", and folds integer shape arithmetic ("
                + TFLiteImporter.shapeArithmeticOperators.map(\.name).joined(separator: ", ") + ") at import")
    }

    /// The input of a layer, rounded first as a dynamic-range kernel would when
    /// the layer has int8 weights and float activations ("hybrid" layers).
    ///
    /// LiteRT's default kernels (XNNPACK) quantize such inputs on the fly: per
    /// row for fully-connected and 1×1 stride-1 convolutions (which run as
    /// matrix products), per batch entry for other convolutions. Matching that
    /// is what lets imported hybrid models reproduce LiteRT's outputs.
    mutating func dynamicRangeInput(_ inputs: [ValueID], scope: DynamicQuantizationScope, _ output: TFLiteTensor) throws
        -> ValueID
    {
        guard inputs.count >= 2, graph.type(of: inputs[0]).dtype == .float32, graph.type(of: inputs[1]).dtype == .int8,
            graph.type(of: inputs[1]).shape.rank >= 2
        else { return inputs[0] }
        return try graph.addNode(.dynamicRangeQuantize(scope), inputs: [inputs[0]], name: "\(output.name).input_quantize")
    }

    /// Appends a node computing `output` (named after it, with its quantization).
    mutating func add(_ op: Op, _ inputs: [ValueID], _ output: TFLiteTensor) throws -> ValueID {
        let quantization = output.type == .int8 ? try quantization(output, dtype: .int8) : nil
        return try graph.addNode(op, inputs: inputs, name: output.name, quantization: quantization)
    }

    /// Operators that apply one function to each element.
    static let elementwiseFunctions: [TFLiteBuiltinOperator: Activation] = [
        .abs: .abs, .elu: .elu, .exp: .exp, .hardSwish: .hardSwish, .log: .log, .logistic: .sigmoid, .neg: .negate,
        .relu: .relu, .relu0To1: .relu0To1, .relu6: .relu6, .reluN1To1: .reluMinus1To1, .rsqrt: .rsqrt, .sqrt: .sqrt,
        .tanh: .tanh,
    ]

    /// Reductions other than MEAN.
    static let reductions: [TFLiteBuiltinOperator: ReduceFunction] = [
        .sum: .sum, .reduceProd: .product, .reduceMax: .maximum, .reduceMin: .minimum,
    ]

    /// Element-wise operators of two operands, other than ADD, MUL and SUB.
    static let binaryFunctions: [TFLiteBuiltinOperator: BinaryFunction] = [
        .div: .divide, .maximum: .maximum, .minimum: .minimum, .pow: .power, .squaredDifference: .squaredDifference,
    ]

    func convolution(_ padding: TFLitePadding, _ strides: [Int], _ dilations: [Int], _ activation: TFLiteActivation) throws
        -> Conv2DAttributes
    {
        Conv2DAttributes(
            strides: strides, dilations: dilations, padding: padding == .same ? .same : .valid,
            activation: try Self.activation(activation))
    }

    static func activation(_ activation: TFLiteActivation) throws -> Activation? {
        switch activation {
        case .none: return nil
        case .relu: return .relu
        case .relu6: return .relu6
        case .tanh: return .tanh
        case .reluN1To1: return .reluMinus1To1
        case .signBit:
            throw TFLiteError(message: "fused activation \(activation) is not supported")
        }
    }
}
