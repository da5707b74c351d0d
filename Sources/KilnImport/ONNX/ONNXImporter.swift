import Foundation
import KilnIR

/// Converts an ONNX model into a Kiln graph.
///
/// ONNX image tensors are NCHW and Kiln's are NHWC: the importer converts
/// once, at import. Filters are transposed at build time, rank-4 inputs that
/// feed spatial layers are declared NHWC, and each value remembers whether it
/// holds NCHW data in NHWC order (``ONNXLayout``), so transposes in the model
/// cancel against the conversion instead of running. Anything Kiln cannot run
/// is an error naming the file, the node's position, operator and name.
///
/// ```swift
/// let graph = try ONNXImporter.importGraph(contentsOf: url)
/// ```
public enum ONNXImporter {
    /// The ONNX operators the importer converts, by `op_type`.
    public static var supportedOperators: [String] { ONNXConversion.converters.keys.sorted() }

    /// The operators of ONNX Runtime's `com.microsoft` domain the importer converts (quantized ones).
    public static var supportedMicrosoftOperators: [String] { ONNXConversion.microsoftConverters.keys.sorted() }

    /// Reads and converts the model at `url`; the graph is named after the file.
    public static func importGraph(contentsOf url: URL) throws -> Graph {
        let model = try ONNXModel(contentsOf: url)
        return try importGraph(model, name: url.deletingPathExtension().lastPathComponent)
    }

    /// Converts the main graph of `model`.
    public static func importGraph(_ model: ONNXModel, name: String) throws -> Graph {
        var conversion = ONNXConversion(model: model, graph: Graph(name: name))
        try conversion.run()
        return conversion.graph
    }
}

/// How a converted value's data is ordered relative to the ONNX tensor it stands for.
enum ONNXLayout: Hashable, Sendable {
    /// As ONNX orders it.
    case plain
    /// A rank-4 NCHW tensor stored NHWC.
    case channelsLast
    /// An NCHW tensor `[n, c, h, w]` stored NHWC and flattened to `[n, h·w·c]`:
    /// what `Flatten` gives, kept so a following matrix product permutes its
    /// weights instead of the data.
    case flattenedChannelsLast(channels: Int, height: Int, width: Int)
}

/// A converted ONNX tensor: the Kiln value and how it is laid out.
struct ONNXValue: Hashable, Sendable {
    var id: ValueID
    var layout: ONNXLayout
}

/// The state of one conversion: which Kiln value each ONNX tensor name became.
struct ONNXConversion {
    let model: ONNXModel
    var graph: Graph
    var values: [String: ONNXValue] = [:]
    var constants: [String: ONNXConstant] = [:]
    /// Kiln constants already made from `constants`, by name and layout, so each is stored once.
    var materialized: [String: ValueID] = [:]
    /// How many nodes read each tensor, and which tensors are the graph's outputs (for folding decisions).
    var readers: [String: Int] = [:]
    /// The nodes reading each tensor.
    var readerNodes: [String: [ONNXNode]] = [:]
    var outputNames: Set<String> = []
    /// The ONNX element type of each integer constant (to tell uint8 from int8 data).
    var integerTypes: [String: ONNXDataType] = [:]
    /// The int8 tensors behind `DequantizeLinear` outputs, by output name.
    var dequantized: [String: ONNXQuantized] = [:]
    /// While converting a node as an int8 operator: its result's parameters.
    var int8Result: QuantizationParameters?
    /// `QuantizeLinear` outputs already defined by the int8 operator before them.
    var handled: Set<String> = []
    /// Recurrent steps unrolled so far (``RecurrentUnrolling/maximumSteps`` at most).
    var unrolledSteps = 0
    /// Integer arithmetic on index inputs, kept as expressions until a `Gather` reads them.
    var indexExpressions: [String: IndexExpression] = [:]

    var source: String { model.source }
    var opset: Int { model.opset }

