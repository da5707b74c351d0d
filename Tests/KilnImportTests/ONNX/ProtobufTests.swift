import Testing

@testable import KilnImport

/// The wire-format reader against bytes written by hand from the protobuf encoding rules,
/// and round trips through the writer.
@Suite struct ProtobufTests {
    /// `dims` unpacked (as onnx.proto declares it) and packed (as proto3 writers emit it) read the same;
    /// negative values take ten bytes.
    @Test func repeatedIntegersReadPackedAndUnpacked() throws {
        // Field 1 varint 3, field 1 varint -1 (ten bytes), field 2 varint 1.
        let unpacked: [UInt8] = [0x08, 0x03, 0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x01, 0x10, 0x01]
        // Field 1 length-delimited: 3, 300.
        let packed: [UInt8] = [0x0A, 0x03, 0x03, 0xAC, 0x02, 0x10, 0x01]
        let first = try ONNXProto.Tensor(from: ProtobufReader(unpacked))
        #expect(first.dims == [3, -1] && first.dataType == 1)
        #expect(try ONNXProto.Tensor(from: ProtobufReader(packed)).dims == [3, 300])
    }

    /// Floats packed (`float_data`) and one per field (attribute `floats`), fixed 32-bit little-endian.
    @Test func floatsReadPackedAndUnpacked() throws {
        let one = Array(withUnsafeBytes(of: Float(1.5).bitPattern.littleEndian, Array.init))
        let two = Array(withUnsafeBytes(of: Float(-2).bitPattern.littleEndian, Array.init))
        let tensor = try ONNXProto.Tensor(from: ProtobufReader([0x22, 0x08] + one + two))
        #expect(tensor.floatData == [1.5, -2])
        let attribute = try ONNXProto.Attribute(from: ProtobufReader([0x3D] + one + [0x3D] + two))
        #expect(attribute.floats == [1.5, -2])
    }

    /// Unknown fields of every wire type are skipped; the fields around them still read.
    @Test func unknownFieldsAreSkipped() throws {
        let bytes: [UInt8] =
            [0x0A, 0x01, 0x78]  // name "x"
            + [0xB0, 0x06, 0x2A]  // field 102 varint
            + [0xB9, 0x06] + [UInt8](repeating: 0, count: 8)  // field 103 fixed64
            + [0xC5, 0x06, 0, 0, 0, 0]  // field 104 fixed32
            + [0xCA, 0x06, 0x02, 0x08, 0x01]  // field 105 length-delimited
            + [0x22, 0x01, 0x61]  // op_type "a"
        let node = try ONNXProto.Node(from: ProtobufReader(bytes))
        #expect(node.input == ["x"] && node.opType == "a")
    }

    /// A model built in code survives writing and reading back, field by field.
    @Test func modelsRoundTrip() throws {
        var tensor = ONNXProto.Tensor(name: "w", dims: [2, 0, 3], dataType: 7)
        tensor.int64Data = [-5, Int64.max]
        tensor.int32Data = [-1, 7]
        tensor.doubleData = [0.25]
        tensor.uint64Data = [UInt64.max]
        tensor.rawData = []
        tensor.externalData = [ONNXProto.StringStringEntry(key: "location", value: "w.bin")]
        tensor.dataLocation = .external
        var attribute = ONNXProto.Attribute(name: "value", type: .tensor, f: -0.5, i: -3, s: Array("same".utf8))
        attribute.t = tensor
        attribute.ints = [1, -2]
        attribute.strings = [[0xFF], []]
        var info = ONNXProto.ValueInfo(name: "x")
        info.type.tensorType.elemType = 1
        info.type.tensorType.shape.dim = [ONNXProto.Dimension(dimValue: 4), ONNXProto.Dimension(dimParam: "batch")]
        let node = ONNXProto.Node(name: "n", opType: "Constant", domain: "d", input: ["", "x"], output: ["y"], attribute: [attribute])
        let graph = ONNXProto.Graph(name: "g", node: [node], initializer: [tensor], input: [info], output: [info])
        let model = ONNXProto.Model(
            irVersion: 9, producerName: "p", opsetImport: [ONNXProto.OperatorSetID(domain: "", version: 17)], graph: graph)
        let read = try ONNXProto.Model(serializedBytes: model.serializedBytes())
        #expect(read.serializedBytes() == model.serializedBytes())
        let readNode = try #require(read.graph?.node.first)
        #expect(readNode.input == ["", "x"] && readNode.domain == "d")
        let readAttribute = try #require(readNode.attribute.first)
        #expect(readAttribute.type == .tensor && readAttribute.i == -3 && readAttribute.ints == [1, -2])
        #expect(readAttribute.strings == [[0xFF], []] && readAttribute.f == -0.5)
        let readTensor = try #require(readAttribute.t)
        #expect(readTensor.dims == [2, 0, 3] && readTensor.int64Data == [-5, Int64.max] && readTensor.int32Data == [-1, 7])
        #expect(readTensor.rawData == [] && readTensor.dataLocation == .external && readTensor.uint64Data == [UInt64.max])
        let readInfo = try #require(read.graph?.input.first)
        #expect(readInfo.type.tensorType.shape.dim.map(\.dimValue) == [4, nil])
        #expect(readInfo.type.tensorType.shape.dim.map(\.dimParam) == ["", "batch"])
    }

    /// Truncations, overlong integers, groups and wire types that contradict the schema are errors, not traps.
    @Test func malformedBytesThrow() {
        let cases: [([UInt8], ProtobufError)] = [
            ([0x0A, 0x05, 0x61], .truncated(at: 1)),  // a 5-byte string with 1 byte left
            ([0x08] + [UInt8](repeating: 0x80, count: 10) + [0x01], .malformedVarint(at: 1)),
            ([0x0B], .unsupportedWireType(3, at: 0)),  // start group
            ([0x00], .invalidFieldNumber(at: 0)),
            ([0x0D, 0, 0, 0, 0], .wrongWireType(field: 1, found: .fixed32, expected: .varint, at: 1)),  // dims as fixed32
            ([0x22, 0x03, 0, 0, 0], .packedLength(3, elementSize: 4, at: 2)),
            ([0x08], .truncated(at: 1)),
        ]
        for (bytes, expected) in cases {
            #expect(throws: expected, "\(bytes)") { try ONNXProto.Tensor(from: ProtobufReader(bytes)) }
        }
    }
}
