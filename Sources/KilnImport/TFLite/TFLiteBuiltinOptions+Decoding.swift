extension TFLiteBuiltinOptions {
    /// Decodes the union member numbered `typeCode` from `table`.
    ///
    /// A union whose type is set but whose table is absent reads as all
    /// schema defaults, as the TensorFlow Lite runtime treats it.
    init(typeCode: Int, table: FlatBufferTable?) throws {
        let fields = OptionFields(table: table)
        switch typeCode {
        case 0:
            self = .none
        case 1:
            self = .conv2D(
                TFLiteConv2DOptions(
                    padding: try fields.padding(0), strideWidth: try fields.int(1, "stride_w"),
                    strideHeight: try fields.int(2, "stride_h"),
                    dilationWidthFactor: try fields.int(4, default: 1, "dilation_w_factor"),
                    dilationHeightFactor: try fields.int(5, default: 1, "dilation_h_factor"),
                    activation: try fields.activation(3)))
        case 2:
            self = .depthwiseConv2D(
                TFLiteDepthwiseConv2DOptions(
                    padding: try fields.padding(0), strideWidth: try fields.int(1, "stride_w"),
                    strideHeight: try fields.int(2, "stride_h"),
                    depthMultiplier: try fields.int(3, "depth_multiplier"),
                    dilationWidthFactor: try fields.int(5, default: 1, "dilation_w_factor"),
                    dilationHeightFactor: try fields.int(6, default: 1, "dilation_h_factor"),
                    activation: try fields.activation(4)))
        case 5:
            self = .pool2D(
                TFLitePool2DOptions(
                    padding: try fields.padding(0), strideWidth: try fields.int(1, "stride_w"),
                    strideHeight: try fields.int(2, "stride_h"),
                    filterWidth: try fields.int(3, "filter_width"),
                    filterHeight: try fields.int(4, "filter_height"),
                    activation: try fields.activation(5)))
        case 8:
            self = .fullyConnected(
                TFLiteFullyConnectedOptions(
                    activation: try fields.activation(0),
                    weightsFormat: try fields.weightsFormat(1),
                    keepNumDims: try fields.bool(2, "keep_num_dims"),
                    asymmetricQuantizeInputs: try fields.bool(3, "asymmetric_quantize_inputs")))
        case 9:
            self = .softmax(beta: try fields.float(0, "beta"))
        case 10:
            self = .concatenation(
                axis: try fields.int(0, "axis"), activation: try fields.activation(1))
        case 11:
            self = .add(activation: try fields.activation(0))
        case 17:
            self = .reshape(newShape: try fields.ints(0, "new_shape"))
        case 21:
            self = .mul(activation: try fields.activation(0))
        case 22:
            self = .pad
        case 23:
            self = .gather(
                axis: try fields.int(0, "axis"), batchDims: try fields.int(1, "batch_dims"))
        case 26:
            self = .transpose
        case 27:
            self = .reducer(keepDims: try fields.bool(0, "keep_dims"))
        case 28:
            self = .sub(activation: try fields.activation(0))
        case 29:
            self = .div(activation: try fields.activation(0))
        case 30:
            self = .squeeze(dimensions: try fields.ints(0, "squeeze_dims") ?? [])
        case 32:
            self = .stridedSlice(
                TFLiteStridedSliceOptions(
                    beginMask: try fields.int(0, "begin_mask"),
                    endMask: try fields.int(1, "end_mask"),
                    ellipsisMask: try fields.int(2, "ellipsis_mask"),
                    newAxisMask: try fields.int(3, "new_axis_mask"),
                    shrinkAxisMask: try fields.int(4, "shrink_axis_mask"),
                    offset: try fields.bool(5, "offset")))
        case 38:
            self = .dequantize
        case 43:
            self = .padV2
        case 35:
            self = .split(count: try fields.int(0, "num_splits"))
        case 64:
            self = .unpack(count: try fields.int(0, "num"), axis: try fields.int(1, "axis"))
        case 79:
            self = .splitV(count: try fields.int(0, "num_splits"))
        case 59:
            self = .pack(valuesCount: try fields.int(0, "values_count"), axis: try fields.int(1, "axis"))
        case 75:
            self = .leakyRelu(alpha: try fields.float(0, "alpha"))
        case 89:
            self = .quantize
        case 91:
            self = .hardSwish
        case 101:
            self = .batchMatMul(
                adjointX: try fields.bool(0, "adj_x"), adjointY: try fields.bool(1, "adj_y"),
                asymmetricQuantizeInputs: try fields.bool(2, "asymmetric_quantize_inputs"))
        case 116:
            self = .gelu(approximate: try fields.bool(0, "approximate"))
        case 71:
            self = .sequenceLSTM(
                TFLiteSequenceLSTMOptions(
                    activation: try fields.activation(0), cellClip: try fields.float(1, "cell_clip"),
                    projectionClip: try fields.float(2, "proj_clip"), timeMajor: try fields.bool(3, "time_major"),
                    asymmetricQuantizeInputs: try fields.bool(4, "asymmetric_quantize_inputs"),
                    diagonalRecurrentTensors: try fields.bool(5, "diagonal_recurrent_tensors")))
        case 12:
            self = .l2Normalization(activation: try fields.activation(0))
        case 15:
            self = .resizeBilinear(
                alignCorners: try fields.bool(2, "align_corners"), halfPixelCenters: try fields.bool(3, "half_pixel_centers"))
        case 74:
            self = .resizeNearestNeighbor(
                alignCorners: try fields.bool(0, "align_corners"), halfPixelCenters: try fields.bool(1, "half_pixel_centers"))
        case 19:
            self = .spaceToDepth(blockSize: try fields.int(0, "block_size"))
        case 94:
            self = .depthToSpace(blockSize: try fields.int(0, "block_size"))
        case 49:
            self = .transposeConv(
                padding: try fields.padding(0), strideWidth: try fields.int(1, "stride_w"),
                strideHeight: try fields.int(2, "stride_h"), activation: try fields.activation(3))
        case 40:
            self = .argMax(outputType: try fields.byte(0, "output_type"))
        case 57:
            self = .argMin(outputType: try fields.byte(0, "output_type"))
        case 93:
            self = .whileLoop(
                condition: try fields.int(0, "cond_subgraph_index"), body: try fields.int(1, "body_subgraph_index"))
        default:
            self = .unsupported(typeCode: typeCode)
        }
    }
}

