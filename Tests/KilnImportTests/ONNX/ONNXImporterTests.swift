import Foundation
import KilnIR
import Testing

@testable import KilnImport

/// Hand-built ONNX models for the importer's layouts, folding and errors.
@Suite struct ONNXImporterTests {
    /// A float32 initializer.
    static func tensor(_ name: String, _ shape: [Int], _ values: [Float]) -> ONNXProto.Tensor {
        var tensor = ONNXProto.Tensor()
        tensor.name = name
        tensor.dims = shape.map(Int64.init)
        tensor.dataType = ONNXDataType.float.rawValue
        tensor.floatData = values
        return tensor
    }

    static func attribute(_ name: String, ints: [Int]) -> ONNXProto.Attribute {
        var attribute = ONNXProto.Attribute()
        attribute.name = name
        attribute.type = .ints
        attribute.ints = ints.map(Int64.init)
        return attribute
    }

    static func node(_ op: String, _ inputs: [String], _ output: String, _ attributes: [ONNXProto.Attribute] = [])
        -> ONNXProto.Node
    {
        var node = ONNXProto.Node()
        node.opType = op
        node.name = output
        node.input = inputs
        node.output = [output]
        node.attribute = attributes
        return node
    }

    static func valueInfo(_ name: String, _ dimensions: [Any]) -> ONNXProto.ValueInfo {
        var info = ONNXProto.ValueInfo()
        info.name = name
        info.type.tensorType.elemType = ONNXDataType.float.rawValue
        info.type.tensorType.shape.dim = dimensions.map { size in
            var dimension = ONNXProto.Dimension()
            if let size = size as? Int { dimension.dimValue = Int64(size) } else { dimension.dimParam = "\(size)" }
            return dimension
        }
        return info
    }

    /// `image [1, 2, 4, 4] → Conv 3×3 (2 → 3, pads 1) → Transpose NCHW→NHWC → output`, plus `extra` nodes after it.
    static func convModel(
        opset: Int64 = 17, inputDimensions: [Any] = [1, 2, 4, 4], extra: [ONNXProto.Node] = [], output: String = "nhwc",
        weights: ONNXProto.Tensor? = nil
    ) -> ONNXProto.Model {
        var model = ONNXProto.Model()
        model.irVersion = 8
        var opsetID = ONNXProto.OperatorSetID()
        opsetID.version = opset
        model.opsetImport = [opsetID]
        model.graph = ONNXProto.Graph(name: "synthetic")
        model.graph!.input = [valueInfo("image", inputDimensions)]
        model.graph!.initializer = [
            weights ?? tensor("w", [3, 2, 3, 3], (0..<54).map { Float($0 % 7) / 7 - 0.4 }),
            tensor("b", [3], [0.1, -0.2, 0.3]),
        ]
        model.graph!.node =
            [
                node("Conv", ["image", "w", "b"], "conv", [attribute("pads", ints: [1, 1, 1, 1]), attribute("kernel_shape", ints: [3, 3])]),
                node("Transpose", ["conv"], "nhwc", [attribute("perm", ints: [0, 2, 3, 1])]),
            ] + extra
        model.graph!.output = [valueInfo(output, [])]
        return model
    }

    static func importGraph(_ model: ONNXProto.Model, directory: URL? = nil) throws -> Graph {
        let bytes = model.serializedBytes()
        return try ONNXImporter.importGraph(ONNXModel(bytes: bytes, source: "net.onnx", directory: directory), name: "net")
    }

    static func expectFailure(
        _ model: ONNXProto.Model, containing expected: String, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        let error = #expect(throws: ONNXError.self, sourceLocation: sourceLocation) { try Self.importGraph(model) }
        let message = error?.message ?? ""
        #expect(message.hasPrefix("net.onnx: "), "\(message)", sourceLocation: sourceLocation)
        #expect(message.contains(expected), "\(message)", sourceLocation: sourceLocation)
    }

