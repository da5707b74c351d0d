import KilnIR

/// Folding the integer shape arithmetic converters write (see ``StaticTensor``).
extension TFLiteConversion {
    /// Operators that compute integer tensors at import when every input is known.
    static let shapeArithmetic: Set<TFLiteBuiltinOperator> = [
        .shape, .stridedSlice, .pack, .gather, .concatenation, .reduceProd, .sum, .add, .sub, .mul, .floorDiv, .cast,
        .reshape, .squeeze, .expandDims,
    ]

    /// Computes `op`'s output at import when it is integer arithmetic on known tensors.
    ///
    /// Returns `false` for operators that compute on the model's data, which
    /// become graph nodes. Integer arithmetic whose inputs depend on the
    /// model's input is a dynamic shape, which Kiln does not compile.
    mutating func foldShapeArithmetic(_ op: TFLiteOperator, _ code: TFLiteBuiltinOperator) throws -> Bool {
        guard Self.shapeArithmetic.contains(code), op.outputs.count == 1, let outputIndex = op.outputs.first,
            subgraph.tensors.indices.contains(outputIndex),
            [.int32, .int64].contains(subgraph.tensors[outputIndex].type)
        else { return false }
        let output = subgraph.tensors[outputIndex]
        let operands = op.inputs.filter { $0 >= 0 }
        guard let first = operands.first else { return false }
        var result: StaticTensor
        do {
            if code == .shape {
                // Only the input's static shape is read, never its data: the converted value's
                // where there is one, since a stored shape can be a placeholder.
                result = StaticTensor(vector: values[first].map { graph.type(of: $0).shape.dimensions } ?? subgraph.tensors[first].shape)
            } else {
                let inputs = try operands.map { index in
                    guard let tensor = try staticTensor(index) else {
                        throw TFLiteError(
                            message: "\(source): tensor '\(output.name)' is computed from '\(subgraph.tensors[index].name)', "
                                + "which depends on the model's input data: a dynamic shape. Kiln compiles static shapes "
                                + "and folds shape arithmetic at import; export the model with a fixed input size")
                    }
                    return tensor
                }
                result = try Self.evaluate(code, op.options, inputs, outputShape: output.shape)
            }
            // The stored shape is the converter's; keep it when it holds the same values (a scalar as [] or [1]).
            if result.shape != output.shape, (try? StaticTensor.count(of: output.shape)) == result.values.count {
                result.shape = output.shape
            }
        } catch let problem as StaticTensor.Problem {
            throw TFLiteError(message: "\(source): \(problem)")
        }
        known[outputIndex] = result
        return true
    }

    /// Tensor `index` when its values are known: folded, or a constant integer buffer.
    func staticTensor(_ index: Int) throws -> StaticTensor? {
        if let folded = known[index] { return folded }
        let tensor = subgraph.tensors[index]
        let hasData = tensor.buffer < model.buffers.count && !model.buffers[tensor.buffer].isEmpty
        guard hasData, [.int32, .int64].contains(tensor.type) else { return nil }
        let values = try integers(index)
        guard (try? StaticTensor.count(of: tensor.shape)) == values.count else {
            throw TFLiteError(
                message: "\(source): constant '\(tensor.name)' holds \(values.count) integers but its shape is \(tensor.shape)")
        }
        return StaticTensor(shape: tensor.shape, values: values)
    }

