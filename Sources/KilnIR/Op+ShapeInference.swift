import Foundation

/// Why an op's operands do not fit it (shape inference's internal error).
public struct ShapeError: LocalizedError, Hashable, Sendable, CustomStringConvertible {
    /// What does not fit.
    public var message: String

    /// Creates a shape error.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }

    /// The message, for `localizedDescription`.
    public var errorDescription: String? { message }
}

extension Op {
    /// How many operands the op takes: the required count and the maximum.
    public var operandCount: ClosedRange<Int> {
        switch self {
        case .fullyConnected, .conv2D, .depthwiseConv2D: 2...3
        case .add, .multiply, .subtract, .binary, .batchMatMul, .gather: 2...2
        case .concatenation: 1...Int.max
        case .maxPool2D, .averagePool2D, .reshape, .activation, .softmax, .pad, .slice, .transpose, .mean, .reduce,
            .argExtremum, .resize, .quantize, .dequantize, .dynamicRangeQuantize, .cast:
            1...1
        }
    }

    /// The type of the op's result given its operands' types.
    ///
    /// - Throws: ``ShapeError`` describing the mismatch.
    public func inferResultType(operands: [TensorType]) throws(ShapeError) -> TensorType {
        guard operandCount.contains(operands.count) else {
            throw ShapeError("expects \(operandCount) operands, got \(operands.count)")
        }
        // Bounded dimensions keep every size computed below far from overflow.
        if let problem = operands.lazy.compactMap(\.shape.problem).first { throw ShapeError(problem) }
        let x = operands[0]
        switch self {
        case .fullyConnected:
            let filter = operands[1]
            guard x.shape.rank >= 1, filter.shape.rank == 2 else {
                throw ShapeError("needs an input of rank ≥ 1 and a 2-D filter, got \(x.shape) and \(filter.shape)")
            }
            let (units, depth) = (filter.shape[0], filter.shape[1])
            guard x.shape.dimensions.last == depth else {
                throw ShapeError(
                    "input \(x.shape) has \(x.shape.dimensions.last ?? 0) features but the filter \(filter.shape) expects \(depth); add Flatten() or fix the layer's input size"
                )
            }
            try checkBias(operands, channels: units)
            return TensorType(x.dtype, Shape(x.shape.dimensions.dropLast() + [units]))

        case .conv2D(let attributes):
            let filter = operands[1]
            guard x.shape.rank == 4, filter.shape.rank == 4 else {
                throw ShapeError("needs an NHWC input and an OHWI filter, got \(x.shape) and \(filter.shape)")
            }
            guard filter.shape[3] == x.shape[3] else {
                throw ShapeError("input \(x.shape) has \(x.shape[3]) channels but the filter \(filter.shape) expects \(filter.shape[3])")
            }
            try checkBias(operands, channels: filter.shape[0])
            return try convolutionResult(x, attributes, kernel: (filter.shape[1], filter.shape[2]), channels: filter.shape[0])

        case .depthwiseConv2D(let attributes):
            let filter = operands[1]
            guard x.shape.rank == 4, filter.shape.rank == 4, filter.shape[0] == 1 else {
                throw ShapeError("needs an NHWC input and a [1, kh, kw, channels] filter, got \(x.shape) and \(filter.shape)")
            }
            guard x.shape[3] > 0, filter.shape[3] % x.shape[3] == 0 else {
                throw ShapeError("the filter's \(filter.shape[3]) channels are not a multiple of the input's \(x.shape[3])")
            }
            try checkBias(operands, channels: filter.shape[3])
            return try convolutionResult(x, attributes, kernel: (filter.shape[1], filter.shape[2]), channels: filter.shape[3])

        case .maxPool2D(let attributes), .averagePool2D(let attributes):
            guard x.shape.rank == 4 else { throw ShapeError("needs an NHWC input, got \(x.shape)") }
            try checkWindowAttribute(attributes.window, "window")
            try checkWindowAttribute(attributes.strides, "strides")
            try checkExplicitPadding(attributes.explicitPadding, windows: attributes.window)
            let (height, width) = attributes.geometry(input: x.shape)
            try checkWindow(height, width, input: x.shape)
            return TensorType(x.dtype, [x.shape[0], height.outputSize, width.outputSize, x.shape[3]])

        case .reshape(let shape):
            guard shape.elementCount == x.elementCount, shape.allSatisfy({ $0 > 0 }) else {
                throw ShapeError("cannot reshape \(x.shape) (\(x.elementCount) elements) to \(shape) (\(shape.elementCount) elements)")
            }
            return TensorType(x.dtype, shape, quantization: x.quantization)

        case .activation, .softmax:
            guard x.shape.rank >= 1 else { throw ShapeError("needs an input of rank ≥ 1") }
            return TensorType(x.dtype, x.shape)

        case .add, .multiply, .subtract, .binary:
            let y = operands[1]
            guard x.dtype == y.dtype else { throw ShapeError("operands have different types \(x) and \(y)") }
            return TensorType(x.dtype, try Self.broadcast(x.shape, y.shape))

        case .batchMatMul(let adjointA, let adjointB):
            let y = operands[1]
            guard x.dtype == y.dtype, x.shape.rank >= 2, y.shape.rank >= 2 else {
                throw ShapeError("needs two operands of one type and rank ≥ 2, got \(x) and \(y)")
            }
            let (a, b) = (x.shape.dimensions, y.shape.dimensions)
            let (rows, depth) = adjointA ? (a[a.count - 1], a[a.count - 2]) : (a[a.count - 2], a[a.count - 1])
            let (otherDepth, columns) = adjointB ? (b[b.count - 1], b[b.count - 2]) : (b[b.count - 2], b[b.count - 1])
            guard depth == otherDepth else {
                throw ShapeError("cannot multiply \(x.shape) by \(y.shape): inner sizes \(depth) and \(otherDepth) differ")
            }
            let batch = try Self.broadcast(Shape(Array(a.dropLast(2))), Shape(Array(b.dropLast(2))))
            return TensorType(x.dtype, Shape(batch.dimensions + [rows, columns]))

        case .transpose(let permutation):
            guard permutation.count == x.shape.rank, Set(permutation) == Set(0..<x.shape.rank) else {
                throw ShapeError("permutation \(permutation) does not reorder the \(x.shape.rank) axes of \(x.shape)")
            }
            return TensorType(x.dtype, Shape(permutation.map { x.shape[$0] }))

        case .concatenation(let axis, _):
            guard let axis = Self.normalizedAxis(axis, rank: x.shape.rank) else {
                throw ShapeError("axis \(axis) is out of range for rank \(x.shape.rank)")
            }
            var dimensions = x.shape.dimensions
            for operand in operands.dropFirst() {
                guard operand.dtype == x.dtype, operand.shape.rank == x.shape.rank,
                    (0..<x.shape.rank).allSatisfy({ $0 == axis || operand.shape[$0] == x.shape[$0] })
                else { throw ShapeError("cannot join \(operand) to \(x) along axis \(axis)") }
                dimensions[axis] += operand.shape[axis]
            }
            return TensorType(x.dtype, Shape(dimensions))

        case .pad(let paddings):
            let bound = Shape.maximumDimension
            guard paddings.count == x.shape.rank,
                paddings.allSatisfy({ $0.count == 2 && (0...bound).contains($0[0]) && (0...bound).contains($0[1]) })
            else {
                throw ShapeError("paddings \(paddings) need one non-negative [before, after] pair per axis of \(x.shape)")
            }
            return TensorType(x.dtype, Shape(zip(x.shape, paddings).map { $0 + $1[0] + $1[1] }))

        case .slice(let begin, let size):
            let fits = zip(begin, size).enumerated().allSatisfy { axis, block in
                block.0 >= 0 && block.1 >= 0 && block.0 <= x.shape[axis] && block.1 <= x.shape[axis] - block.0
            }
            guard begin.count == x.shape.rank, size.count == x.shape.rank, fits else {
                throw ShapeError("slice from \(begin) of size \(size) does not lie inside \(x.shape)")
            }
            return TensorType(x.dtype, Shape(size))

        case .mean(let axes, let keepDimensions), .reduce(_, let axes, let keepDimensions):
            let normalized = axes.compactMap { Self.normalizedAxis($0, rank: x.shape.rank) }
            guard normalized.count == axes.count, Set(normalized).count == axes.count else {
                throw ShapeError("axes \(axes) are not distinct axes of \(x.shape)")
            }
            let dimensions = x.shape.indices.compactMap { axis -> Int? in
                normalized.contains(axis) ? (keepDimensions ? 1 : nil) : x.shape[axis]
            }
            return TensorType(x.dtype, Shape(dimensions))

        case .argExtremum(_, let axis, let keepDimensions):
            guard let axis = Self.normalizedAxis(axis, rank: x.shape.rank), x.shape[axis] > 0 else {
                throw ShapeError("axis \(axis) is not a non-empty axis of \(x.shape)")
            }
            guard x.dtype == .float32 || x.dtype == .int8 else { throw ShapeError("needs an f32 or i8 input, got \(x)") }
            var dimensions = x.shape.dimensions
            if keepDimensions { dimensions[axis] = 1 } else { dimensions.remove(at: axis) }
            return TensorType(.int32, Shape(dimensions))

        case .resize(let attributes):
            guard x.shape.rank == 4, attributes.size.count == 2,
                attributes.size.allSatisfy({ (1...Shape.maximumDimension).contains($0) })
            else {
                throw ShapeError("needs an NHWC input and a positive (height, width), got \(x.shape) and \(attributes.size)")
            }
            guard x.shape[1] > 0, x.shape[2] > 0 else { throw ShapeError("cannot resize the empty image \(x.shape)") }
            return TensorType(x.dtype, [x.shape[0], attributes.size[0], attributes.size[1], x.shape[3]])

        case .gather(let axis):
            let indices = operands[1]
            guard let axis = Self.normalizedAxis(axis, rank: x.shape.rank) else {
                throw ShapeError("axis \(axis) is out of range for \(x.shape)")
            }
            guard indices.dtype == .int32 else { throw ShapeError("indices must be i32, got \(indices)") }
            let dimensions = Array(x.shape.dimensions[..<axis]) + indices.shape.dimensions + x.shape.dimensions[(axis + 1)...]
            let shape = Shape(dimensions)
            if let problem = shape.problem { throw ShapeError(problem) }
            return TensorType(x.dtype, shape)

        case .quantize(let dtype):
            guard dtype == .int8 || dtype == .int32, x.dtype == .float32 || x.dtype == .int8 else {
                throw ShapeError("cannot quantize \(x.dtype) to \(dtype)")
            }
            return TensorType(dtype, x.shape)

        case .dequantize:
            guard x.dtype != .float32 else { throw ShapeError("the input is already f32") }
            return TensorType(.float32, x.shape)

        case .cast(let dtype):
            guard [x.dtype, dtype] == [.float32, .int32] || [x.dtype, dtype] == [.int32, .float32] else {
                throw ShapeError("cannot cast \(x.dtype) to \(dtype) (only f32 to i32 and back)")
            }
            return TensorType(dtype, x.shape)

        case .dynamicRangeQuantize:
            guard x.dtype == .float32, x.shape.rank >= 1 else { throw ShapeError("needs an f32 input, got \(x)") }
            return x
        }
    }