    mutating func run() throws {
        let proto = model.graph
        do {
            for tensor in proto.initializer {
                constants[tensor.name] = try model.constant(tensor)
                integerTypes[tensor.name] = ONNXDataType(rawValue: tensor.dataType)
            }
        } catch let problem {
            throw ONNXError(message: "\(source): \(problem)")
        }
        for node in proto.node {
            for input in node.input where !input.isEmpty {
                readers[input, default: 0] += 1
                readerNodes[input, default: []].append(ONNXNode(node))
            }
        }
        outputNames = Set(proto.output.map(\.name))
        for input in proto.input where constants[input.name] == nil {
            do {
                try addInput(input)
            } catch let problem as ONNXProblem {
                throw ONNXError(message: "\(source): input '\(input.name)': \(problem)")
            }
        }
        for (position, node) in proto.node.enumerated() {
            do {
                if node.domain == "com.microsoft" {
                    guard let converter = Self.microsoftConverters[node.opType] else {
                        throw ONNXProblem(
                            "not supported; of the com.microsoft domain Kiln imports "
                                + ONNXImporter.supportedMicrosoftOperators.joined(separator: ", "))
                    }
                    try converter(&self, ONNXNode(node))
                    continue
                }
                guard node.domain.isEmpty || node.domain == "ai.onnx" else {
                    throw ONNXProblem(
                        "operators of domain '\(node.domain)' are not supported (only the default ONNX domain and "
                            + "ONNX Runtime's quantized com.microsoft operators)")
                }
                if try recordIndexArithmetic(ONNXNode(node)) { continue }
                guard let converter = Self.converters[node.opType] else {
                    throw ONNXProblem(
                        "not supported; Kiln imports " + ONNXImporter.supportedOperators.joined(separator: ", "))
                }
                let converted = ONNXNode(node)
                if node.opType == "QuantizeLinear", handled.contains(node.output.first ?? "") {
                    continue
                } else if let quantize = int8Consumer(of: converted) {
                    try convertInt8(converted, quantizedBy: quantize, converter: converter)
                } else {
                    try converter(&self, converted)
                }
            } catch let problem as ONNXProblem {
                let name = node.name.isEmpty ? "" : " '\(node.name)'"
                throw ONNXError(message: "\(source): node #\(position) \(node.opType)\(name): \(problem)")
            } catch {
                // Shape errors from the graph, and problems of folded shape arithmetic.
                let name = node.name.isEmpty ? "" : " '\(node.name)'"
                throw ONNXError(message: "\(source): node #\(position) \(node.opType)\(name): \(error)")
            }
        }
        graph.outputs = try proto.output.map { output in
            do {
                return try operand(output.name).id
            } catch let problem as ONNXProblem {
                throw ONNXError(message: "\(source): output '\(output.name)': \(problem)")
            }
        }
        do {
            try graph.verify()
        } catch {
            throw ONNXError(message: "\(source): \(error)")
        }
    }