    /// One shape-arithmetic operator on known inputs, as TensorFlow Lite defines it.
    static func evaluate(
        _ code: TFLiteBuiltinOperator, _ options: TFLiteBuiltinOptions, _ inputs: [StaticTensor], outputShape: [Int]
    ) throws -> StaticTensor {
        func operand(_ position: Int) throws -> StaticTensor {
            guard position < inputs.count else { throw StaticTensor.Problem("\(code.name) is missing input \(position)") }
            return inputs[position]
        }
        func plain(_ activation: TFLiteActivation) throws {
            guard activation == .none else {
                throw StaticTensor.Problem("a fused activation on integer shape arithmetic is not supported")
            }
        }
        switch (code, options) {
        case (.stridedSlice, .stridedSlice(let slice)):
            guard slice.ellipsisMask == 0, slice.newAxisMask == 0 else {
                throw StaticTensor.Problem("STRIDED_SLICE with ellipsis or new-axis masks is not supported")
            }
            return try operand(0).stridedSlice(
                begin: try operand(1).values, end: try operand(2).values, strides: try operand(3).values,
                beginMask: slice.beginMask, endMask: slice.endMask, shrinkAxisMask: slice.shrinkAxisMask,
                offset: slice.offset)
        case (.pack, .pack(_, let axis)):
            return try StaticTensor.concatenate(inputs, axis: axis, stacking: true)
        case (.gather, .gather(let axis, let batchDimensions)):
            guard batchDimensions == 0 else { throw StaticTensor.Problem("GATHER with batch dimensions is not supported") }
            return try operand(0).gather(try operand(1), axis: axis)
        case (.concatenation, .concatenation(let axis, let activation)):
            try plain(activation)
            return try StaticTensor.concatenate(inputs, axis: axis)
        case (.reduceProd, .reducer(let keepDimensions)), (.sum, .reducer(let keepDimensions)):
            return try operand(0).reduce(
                axes: try operand(1).values, keepDimensions: keepDimensions, product: code == .reduceProd)
        case (.add, .add(let activation)):
            try plain(activation)
            return try StaticTensor.broadcast(try operand(0), try operand(1), &+)
        case (.sub, .sub(let activation)):
            try plain(activation)
            return try StaticTensor.broadcast(try operand(0), try operand(1), &-)
        case (.mul, .mul(let activation)):
            try plain(activation)
            return try StaticTensor.broadcast(try operand(0), try operand(1), &*)
        case (.floorDiv, _):
            return try StaticTensor.broadcast(try operand(0), try operand(1)) { a, b in
                guard b != 0, !(a == .min && b == -1) else { throw StaticTensor.Problem("integer division by \(b)") }
                let quotient = a / b
                return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
            }
        case (.cast, _):
            return try operand(0)
        case (.reshape, _), (.squeeze, _), (.expandDims, _):
            return try operand(0).reshaped(outputShape)
        default:
            throw StaticTensor.Problem("\(code.name) with options \(options) cannot be computed at import")
        }
    }

    /// The shape a RESHAPE or SQUEEZE produces from `input`.
    ///
    /// The stored output shape, unless it cannot hold the input: then the
    /// converter wrote a placeholder, and the new-shape operand (folded, with
    /// one -1 standing for the rest) says what the shape is.
    func reshapeTarget(of input: ValueID, _ op: TFLiteOperator, _ output: TFLiteTensor) throws -> Shape {
        let stored = Shape(output.shape)
        let count = graph.type(of: input).shape.elementCount
        guard stored.elementCount != count else { return stored }
        let operands = op.inputs.filter { $0 >= 0 }
        var requested: [Int]?
        if operands.count > 1 { requested = try staticTensor(operands[1])?.values }
        if requested == nil, case .reshape(let newShape?) = op.options { requested = newShape }
        guard var dimensions = requested, dimensions.filter({ $0 == -1 }).count <= 1 else {
            throw TFLiteError(message: "\(source): '\(output.name)' of shape \(stored) cannot hold the input's \(count) elements")
        }
        if let unknown = dimensions.firstIndex(of: -1) {
            let known = dimensions.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * max($1.element, 0) }
            dimensions[unknown] = known == 0 ? 0 : count / known
        }
        guard Shape(dimensions).elementCount == count else {
            throw TFLiteError(
                message: "\(source): '\(output.name)': new shape \(dimensions) cannot hold the input's \(count) elements")
        }
        return Shape(dimensions)
    }
}