    /// Images become NHWC at the input; the model's own NCHW→NHWC transpose then costs nothing.
    @Test func imagesAreNHWCAndTransposesCancel() throws {
        let graph = try Self.importGraph(Self.convModel())
        #expect(graph.type(of: graph.inputs[0]).shape == [1, 4, 4, 2])
        #expect(graph.nodes.map(\.op.kindName) == ["conv2d"])
        #expect(graph.type(of: graph.outputs[0]).shape == [1, 4, 4, 3])
        guard case .conv2D(let attributes) = graph.nodes[0].op else { return }
        #expect(attributes.padding == .same && attributes.explicitPadding == nil)
        // OIHW weights were reordered to OHWI at import: filter[o, y, x, i] = w[o, i, y, x].
        let filter = try #require(graph.constantData(graph.nodes[0].inputs[1]))
        #expect(filter.shape == [3, 3, 3, 2])
        #expect(filter.floats()[1] == Float(9 % 7) / 7 - 0.4)
    }

    @Test func aSymbolicBatchBecomesOneAndOtherSymbolsAreErrors() throws {
        let graph = try Self.importGraph(Self.convModel(inputDimensions: ["N", 2, 4, 4]))
        #expect(graph.type(of: graph.inputs[0]).shape == [1, 4, 4, 2])
        Self.expectFailure(
            Self.convModel(inputDimensions: [1, 2, "height", 4]), containing: "input 'image': dimension 2 is 'height'")
    }

    @Test func unsupportedOperatorsAreNamedWithTheirPosition() {
        let model = Self.convModel(extra: [Self.node("TopK", ["nhwc"], "largest")], output: "largest")
        Self.expectFailure(model, containing: "node #2 TopK 'largest': not supported; Kiln imports ")
    }

    @Test func opsetsOutsideTheSupportedRangeAreErrors() {
        Self.expectFailure(Self.convModel(opset: 9), containing: "opset 9 is not supported; Kiln imports opsets 13 to")
    }

    /// Groups must divide the input channels and the outputs (3 outputs do not split into 2 groups).
    @Test func groupsThatDoNotDivideTheChannelsAreErrors() {
        var model = Self.convModel(weights: Self.tensor("w", [3, 1, 3, 3], Array(repeating: 0.1, count: 27)))
        model.graph!.node[0].attribute.append(Self.attribute("group", ints: []))
        model.graph!.node[0].attribute[2].type = .int
        model.graph!.node[0].attribute[2].i = 2
        Self.expectFailure(model, containing: "2 groups of 1 channels do not fit the input's 2 channels and 3 outputs")
        model.graph!.node[0].attribute[2].i = 0
        Self.expectFailure(model, containing: "group 0 must be at least 1")
        // A group count whose product with the group depth overflows is an error too (found by the fuzzer).
        var wide = Self.convModel(weights: Self.tensor("w", [4, 2, 3, 3], Array(repeating: 0.1, count: 72)))
        wide.graph!.node[0].attribute.append(Self.attribute("group", ints: []))
        wide.graph!.node[0].attribute[2].type = .int
        wide.graph!.node[0].attribute[2].i = Int64.max / 2 + 1
        Self.expectFailure(wide, containing: "groups of 2 channels do not fit the input's 2 channels")
    }