    /// Declares a graph input: float32, int8 (quantized as the `DequantizeLinear` reading it says)
    /// or indices as int32, with static dimensions; a symbolic batch dimension becomes 1; rank-4
    /// inputs read by spatial layers are NHWC.
    mutating func addInput(_ input: ONNXProto.ValueInfo) throws {
        let tensorType = input.type.tensorType
        let dtype: DType
        var quantization: QuantizationParameters?
        switch ONNXDataType(rawValue: tensorType.elemType) {
        case .float: dtype = .float32
        // Token ids and other indices: Kiln takes them as int32.
        case .int32, .int64: dtype = .int32
        // An integer model's input (as tf2onnx converts a TFLite model with int8 inputs).
        case .int8:
            dtype = .int8
            quantization = try inputQuantization(input.name)
        default:
            throw ONNXProblem(
                "has type \(ONNXDataType.name(of: tensorType.elemType)); Kiln's imported models take float32 or int8 inputs, or int32/int64 indices as int32")
        }
        var dimensions: [Int] = []
        for (axis, dimension) in tensorType.shape.dim.enumerated() {
            if let value = dimension.dimValue, value > 0 {
                dimensions.append(Int(value))
            } else if axis == 0 {
                dimensions.append(1)
            } else {
                let name = dimension.dimParam.isEmpty ? "unknown" : "'\(dimension.dimParam)'"
                throw ONNXProblem(
                    "dimension \(axis) is \(name); Kiln compiles static shapes (export with fixed sizes; only the batch may be symbolic, and becomes 1)")
            }
        }
        let isImage = dimensions.count == 4 && feedsSpatialLayer(input.name)
        let shape = isImage ? [dimensions[0], dimensions[2], dimensions[3], dimensions[1]] : dimensions
        let type = TensorType(dtype, Shape(shape), quantization: quantization)
        if let problem = type.problem { throw ONNXProblem(problem) }
        let id = graph.addInput(name: input.name, type: type)
        values[input.name] = ONNXValue(id: id, layout: isImage ? .channelsLast : .plain)
    }

    /// The scale and zero point of int8 input `name`, from the `DequantizeLinear` nodes that read it,
    /// directly or after operators that only move its values (a reshape, say); they must agree on
    /// one per-tensor pair, and nothing else may read the integers.
    func inputQuantization(_ name: String) throws -> QuantizationParameters {
        let movers: Set<String> = ["Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Identity"]
        var dequantizers: [ONNXNode] = []
        var frontier = [name]
        var seen: Set<String> = []
        while let next = frontier.popLast(), seen.insert(next).inserted {
            for reader in readerNodes[next] ?? [] {
                if reader.opType == "DequantizeLinear", reader.inputs.first == next {
                    dequantizers.append(reader)
                } else if movers.contains(reader.opType), reader.inputs.first == next {
                    frontier += reader.outputs
                } else if reader.inputs.first == next || !movers.contains(reader.opType) {
                    throw ONNXProblem(
                        "is int8 and read by \(reader.opType) before any DequantizeLinear; Kiln takes an int8 input's scale"
                            + " and zero point from the DequantizeLinear that reads it (a QDQ or integer model)")
                }
            }
        }
        guard !dequantizers.isEmpty else {
            throw ONNXProblem("is int8 but never dequantized; Kiln needs its scale and zero point from a DequantizeLinear")
        }
        let parameters = try dequantizers.map { try quantization($0, scaleIndex: 1, zeroPointIndex: 2, perAxis: false).parameters }
        guard parameters.allSatisfy({ $0 == parameters[0] }), parameters[0].scales.count == 1 else {
            throw ONNXProblem("is dequantized with different or per-axis parameters; an int8 input has one scale and zero point")
        }
        return parameters[0]
    }

    /// Whether `name` reaches a convolution, pooling or batch normalization as its data, directly or
    /// through `QuantizeLinear`/`DequantizeLinear` (as a QDQ model's input does).
    func feedsSpatialLayer(_ name: String) -> Bool {
        let spatial: Set<String> = [
            "Conv", "QLinearConv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
            "BatchNormalization",
        ]
        var frontier = [name]
        var seen: Set<String> = []
        while let next = frontier.popLast(), seen.insert(next).inserted {
            for reader in readerNodes[next] ?? [] where reader.inputs.first == next {
                if spatial.contains(reader.opType) { return true }
                if ["QuantizeLinear", "DequantizeLinear"].contains(reader.opType) { frontier += reader.outputs }
            }
        }
        return false
    }

    // MARK: Operands