    /// `axis` counted from the front (negative axes count from the back), or `nil` if out of range.
    public static func normalizedAxis(_ axis: Int, rank: Int) -> Int? {
        let normalized = axis < 0 ? axis + rank : axis
        return (0..<rank).contains(normalized) ? normalized : nil
    }

    private func convolutionResult(_ x: TensorType, _ attributes: Conv2DAttributes, kernel: (Int, Int), channels: Int)
        throws(ShapeError) -> TensorType
    {
        guard kernel.0 > 0, kernel.1 > 0 else { throw ShapeError("the filter's window \(kernel.0)x\(kernel.1) is empty") }
        try checkWindowAttribute(attributes.strides, "strides")
        try checkWindowAttribute(attributes.dilations, "dilations")
        try checkExplicitPadding(
            attributes.explicitPadding,
            windows: [(kernel.0 - 1) * attributes.dilations[0] + 1, (kernel.1 - 1) * attributes.dilations[1] + 1])
        let (height, width) = attributes.geometry(input: x.shape, kernel: kernel)
        try checkWindow(height, width, input: x.shape)
        return TensorType(x.dtype, [x.shape[0], height.outputSize, width.outputSize, channels])
    }

    /// The NumPy broadcast of two shapes.
    public static func broadcast(_ a: Shape, _ b: Shape) throws(ShapeError) -> Shape {
        let rank = max(a.rank, b.rank)
        var result = [Int]()
        for axis in 0..<rank {
            let da = axis < rank - a.rank ? 1 : a[axis - (rank - a.rank)]
            let db = axis < rank - b.rank ? 1 : b[axis - (rank - b.rank)]
            guard da == db || da == 1 || db == 1 else {
                throw ShapeError("shapes \(a) and \(b) do not broadcast")
            }
            result.append(max(da, db))
        }
        return Shape(result)
    }

