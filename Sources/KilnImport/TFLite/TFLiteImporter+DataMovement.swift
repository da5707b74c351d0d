import KilnIR

/// Operators that move or select data, mapped onto `slice`, `transpose`, `reshape` and constants.
extension TFLiteConversion {
    /// Operators with several outputs, each a slice of the input.
    static let splittingOperators: Set<TFLiteBuiltinOperator> = [.split, .splitV, .unpack]

    /// SPLIT, SPLIT_V and UNPACK: one slice of the input along an axis per output.
    mutating func convertParts(_ op: TFLiteOperator, _ code: TFLiteBuiltinOperator) throws {
        let operands = op.inputs.filter { $0 >= 0 }
        func operand(_ position: Int) throws -> Int {
            guard position < operands.count else { throw TFLiteError(message: "\(source): \(code.name) is missing input \(position)") }
            return operands[position]
        }
        func scalar(_ index: Int) throws -> Int {
            let values = try integers(index)
            guard values.count == 1 else { throw TFLiteError(message: "\(source): \(code.name) needs a single axis, got \(values)") }
            return values[0]
        }
        let data: Int
        let requestedAxis: Int
        var sizes: [Int]?
        var dropsAxis = false
        switch (code, op.options) {
        case (.split, .split):
            (data, requestedAxis) = (try operand(1), try scalar(try operand(0)))
        case (.splitV, .splitV):
            (data, requestedAxis) = (try operand(0), try scalar(try operand(2)))
            sizes = try integers(try operand(1))
        case (.unpack, .unpack(_, let axis)):
            (data, requestedAxis, dropsAxis) = (try operand(0), axis, true)
        default:
            throw TFLiteError(message: "\(source): \(code.name) has options \(op.options), not its own")
        }
        let x = try value(of: data)
        let shape = graph.type(of: x).shape
        guard let axis = Op.normalizedAxis(requestedAxis, rank: shape.rank) else {
            throw TFLiteError(message: "\(source): axis \(requestedAxis) is out of range for \(shape)")
        }
        let parts = op.outputs.count
        var partSizes = sizes ?? Array(repeating: parts == 0 ? 0 : shape[axis] / parts, count: parts)
        if let unknown = partSizes.firstIndex(of: -1), partSizes.filter({ $0 == -1 }).count == 1 {
            partSizes[unknown] = shape[axis] - partSizes.filter { $0 != -1 }.reduce(0, +)
        }
        guard partSizes.count == parts, partSizes.allSatisfy({ $0 >= 0 }), partSizes.reduce(0, +) == shape[axis] else {
            throw TFLiteError(
                message: "\(source): \(parts) outputs of sizes \(partSizes) do not divide axis \(axis) of \(shape)")
        }
        var offset = 0
        for (position, outputIndex) in op.outputs.enumerated() {
            guard subgraph.tensors.indices.contains(outputIndex) else {
                throw TFLiteError(message: "\(source): \(code.name) output \(position) is not a tensor")
            }
            let output = subgraph.tensors[outputIndex]
            var begin = Array(repeating: 0, count: shape.rank)
            var size = shape.dimensions
            (begin[axis], size[axis]) = (offset, partSizes[position])
            var result = try add(.slice(begin: begin, size: size), [x], output)
            if dropsAxis || graph.type(of: result).shape != Shape(output.shape) {
                size.remove(at: axis)
                result = try graph.addNode(
                    .reshape(dropsAxis ? Shape(size) : Shape(output.shape)), inputs: [result], name: "\(output.name).reshape",
                    quantization: graph.type(of: result).quantization)
            }
            values[outputIndex] = result
            offset += partSizes[position]
        }
    }

    /// SLICE: `begin` and `size` from constant operands, a size of -1 running to the end.
    mutating func convertSlice(_ x: ValueID, begin beginIndex: Int, size sizeIndex: Int, _ output: TFLiteTensor) throws -> ValueID {
        let shape = graph.type(of: x).shape
        let begin = try integers(beginIndex)
        let size = try integers(sizeIndex).enumerated().map { axis, size in
            size == -1 && axis < shape.rank && axis < begin.count ? shape[axis] - begin[axis] : size
        }
        return try add(.slice(begin: begin, size: size), [x], output)
    }