    /// The converted value named `name`, making a Kiln float32 constant (plain layout) from a known constant on first use.
    /// Behind a `DequantizeLinear`, the int8 tensor while converting an int8 operator, its real values otherwise.
    mutating func operand(_ name: String) throws -> ONNXValue {
        if int8Result != nil, let source = dequantized[name] { return try int8Operand(name, source) }
        if indexExpressions[name] != nil {
            throw ONNXProblem(
                "reads '\(name)', arithmetic on integer indices; Kiln folds such arithmetic only where a Gather reads it "
                    + "and it leaves every index in range unchanged or wraps negative ones")
        }
        if let value = values[name] { return value }
        if let source = dequantized[name] { return try dequantizedFloat(name, source) }
        guard let constant = constants[name] else { throw ONNXProblem("reads '\(name)', which no node or initializer defines") }
        return ONNXValue(id: try materialize(name, shape: constant.shape, values: constant.floats), layout: .plain)
    }

    /// A Kiln float32 constant for `values`, made once per `name` and `shape`.
    mutating func materialize(_ name: String, shape: [Int], values: [Float]) throws(ONNXProblem) -> ValueID {
        guard Shape(shape).checkedElementCount == values.count else {
            throw ONNXProblem("'\(name)' holds \(values.count) values, not the \(shape) its reader needs")
        }
        let key = "\(name)\(shape)"
        if let id = materialized[key] { return id }
        let id = graph.addConstant(name: name, data: TensorData(values, shape: Shape(shape)))
        materialized[key] = id
        return id
    }

    /// The value in ONNX's own order: channels-last data is transposed back
    /// (a reshape when only size-1 axes move), flattened data unflattened.
    mutating func plain(_ value: ONNXValue, name: String) throws -> ValueID {
        switch value.layout {
        case .plain:
            return value.id
        case .channelsLast:
            return try reordered(value.id, by: [0, 3, 1, 2], name: "\(name).nchw")
        case .flattenedChannelsLast(let channels, let height, let width):
            let batch = graph.type(of: value.id).shape[0]
            let image = try graph.addNode(
                .reshape([batch, height, width, channels]), inputs: [value.id], name: "\(name).nhwc",
                quantization: graph.type(of: value.id).quantization)
            let nchw = try reordered(image, by: [0, 3, 1, 2], name: "\(name).nchw")
            return try graph.addNode(
                .reshape([batch, channels * height * width]), inputs: [nchw], name: "\(name).flatten",
                quantization: graph.type(of: value.id).quantization)
        }
    }

    /// A rank-4 value in NHWC order.
    mutating func channelsLast(_ value: ONNXValue, name: String) throws -> ValueID {
        if value.layout == .channelsLast { return value.id }
        let id = try plain(value, name: name)
        guard graph.type(of: id).shape.rank == 4 else {
            throw ONNXProblem("needs a rank-4 NCHW tensor, got \(graph.type(of: id).shape)")
        }
        return try reordered(id, by: [0, 2, 3, 1], name: "\(name).nhwc")
    }

    /// `id` with its axes reordered; a reshape when only size-1 axes move, nothing for the identity.
    mutating func reordered(_ id: ValueID, by permutation: [Int], name: String) throws -> ValueID {
        let type = graph.type(of: id)
        if permutation == Array(0..<permutation.count) { return id }
        let moved = permutation.filter { type.shape[$0] != 1 }
        let op: Op = moved == moved.sorted()
            ? .reshape(Shape(permutation.map { type.shape[$0] })) : .transpose(permutation: permutation)
        return try graph.addNode(op, inputs: [id], name: name, quantization: type.quantization)
    }

    /// The ONNX tensor's dimensions (NCHW for channels-last values).
    func onnxShape(_ value: ONNXValue) -> [Int] {
        let shape = graph.type(of: value.id).shape.dimensions
        switch value.layout {
        case .plain: return shape
        case .channelsLast: return [shape[0], shape[3], shape[1], shape[2]]
        case .flattenedChannelsLast(let channels, let height, let width): return [shape[0], channels * height * width]
        }
    }