    private func checkBias(_ operands: [TensorType], channels: Int) throws(ShapeError) {
        guard operands.count == 3 else { return }
        guard operands[2].shape == [channels] else {
            throw ShapeError("bias has shape \(operands[2].shape) but the layer has \(channels) output channels")
        }
    }

    private func checkWindow(_ height: WindowGeometry, _ width: WindowGeometry, input: Shape) throws(ShapeError) {
        guard height.outputSize > 0, width.outputSize > 0 else {
            throw ShapeError("the window does not fit the input \(input); use padding: .same or a smaller window")
        }
    }

    /// The largest window size, stride or dilation: 2²⁴, far beyond any real
    /// layer and small enough that window arithmetic on valid shapes cannot overflow.
    public static let maximumWindowAttribute = 1 << 24

    /// Explicit padding is `[[top, bottom], [left, right]]`, each side smaller
    /// than the window, so every window covers part of the input.
    private func checkExplicitPadding(_ padding: [[Int]]?, windows: [Int]) throws(ShapeError) {
        guard let padding else { return }
        guard padding.count == 2, padding.allSatisfy({ $0.count == 2 }),
            zip(padding, windows).allSatisfy({ sides, window in sides.allSatisfy { (0..<window).contains($0) } })
        else {
            throw ShapeError(
                "explicit padding \(padding) needs [[top, bottom], [left, right]], each side at least 0 and smaller than the window \(windows)")
        }
    }

    private func checkWindowAttribute(_ values: [Int], _ what: String) throws(ShapeError) {
        guard values.count == 2 else { throw ShapeError("\(what) need two values (height, width), got \(values)") }
        guard values.allSatisfy({ (1...Self.maximumWindowAttribute).contains($0) }) else {
            throw ShapeError("\(what) must be positive and at most \(Self.maximumWindowAttribute), got \(values)")
        }
    }
}