    /// STRIDED_SLICE on data: a slice when every stride that matters is 1; shrunk axes go in the reshape after it.
    mutating func convertStridedSlice(
        _ x: ValueID, _ options: TFLiteStridedSliceOptions, begin: Int, end: Int, strides: Int, _ output: TFLiteTensor
    ) throws -> ValueID {
        guard options.ellipsisMask == 0, options.newAxisMask == 0 else {
            throw TFLiteError(message: "\(source): STRIDED_SLICE with ellipsis or new-axis masks is not supported")
        }
        let geometry: StaticTensor.SliceGeometry
        do {
            geometry = try StaticTensor.stridedSliceGeometry(
                shape: graph.type(of: x).shape.dimensions, begin: try integers(begin), end: try integers(end),
                strides: try integers(strides), beginMask: options.beginMask, endMask: options.endMask,
                shrinkAxisMask: options.shrinkAxisMask, offset: options.offset)
        } catch let problem as StaticTensor.Problem {
            throw TFLiteError(message: "\(source): \(problem)")
        }
        guard zip(geometry.steps, geometry.counts).allSatisfy({ $0 == 1 || $1 <= 1 }) else {
            throw TFLiteError(message: "\(source): STRIDED_SLICE with strides \(geometry.steps) other than 1 is not supported")
        }
        return try add(.slice(begin: geometry.starts, size: geometry.counts), [x], output)
    }

    /// FILL: a constant of the output's type, every element the scalar value operand.
    mutating func convertFill(dimensions: Int, value valueIndex: Int, _ output: TFLiteTensor, _ type: TensorType) throws -> ValueID {
        let dimensions = try integers(dimensions)
        let valueTensor = subgraph.tensors[valueIndex]
        let bytes = valueTensor.buffer < model.buffers.count ? model.buffers[valueTensor.buffer] : []
        guard Shape(dimensions) == type.shape, bytes.count == type.dtype.byteSize else {
            throw TFLiteError(
                message: "\(source): FILL needs a constant scalar of the output's type and dimensions \(dimensions) "
                    + "matching its shape \(type.shape)")
        }
        let data = TensorData(
            dtype: type.dtype, shape: type.shape, bytes: Array([[UInt8]](repeating: bytes, count: type.elementCount).joined()))
        return graph.addConstant(name: output.name, data: data, quantization: type.quantization)
    }

    /// TRANSPOSE: a reshape when only size-1 dimensions move (the data stays in place), a transpose otherwise.
    mutating func convertTranspose(_ x: ValueID, permutation permutationIndex: Int, _ output: TFLiteTensor) throws -> ValueID {
        let shape = graph.type(of: x).shape
        let permutation = try integers(permutationIndex)
        guard permutation.sorted() == Array(0..<shape.rank) else {
            throw TFLiteError(message: "\(source): TRANSPOSE permutation \(permutation) does not fit \(shape)")
        }
        let moved = permutation.filter { shape[$0] != 1 }
        if moved == moved.sorted() {
            return try add(.reshape(Shape(permutation.map { shape[$0] })), [x], output)
        }
        return try add(.transpose(permutation: permutation), [x], output)
    }
}

extension TFLiteConversion {
    /// Keras's `Embedding` wraps negative ids before its GATHER, as
    /// `SELECT_V2(LESS(ids, 0), ADD(ids, rows), ids)`. Kiln's gather counts
    /// negative indices from the end itself, so the three operators fold to
    /// `ids`; anything else reading the comparison or the sum is an error.
    mutating func foldIndexWrapping(_ op: TFLiteOperator, _ code: TFLiteBuiltinOperator) throws -> Bool {
        let operands = op.inputs.filter { $0 >= 0 }
        guard let outputIndex = op.outputs.first, op.outputs.count == 1 else { return false }
        func isIndexData(_ index: Int) -> Bool { values[index].map { graph.type(of: $0).dtype == .int32 } ?? false }
        func feedsOnlySelect() -> Bool {
            let readers = subgraph.operators.filter { $0.inputs.contains(outputIndex) }
            return !readers.isEmpty && readers.allSatisfy { model.operatorCodes[$0.opcodeIndex].builtinCode == .selectV2 }
        }
        switch code {
        case .less:
            guard operands.count == 2, isIndexData(operands[0]), try staticTensor(operands[1])?.values.allSatisfy({ $0 == 0 }) == true,
                feedsOnlySelect()
            else { return false }
            negativeTests[outputIndex] = operands[0]
            return true
        case .add:
            guard operands.count == 2, isIndexData(operands[0]), try staticTensor(operands[1])?.values.count == 1, feedsOnlySelect()
            else { return false }
            shiftedIndices[outputIndex] = operands[0]
            return true
        case .selectV2:
            guard operands.count == 3, let ids = negativeTests[operands[0]], shiftedIndices[operands[1]] == ids, operands[2] == ids else {
                throw TFLiteError(
                    message: "\(source): SELECT_V2 is supported only as the wrapping of negative indices that Keras's "
                        + "Embedding writes, SELECT_V2(LESS(ids, 0), ADD(ids, rows), ids)")
            }
            values[outputIndex] = try value(of: ids)
            return true
        default:
            return false
        }
    }
}