/// Reads an options table's fields, or their schema defaults when the table is absent.
private struct OptionFields {
    let table: FlatBufferTable?

    func int(_ index: Int, default defaultValue: Int32 = 0, _ name: String) throws -> Int {
        Int(try table?.integer(index, default: defaultValue, name) ?? defaultValue)
    }

    /// A byte-sized integer field, such as a tensor type code.
    func byte(_ index: Int, _ name: String) throws -> Int {
        Int(try table?.integer(index, default: Int8(0), name) ?? 0)
    }

    func bool(_ index: Int, _ name: String) throws -> Bool {
        try table?.bool(index, default: false, name) ?? false
    }

    func float(_ index: Int, _ name: String) throws -> Float {
        try table?.float(index, default: 0, name) ?? 0
    }

    func ints(_ index: Int, _ name: String) throws -> [Int]? {
        try table?.integers(index, Int32.self, name)?.map(Int.init)
    }

    func activation(_ index: Int) throws -> TFLiteActivation {
        try enumeration(index, "fused_activation_function", "fused activation", default: .none)
    }

    func padding(_ index: Int) throws -> TFLitePadding {
        try enumeration(index, "padding", "padding", default: .same)
    }

    func weightsFormat(_ index: Int) throws -> TFLiteWeightsFormat {
        try enumeration(index, "weights_format", "weights format", default: .default)
    }

    /// A byte-sized enum field, rejected when its value is not one the schema defines.
    private func enumeration<E: RawRepresentable<Int>>(
        _ index: Int, _ name: String, _ description: String, default defaultValue: E
    ) throws -> E {
        guard let table else { return defaultValue }
        let stored = Int8(truncatingIfNeeded: defaultValue.rawValue)
        let code = Int(try table.integer(index, default: stored, name))
        guard let value = E(rawValue: code) else {
            throw table.reader.error(
                table.path(name), "unknown \(description) \(code); the file is corrupt or newer")
        }
        return value
    }
}