    @Test func filesThatAreNotONNXAreNamed() {
        let error = #expect(throws: ONNXError.self) {
            try ONNXModel(bytes: Array("hello, not a model".utf8), source: "net.onnx")
        }
        #expect(error?.message.hasPrefix("net.onnx: not an ONNX model") == true, "\(error?.message ?? "")")
    }

    /// Weights in a file beside the model are read from it; a path out of the model's folder is refused.
    @Test func externalDataIsReadBesideTheModelOnly() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-external-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let values = (0..<54).map { Float($0) / 54 }
        let bytes = [UInt8](repeating: 0xAB, count: 16) + values.flatMap { value in
            withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
        }
        try Data(bytes).write(to: directory.appendingPathComponent("weights.bin"))
        var weights = ONNXProto.Tensor()
        weights.name = "w"
        weights.dims = [3, 2, 3, 3]
        weights.dataType = ONNXDataType.float.rawValue
        weights.dataLocation = .external
        weights.externalData = [("location", "weights.bin"), ("offset", "16"), ("length", "216")].map { key, value in
            var entry = ONNXProto.StringStringEntry()
            (entry.key, entry.value) = (key, value)
            return entry
        }
        let graph = try Self.importGraph(Self.convModel(weights: weights), directory: directory)
        let filter = try #require(graph.constantData(graph.nodes[0].inputs[1]))
        #expect(filter.floats()[1] == values[9])
        weights.externalData[0].value = "../weights.bin"
        let error = #expect(throws: ONNXError.self) {
            try Self.importGraph(Self.convModel(weights: weights), directory: directory)
        }
        #expect(error?.message.contains("outside the model's folder") == true, "\(error?.message ?? "")")
    }

    /// Shape arithmetic on constants folds at import: `Shape → Gather → Unsqueeze → Concat → Reshape`.
    @Test func shapeArithmeticFolds() throws {
        func constant(_ name: String, _ values: [Int64], shape: [Int64]) -> ONNXProto.Tensor {
            var tensor = ONNXProto.Tensor()
            tensor.name = name
            tensor.dims = shape
            tensor.dataType = ONNXDataType.int64.rawValue
            tensor.int64Data = values
            return tensor
        }
        var model = Self.convModel(
            extra: [
                Self.node("Shape", ["nhwc"], "shape"),
                Self.node("Gather", ["shape", "zero"], "batch"),
                Self.node("Unsqueeze", ["batch", "axes"], "batch1"),
                Self.node("Concat", ["batch1", "rest"], "target", [Self.attribute("axis", ints: [])]),
                Self.node("Reshape", ["nhwc", "target"], "flat"),
            ], output: "flat")
        model.graph!.node[5].attribute[0].type = .int
        model.graph!.initializer += [
            constant("zero", [0], shape: []), constant("axes", [0], shape: [1]), constant("rest", [-1], shape: [1]),
        ]
        let graph = try Self.importGraph(model)
        #expect(graph.type(of: graph.outputs[0]).shape == [1, 48])
        #expect(graph.nodes.map(\.op.kindName) == ["conv2d", "reshape"])
    }

    /// `Q → DQ → Conv → Q → DQ` with uint8 activations: an int8 convolution, zero points shifted by -128;
    /// the Relu after it, whose result is not quantized, runs in float on the dequantized values.
    @Test func qdqConvolutionsBecomeInt8Layers() throws {
        func integers(_ name: String, _ values: [Int64], type: ONNXDataType, shape: [Int64]) -> ONNXProto.Tensor {
            var tensor = ONNXProto.Tensor()
            tensor.name = name
            tensor.dims = shape
            tensor.dataType = type.rawValue
            if type == .int64 { tensor.int64Data = values } else { tensor.int32Data = values.map { Int32($0) } }
            return tensor
        }
        var model = Self.convModel()
        model.graph!.initializer = [
            integers("wq", (0..<54).map { Int64($0 % 9) - 4 }, type: .int8, shape: [3, 2, 3, 3]),
            Self.tensor("ws", [3], [0.01, 0.02, 0.03]), integers("wz", [0, 0, 0], type: .int8, shape: [3]),
            Self.tensor("xs", [], [0.05]), integers("xz", [128], type: .uint8, shape: []),
            Self.tensor("ys", [], [0.1]), integers("yz", [100], type: .uint8, shape: []),
        ]
        var axis = ONNXProto.Attribute()
        (axis.name, axis.type, axis.i) = ("axis", .int, 0)
        model.graph!.node = [
            Self.node("QuantizeLinear", ["image", "xs", "xz"], "xq"), Self.node("DequantizeLinear", ["xq", "xs", "xz"], "xd"),
            Self.node("DequantizeLinear", ["wq", "ws", "wz"], "wd", [axis]),
            Self.node("Conv", ["xd", "wd"], "conv", [Self.attribute("kernel_shape", ints: [3, 3])]),
            Self.node("QuantizeLinear", ["conv", "ys", "yz"], "yq"), Self.node("DequantizeLinear", ["yq", "ys", "yz"], "yd"),
            Self.node("Relu", ["yd"], "out"),
        ]
        model.graph!.output = [Self.valueInfo("out", [])]
        let graph = try Self.importGraph(model)
        #expect(graph.nodes.map(\.op.kindName) == ["quantize", "conv2d", "dequantize", "relu"])
        let convolution = graph.type(of: graph.nodes[1].outputs[0])
        #expect(convolution.dtype == .int8 && convolution.quantization == .perTensor(scale: 0.1, zeroPoint: -28))
        #expect(graph.type(of: graph.nodes[0].outputs[0]).quantization == .perTensor(scale: 0.05, zeroPoint: 0))
        #expect(graph.type(of: graph.nodes[1].inputs[1]).quantization?.scales == [0.01, 0.02, 0.03])
    }
}
