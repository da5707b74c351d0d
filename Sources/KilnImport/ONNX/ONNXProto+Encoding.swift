/// Encoding to the wire format, the inverse of `ONNXProto+Decoding.swift`, for models built in
/// code; fields holding their default value are left out.
protocol ProtobufEncodable {
    /// Writes every field that is set.
    func encode(to writer: inout ProtobufWriter)
}

extension ProtobufEncodable {
    /// The message's bytes.
    func serializedBytes() -> [UInt8] {
        var writer = ProtobufWriter()
        encode(to: &writer)
        return writer.bytes
    }
}

extension ProtobufWriter {
    /// A nested message field.
    mutating func message(_ number: Int, _ message: some ProtobufEncodable) {
        var nested = ProtobufWriter()
        message.encode(to: &nested)
        self.message(number, nested)
    }

    /// A string field, left out when empty.
    mutating func nonEmpty(_ number: Int, _ value: String) {
        if !value.isEmpty { string(number, value) }
    }
}

extension ONNXProto.Model: ProtobufEncodable {
    func encode(to writer: inout ProtobufWriter) {
        if irVersion != 0 { writer.int64(1, irVersion) }
        writer.nonEmpty(2, producerName)
        if let graph { writer.message(7, graph) }
        for opset in opsetImport { writer.message(8, opset) }
    }
}

extension ONNXProto.OperatorSetID: ProtobufEncodable {
    func encode(to writer: inout ProtobufWriter) {
        writer.nonEmpty(1, domain)
        if version != 0 { writer.int64(2, version) }
    }
}

extension ONNXProto.Graph: ProtobufEncodable {
    func encode(to writer: inout ProtobufWriter) {
        for node in node { writer.message(1, node) }
        writer.nonEmpty(2, name)
        for tensor in initializer { writer.message(5, tensor) }
        for info in input { writer.message(11, info) }
        for info in output { writer.message(12, info) }
    }
}

extension ONNXProto.Node: ProtobufEncodable {
    func encode(to writer: inout ProtobufWriter) {
        for name in input { writer.string(1, name) }
        for name in output { writer.string(2, name) }
        writer.nonEmpty(3, name)
        writer.nonEmpty(4, opType)
        for attribute in attribute { writer.message(5, attribute) }
        writer.nonEmpty(7, domain)
    }
}

extension ONNXProto.Attribute: ProtobufEncodable {
    func encode(to writer: inout ProtobufWriter) {
        writer.nonEmpty(1, name)
        if f != 0 { writer.float(2, f) }
        if i != 0 { writer.int64(3, i) }
        if !s.isEmpty { writer.bytes(4, s) }
        if let t { writer.message(5, t) }
        // onnx.proto is proto2 and does not pack these: written one field per value, as exporters do.
        for value in floats { writer.float(7, value) }
        for value in ints { writer.int64(8, value) }
        for value in strings { writer.bytes(9, value) }
        if type != .undefined { writer.varint(20, UInt64(type.rawValue)) }
    }
}

extension ONNXProto.Tensor: ProtobufEncodable {
    func encode(to writer: inout ProtobufWriter) {
        for dimension in dims { writer.int64(1, dimension) }
        if dataType != 0 { writer.int64(2, Int64(dataType)) }
        if !floatData.isEmpty { writer.packedFloats(4, floatData) }
        if !int32Data.isEmpty { writer.packedVarints(5, int32Data.map { UInt64(bitPattern: Int64($0)) }) }
        if !int64Data.isEmpty { writer.packedVarints(7, int64Data.map { UInt64(bitPattern: $0) }) }
        writer.nonEmpty(8, name)
        if let rawData { writer.bytes(9, rawData) }
        if !doubleData.isEmpty { writer.packedDoubles(10, doubleData) }
        if !uint64Data.isEmpty { writer.packedVarints(11, uint64Data) }
        for entry in externalData { writer.message(13, entry) }
        if dataLocation != .default { writer.varint(14, UInt64(dataLocation.rawValue)) }
    }
}

extension ONNXProto.StringStringEntry: ProtobufEncodable {
    func encode(to writer: inout ProtobufWriter) {
        writer.nonEmpty(1, key)
        writer.nonEmpty(2, value)
    }
}

extension ONNXProto.ValueInfo: ProtobufEncodable {
    func encode(to writer: inout ProtobufWriter) {
        writer.nonEmpty(1, name)
        writer.message(2, type)
    }
}

extension ONNXProto.TypeInfo: ProtobufEncodable {
    func encode(to writer: inout ProtobufWriter) {
        writer.message(1, tensorType)
    }
}

extension ONNXProto.TensorType: ProtobufEncodable {
    func encode(to writer: inout ProtobufWriter) {
        if elemType != 0 { writer.int64(1, Int64(elemType)) }
        writer.message(2, shape)
    }
}

extension ONNXProto.TensorShape: ProtobufEncodable {
    func encode(to writer: inout ProtobufWriter) {
        for dimension in dim { writer.message(1, dimension) }
    }
}

extension ONNXProto.Dimension: ProtobufEncodable {
    func encode(to writer: inout ProtobufWriter) {
        if let dimValue { writer.int64(1, dimValue) } else { writer.nonEmpty(2, dimParam) }
    }
}