    /// Records `id` as the value of the node's output `index`.
    mutating func define(_ node: ONNXNode, _ id: ValueID, layout: ONNXLayout = .plain, output index: Int = 0) {
        guard index < node.outputs.count, !node.outputs[index].isEmpty else { return }
        values[node.outputs[index]] = ONNXValue(id: id, layout: layout)
    }

    /// The node's integer constant input `index`, or `nil` when the input is absent.
    func integers(_ node: ONNXNode, _ index: Int) throws(ONNXProblem) -> [Int]? {
        guard index < node.inputs.count, !node.inputs[index].isEmpty else { return nil }
        guard let tensor = constants[node.inputs[index]]?.integers else {
            throw ONNXProblem("input \(index) '\(node.inputs[index])' must be a constant integer tensor")
        }
        return tensor.values
    }

    /// The node's float constant input `index`, or `nil` when the input is absent.
    func floats(_ node: ONNXNode, _ index: Int) throws(ONNXProblem) -> (shape: [Int], values: [Float])? {
        guard index < node.inputs.count, !node.inputs[index].isEmpty else { return nil }
        guard let constant = constants[node.inputs[index]] ?? dequantized[node.inputs[index]].flatMap(dequantizedConstant) else {
            throw ONNXProblem("input \(index) '\(node.inputs[index])' must be a constant (an initializer or Constant)")
        }
        return (constant.shape, constant.floats)
    }

    /// The name for a node's result: its first output's.
    func resultName(_ node: ONNXNode) -> String { node.outputs.first ?? node.name }

    /// Appends a node computing the ONNX node's result: int8 with the result's parameters for an int8
    /// operator, with its input's for data moved on int8 values.
    mutating func add(_ op: Op, _ inputs: [ValueID], _ node: ONNXNode, suffix: String = "") throws -> ValueID {
        var quantization = int8Result
        if quantization == nil, let first = inputs.first, graph.type(of: first).dtype == .int8, op.keepsInputQuantization {
            // Int8 data moved outside a quantized operator (a QOperator model's MaxPool or Reshape).
            quantization = graph.type(of: first).quantization
        }
        return try graph.addNode(op, inputs: inputs, name: resultName(node) + suffix, quantization: quantization)
    }
}

/// One ONNX node's fields, with its attributes by name.
struct ONNXNode {
    let opType: String
    let name: String
    let inputs: [String]
    let outputs: [String]
    let attributes: [String: ONNXProto.Attribute]

    init(_ proto: ONNXProto.Node) {
        opType = proto.opType
        name = proto.name
        inputs = proto.input
        outputs = proto.output
        attributes = Dictionary(proto.attribute.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// A node made by the importer (a QOperator node's QDQ form), with integer attributes.
    init(opType: String, name: String, inputs: [String], outputs: [String], attributes: [String: Int]) {
        self.opType = opType
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes.mapValues { value in
            var attribute = ONNXProto.Attribute()
            attribute.i = Int64(value)
            attribute.type = .int
            return attribute
        }
    }

    /// A node made by the importer with another node's attributes.
    init(opType: String, name: String, inputs: [String], outputs: [String], attributes: [String: ONNXProto.Attribute]) {
        self.opType = opType
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    func int(_ name: String, default value: Int) -> Int { attributes[name].map { Int(clamping: $0.i) } ?? value }
    func float(_ name: String, default value: Float) -> Float { attributes[name]?.f ?? value }
    func ints(_ name: String) -> [Int]? { attributes[name].map { $0.ints.map { Int(clamping: $0) } } }
    func string(_ name: String) -> String? { attributes[name].map { String(decoding: $0.s, as: UTF8.self) } }

    /// The input at `index`, or a problem naming it when absent.
    func input(_ index: Int) throws(ONNXProblem) -> String {
        guard index < inputs.count, !inputs[index].isEmpty else { throw ONNXProblem("is missing input \(index)") }
        return inputs[index]
    }
}
