/// Writing a model back to `.tflite` bytes, field for field what the reader decodes.
///
/// Reading the result gives back an equal ``TFLiteModel``; fields the reader
/// skips (sparsity, signatures, metadata) are not written. Integer fields are
/// truncated to their width in the schema, as any writer of the format must.
extension TFLiteModel {
    /// The model as a `.tflite` file.
    public func encoded() -> [UInt8] { encodedWithScalarRanges().bytes }

    /// The model as a `.tflite` file, with the byte range of every scalar field and small vector element.
    ///
    /// Overwriting those ranges changes field values without breaking the
    /// file's structure: what a structure-aware fuzzer needs.
    public func encodedWithScalarRanges() -> (bytes: [UInt8], scalarRanges: [Range<Int>]) {
        var root = FlatBufferWriter.Table()
        root.set(0, .integer(UInt32(truncatingIfNeeded: version)))
        root.set(1, .tables(operatorCodes.map(\.table)))
        root.set(2, .tables(subgraphs.map(\.table)))
        root.set(3, .string(description))
        root.set(4, .tables(buffers.map { data in
            var buffer = FlatBufferWriter.Table()
            buffer.set(0, data.isEmpty ? nil : .scalars(elementSize: 1, data))
            return buffer
        }))
        let writer = FlatBufferWriter.buffer(root: root, identifier: "TFL3")
        return (writer.bytes, writer.scalarRanges)
    }
}

extension TFLiteOperatorCode {
    fileprivate var table: FlatBufferWriter.Table {
        var table = FlatBufferWriter.Table()
        // Writers fill both codes; the byte saturates at 127, as the reader expects.
        table.set(0, .integer(Int8(clamping: builtinCode.code)))
        table.set(1, customCode.map { .string($0) })
        table.set(2, .integer(Int32(truncatingIfNeeded: version)))
        table.set(3, .integer(Int32(truncatingIfNeeded: builtinCode.code)))
        return table
    }
}

extension TFLiteSubgraph {
    fileprivate var table: FlatBufferWriter.Table {
        var table = FlatBufferWriter.Table()
        table.set(0, .tables(tensors.map(\.table)))
        table.set(1, .integers(inputs, as: Int32.self))
        table.set(2, .integers(outputs, as: Int32.self))
        table.set(3, .tables(operators.map(\.table)))
        table.set(4, .string(name))
        return table
    }
}

extension TFLiteTensor {
    fileprivate var table: FlatBufferWriter.Table {
        var table = FlatBufferWriter.Table()
        table.set(0, .integers(shape, as: Int32.self))
        table.set(1, .integer(Int8(truncatingIfNeeded: type.code)))
        table.set(2, .integer(UInt32(truncatingIfNeeded: buffer)))
        table.set(3, .string(name))
        table.set(4, quantization.map { .table($0.table) })
        table.set(5, isVariable ? .bool(true) : nil)
        table.set(7, shapeSignature.map { .integers($0, as: Int32.self) })
        return table
    }
}

extension TFLiteQuantization {
    fileprivate var table: FlatBufferWriter.Table {
        var table = FlatBufferWriter.Table()
        table.set(0, min.map { .floats($0) })
        table.set(1, max.map { .floats($0) })
        table.set(2, .floats(scale))
        table.set(3, .integers(zeroPoint.map { Int($0) }, as: Int64.self))
        table.set(6, .integer(Int32(truncatingIfNeeded: quantizedDimension)))
        return table
    }
}

extension TFLiteOperator {
    fileprivate var table: FlatBufferWriter.Table {
        var table = FlatBufferWriter.Table()
        table.set(0, .integer(UInt32(truncatingIfNeeded: opcodeIndex)))
        table.set(1, .integers(inputs, as: Int32.self))
        table.set(2, .integers(outputs, as: Int32.self))
        table.set(3, .integer(UInt8(truncatingIfNeeded: options.typeCode)))
        table.set(4, options.table.map { .table($0) })
        return table
    }
}

