/// Decoding from the wire format, by `onnx.proto`'s field numbers; fields Kiln does not read are skipped.
protocol ProtobufDecodable {
    init()
    /// Reads field `field` into `self`, or skips it.
    mutating func decode(_ field: ProtobufReader.Field, from reader: inout ProtobufReader) throws(ProtobufError)
}

extension ProtobufDecodable {
    /// The message `reader` holds.
    init(from reader: ProtobufReader) throws(ProtobufError) {
        self.init()
        var reader = reader
        while let field = try reader.nextField() { try decode(field, from: &reader) }
    }
}

extension ProtobufReader {
    /// A nested message field, decoded.
    mutating func message<M: ProtobufDecodable>(_ field: Field, as _: M.Type = M.self) throws(ProtobufError) -> M {
        try M(from: message(field))
    }
}

extension ONNXProto.Model: ProtobufDecodable {
    /// Decodes a model file's bytes.
    init(serializedBytes bytes: [UInt8]) throws(ProtobufError) {
        try self.init(from: ProtobufReader(bytes))
    }

    mutating func decode(_ field: ProtobufReader.Field, from reader: inout ProtobufReader) throws(ProtobufError) {
        switch field.number {
        case 1: irVersion = try reader.int64(field)
        case 2: producerName = try reader.string(field)
        case 7: graph = try reader.message(field)
        case 8: opsetImport.append(try reader.message(field))
        default: try reader.skip(field)
        }
    }
}

extension ONNXProto.OperatorSetID: ProtobufDecodable {
    mutating func decode(_ field: ProtobufReader.Field, from reader: inout ProtobufReader) throws(ProtobufError) {
        switch field.number {
        case 1: domain = try reader.string(field)
        case 2: version = try reader.int64(field)
        default: try reader.skip(field)
        }
    }
}

extension ONNXProto.Graph: ProtobufDecodable {
    mutating func decode(_ field: ProtobufReader.Field, from reader: inout ProtobufReader) throws(ProtobufError) {
        switch field.number {
        case 1: node.append(try reader.message(field))
        case 2: name = try reader.string(field)
        case 5: initializer.append(try reader.message(field))
        case 11: input.append(try reader.message(field))
        case 12: output.append(try reader.message(field))
        default: try reader.skip(field)
        }
    }
}

extension ONNXProto.Node: ProtobufDecodable {
    mutating func decode(_ field: ProtobufReader.Field, from reader: inout ProtobufReader) throws(ProtobufError) {
        switch field.number {
        case 1: input.append(try reader.string(field))
        case 2: output.append(try reader.string(field))
        case 3: name = try reader.string(field)
        case 4: opType = try reader.string(field)
        case 5: attribute.append(try reader.message(field))
        case 7: domain = try reader.string(field)
        default: try reader.skip(field)
        }
    }
}

extension ONNXProto.Attribute: ProtobufDecodable {
    mutating func decode(_ field: ProtobufReader.Field, from reader: inout ProtobufReader) throws(ProtobufError) {
        switch field.number {
        case 1: name = try reader.string(field)
        case 2: f = try reader.float(field)
        case 3: i = try reader.int64(field)
        case 4: s = try reader.bytes(field)
        case 5: t = try reader.message(field)
        case 7: try reader.appendFloats(field, to: &floats)
        case 8: try reader.appendVarints(field, to: &ints) { Int64(bitPattern: $0) }
        case 9: strings.append(try reader.bytes(field))
        case 20: type = Kind(rawValue: try reader.int32(field)) ?? .undefined
        default: try reader.skip(field)
        }
    }
}

extension ONNXProto.Tensor: ProtobufDecodable {
    mutating func decode(_ field: ProtobufReader.Field, from reader: inout ProtobufReader) throws(ProtobufError) {
        switch field.number {
        case 1: try reader.appendVarints(field, to: &dims) { Int64(bitPattern: $0) }
        case 2: dataType = try reader.int32(field)
        case 4: try reader.appendFloats(field, to: &floatData)
        case 5: try reader.appendVarints(field, to: &int32Data) { Int32(truncatingIfNeeded: $0) }
        case 7: try reader.appendVarints(field, to: &int64Data) { Int64(bitPattern: $0) }
        case 8: name = try reader.string(field)
        case 9: rawData = try reader.bytes(field)
        case 10: try reader.appendDoubles(field, to: &doubleData)
        case 11: try reader.appendVarints(field, to: &uint64Data) { $0 }
        case 13: externalData.append(try reader.message(field))
        case 14: dataLocation = DataLocation(rawValue: try reader.int32(field)) ?? .default
        default: try reader.skip(field)
        }
    }
}

extension ONNXProto.StringStringEntry: ProtobufDecodable {
    mutating func decode(_ field: ProtobufReader.Field, from reader: inout ProtobufReader) throws(ProtobufError) {
        switch field.number {
        case 1: key = try reader.string(field)
        case 2: value = try reader.string(field)
        default: try reader.skip(field)
        }
    }
}

extension ONNXProto.ValueInfo: ProtobufDecodable {
    mutating func decode(_ field: ProtobufReader.Field, from reader: inout ProtobufReader) throws(ProtobufError) {
        switch field.number {
        case 1: name = try reader.string(field)
        case 2: type = try reader.message(field)
        default: try reader.skip(field)
        }
    }
}

extension ONNXProto.TypeInfo: ProtobufDecodable {
    mutating func decode(_ field: ProtobufReader.Field, from reader: inout ProtobufReader) throws(ProtobufError) {
        switch field.number {
        case 1: tensorType = try reader.message(field)
        default: try reader.skip(field)
        }
    }
}

extension ONNXProto.TensorType: ProtobufDecodable {
    mutating func decode(_ field: ProtobufReader.Field, from reader: inout ProtobufReader) throws(ProtobufError) {
        switch field.number {
        case 1: elemType = try reader.int32(field)
        case 2: shape = try reader.message(field)
        default: try reader.skip(field)
        }
    }
}

extension ONNXProto.TensorShape: ProtobufDecodable {
    mutating func decode(_ field: ProtobufReader.Field, from reader: inout ProtobufReader) throws(ProtobufError) {
        switch field.number {
        case 1: dim.append(try reader.message(field))
        default: try reader.skip(field)
        }
    }
}

extension ONNXProto.Dimension: ProtobufDecodable {
    mutating func decode(_ field: ProtobufReader.Field, from reader: inout ProtobufReader) throws(ProtobufError) {
        switch field.number {
        case 1: (dimValue, dimParam) = (try reader.int64(field), "")
        case 2: (dimValue, dimParam) = (nil, try reader.string(field))
        default: try reader.skip(field)
        }
    }
}