extension TFLiteBuiltinOptions {
    /// The options table, with each field at the schema index and width the reader decodes;
    /// `nil` for options with no table.
    fileprivate var table: FlatBufferWriter.Table? {
        typealias Value = FlatBufferWriter.Value
        func int(_ value: Int) -> Value { .integer(Int32(truncatingIfNeeded: value)) }
        func byte(_ value: Int) -> Value { .integer(Int8(truncatingIfNeeded: value)) }
        var table = FlatBufferWriter.Table()
        switch self {
        case .none, .unsupported: return nil
        case .pad, .transpose, .dequantize, .padV2, .quantize, .hardSwish: return table
        case .conv2D(let options):
            table.set(0, byte(options.padding.rawValue))
            table.set(1, int(options.strideWidth))
            table.set(2, int(options.strideHeight))
            table.set(3, byte(options.activation.rawValue))
            table.set(4, int(options.dilationWidthFactor))
            table.set(5, int(options.dilationHeightFactor))
        case .depthwiseConv2D(let options):
            table.set(0, byte(options.padding.rawValue))
            table.set(1, int(options.strideWidth))
            table.set(2, int(options.strideHeight))
            table.set(3, int(options.depthMultiplier))
            table.set(4, byte(options.activation.rawValue))
            table.set(5, int(options.dilationWidthFactor))
            table.set(6, int(options.dilationHeightFactor))
        case .pool2D(let options):
            table.set(0, byte(options.padding.rawValue))
            table.set(1, int(options.strideWidth))
            table.set(2, int(options.strideHeight))
            table.set(3, int(options.filterWidth))
            table.set(4, int(options.filterHeight))
            table.set(5, byte(options.activation.rawValue))
        case .fullyConnected(let options):
            table.set(0, byte(options.activation.rawValue))
            table.set(1, byte(options.weightsFormat.rawValue))
            table.set(2, .bool(options.keepNumDims))
            table.set(3, .bool(options.asymmetricQuantizeInputs))
        case .softmax(let beta):
            table.set(0, .float(beta))
        case .concatenation(let axis, let activation):
            table.set(0, int(axis))
            table.set(1, byte(activation.rawValue))
        case .add(let activation), .mul(let activation), .sub(let activation), .div(let activation):
            table.set(0, byte(activation.rawValue))
        case .reshape(let newShape):
            table.set(0, newShape.map { .integers($0, as: Int32.self) })
        case .gather(let axis, let batchDims):
            table.set(0, int(axis))
            table.set(1, int(batchDims))
        case .reducer(let keepDims):
            table.set(0, .bool(keepDims))
        case .squeeze(let dimensions):
            table.set(0, .integers(dimensions, as: Int32.self))
        case .stridedSlice(let options):
            table.set(0, int(options.beginMask))
            table.set(1, int(options.endMask))
            table.set(2, int(options.ellipsisMask))
            table.set(3, int(options.newAxisMask))
            table.set(4, int(options.shrinkAxisMask))
            table.set(5, .bool(options.offset))
        case .leakyRelu(let alpha):
            table.set(0, .float(alpha))
        case .gelu(let approximate):
            table.set(0, .bool(approximate))
        case .batchMatMul(let adjointX, let adjointY, let asymmetricQuantizeInputs):
            table.set(0, .bool(adjointX))
            table.set(1, .bool(adjointY))
            table.set(2, .bool(asymmetricQuantizeInputs))
        case .split(let count), .splitV(let count):
            table.set(0, int(count))
        case .unpack(let count, let axis):
            table.set(0, int(count))
            table.set(1, int(axis))
        case .pack(let valuesCount, let axis):
            table.set(0, int(valuesCount))
            table.set(1, int(axis))
        case .sequenceLSTM(let options):
            table.set(0, byte(options.activation.rawValue))
            table.set(1, .float(options.cellClip))
            table.set(2, .float(options.projectionClip))
            table.set(3, .bool(options.timeMajor))
            table.set(4, .bool(options.asymmetricQuantizeInputs))
            table.set(5, .bool(options.diagonalRecurrentTensors))
        case .l2Normalization(let activation):
            table.set(0, byte(activation.rawValue))
        case .resizeBilinear(let alignCorners, let halfPixelCenters):
            table.set(2, .bool(alignCorners))
            table.set(3, .bool(halfPixelCenters))
        case .resizeNearestNeighbor(let alignCorners, let halfPixelCenters):
            table.set(0, .bool(alignCorners))
            table.set(1, .bool(halfPixelCenters))
        case .spaceToDepth(let blockSize), .depthToSpace(let blockSize):
            table.set(0, int(blockSize))
        case .transposeConv(let padding, let strideWidth, let strideHeight, let activation):
            table.set(0, byte(padding.rawValue))
            table.set(1, int(strideWidth))
            table.set(2, int(strideHeight))
            table.set(3, byte(activation.rawValue))
        case .argMax(let outputType), .argMin(let outputType):
            table.set(0, byte(outputType))
        case .whileLoop(let condition, let body):
            table.set(0, int(condition))
            table.set(1, int(body))
        }
        return table
    }
}
