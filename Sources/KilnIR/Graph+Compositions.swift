/// Operators built from several Kiln ops, shared by the importers and the DSL:
/// exact rearrangements of the data, and compositions computed in float.
extension Graph {
    /// `x` joined to itself `multiples[axis]` times along each axis (TILE,
    /// ONNX `Tile`); each node takes `x`'s quantization, the last is named `name`.
    public mutating func addTile(_ x: ValueID, multiples: [Int], name: String) throws -> ValueID {
        let shape = type(of: x).shape
        guard multiples.count == shape.rank, multiples.allSatisfy({ (1...Self.maximumTiles).contains($0) }) else {
            throw ShapeError(
                "multiples \(multiples) need one count from 1 to \(Self.maximumTiles) per axis of \(shape)")
        }
        // The result's size is checked before any copy is listed, so a huge tiling fails without allocating it.
        if let problem = Shape(zip(shape.dimensions, multiples).map { $0 &* $1 }).problem { throw ShapeError(problem) }
        let quantization = type(of: x).quantization
        var result = x
        let tiled = multiples.indices.filter { multiples[$0] > 1 }
        for axis in tiled {
            result = try addNode(
                .concatenation(axis: axis, activation: nil), inputs: Array(repeating: result, count: multiples[axis]),
                name: axis == tiled.last ? name : "\(name).tile\(axis)", quantization: quantization)
        }
        return result
    }

    /// The most copies a tiling makes along one axis (each is an operand of a concatenation).
    public static let maximumTiles = 4096

    /// How the channels of a depth ↔ space rearrangement are ordered.
    public enum BlockOrder: Sendable {
        /// Block row, block column, then channel (TensorFlow, ONNX `DCR`).
        case depthColumnRow
        /// Channel, then block row and column (ONNX `CRD`, depth to space only).
        case columnRowDepth
    }

    /// SPACE_TO_DEPTH or DEPTH_TO_SPACE of NHWC `x` as reshape, transpose, reshape.
    public mutating func addSpaceDepthRearrangement(
        _ x: ValueID, blockSize block: Int, toDepth: Bool, order: BlockOrder = .depthColumnRow, name: String
    ) throws -> ValueID {
        let shape = type(of: x).shape
        guard shape.rank == 4, (1...Shape.maximumDimension).contains(block) else {
            throw ShapeError("needs an NHWC input and a positive block size, got \(shape) and \(block)")
        }
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let blocks: [Int]
        let permutation: [Int]
        let result: [Int]
        if toDepth {
            guard h % block == 0, w % block == 0 else {
                throw ShapeError("height and width of \(shape) are not multiples of the block size \(block)")
            }
            (blocks, permutation) = ([n, h / block, block, w / block, block, c], [0, 1, 3, 2, 4, 5])
            result = [n, h / block, w / block, block * block * c]
        } else {
            guard c % (block * block) == 0 else {
                throw ShapeError("the \(c) channels of \(shape) are not a multiple of \(block * block)")
            }
            let depth = c / (block * block)
            (blocks, permutation) =
                order == .depthColumnRow
                ? ([n, h, w, block, block, depth], [0, 1, 3, 2, 4, 5]) : ([n, h, w, depth, block, block], [0, 1, 4, 2, 5, 3])
            result = [n, h * block, w * block, depth]
        }
        let quantization = type(of: x).quantization
        let split = try addNode(.reshape(Shape(blocks)), inputs: [x], name: "\(name).blocks", quantization: quantization)
        let moved = try addNode(
            .transpose(permutation: permutation), inputs: [split], name: "\(name).transpose", quantization: quantization)
        return try addNode(.reshape(Shape(result)), inputs: [moved], name: name, quantization: quantization)
    }

    /// Float `x` along `axis` through `(x − max) − log Σ e^(x − max)`; the last node is named `name`.
    public mutating func addLogSoftmax(_ x: ValueID, axis: Int, name: String) throws -> ValueID {
        let largest = try addNode(.reduce(.maximum, axes: [axis], keepDimensions: true), inputs: [x], name: "\(name).max")
        let shifted = try addNode(.subtract(activation: nil), inputs: [x, largest], name: "\(name).shifted")
        let exponentials = try addNode(.activation(.exp), inputs: [shifted], name: "\(name).exp")
        let sum = try addNode(.reduce(.sum, axes: [axis], keepDimensions: true), inputs: [exponentials], name: "\(name).sum")
        let logSum = try addNode(.activation(.log), inputs: [sum], name: "\(name).log")
        return try addNode(.subtract(activation: nil), inputs: [shifted, logSum], name: name)
    }

    /// Float `x` over its last axis through `x / max(√Σ x², 10⁻⁶)` (TensorFlow Lite's
    /// L2_NORMALIZATION); the last node is named `name`.
    public mutating func addL2Normalization(_ x: ValueID, name: String) throws -> ValueID {
        let axis = type(of: x).shape.rank - 1
        let squares = try addNode(.multiply(activation: nil), inputs: [x, x], name: "\(name).square")
        let sum = try addNode(.reduce(.sum, axes: [axis], keepDimensions: true), inputs: [squares], name: "\(name).sum")
        let norm = try addNode(.activation(.sqrt), inputs: [sum], name: "\(name).norm")
        let epsilon = addConstant(name: "\(name).epsilon", data: TensorData([1e-6], shape: [1]))
        let clamped = try addNode(.binary(.maximum, activation: nil), inputs: [norm, epsilon], name: "\(name).clamped")
        return try addNode(.binary(.divide, activation: nil), inputs: [x, clamped], name: name)
    }

    /// NHWC `x` with `stride − 1` zeros (the zero point on int8) between
    /// neighbouring pixels along H and W: the input of a transposed convolution
    /// computed as a direct one.
    public mutating func addZeroStuffing(_ x: ValueID, strides: [Int], name: String) throws -> ValueID {
        let shape = type(of: x).shape
        guard shape.rank == 4, strides.count == 2, strides.allSatisfy({ (1...Shape.maximumDimension).contains($0) }) else {
            throw ShapeError("needs an NHWC input and two positive strides, got \(shape) and \(strides)")
        }
        guard strides != [1, 1] else { return x }
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let quantization = type(of: x).quantization
        var result = try addNode(.reshape([n, h, 1, w, 1, c]), inputs: [x], name: "\(name).spread", quantization: quantization)
        result = try addNode(
            .pad(paddings: [[0, 0], [0, 0], [0, strides[0] - 1], [0, 0], [0, strides[1] - 1], [0, 0]]), inputs: [result],
            name: "\(name).stuff", quantization: quantization)
        result = try addNode(
            .reshape([n, h * strides[0], w * strides[1], c]), inputs: [result], name: "\(name).stuffed", quantization: quantization)
        return try addNode(
            .slice(begin: [0, 0, 0, 0], size: [n, (h - 1) * strides[0] + 1, (w - 1) * strides[1] + 1, c]), inputs: [result],
            name: "\(name).trimmed", quantization: quantization)
    }

    /// The `[before, after]` borders of the direct convolution over the zero-stuffed
    /// input that computes a transposed convolution producing `output` positions,
    /// whose forward convolution padded `padBefore` positions before the first.
    public static func transposedConvolutionBorders(input: Int, window: Int, stride: Int, output: Int, padBefore: Int) throws -> [Int] {
        let stuffed = (input - 1) * stride + 1
        let before = window - 1 - padBefore
        let after = output + window - 1 - stuffed - before
        guard before >= 0, after >= 0 else {
            throw ShapeError(
                "an output of \(output) from \(input) positions with stride \(stride), a window of \(window) and "
                    + "\(padBefore) positions of padding is not supported")
        }
        return [before, after]
    }
}

/// A filter with each window turned 180°, for a transposed convolution
/// computed as a direct one: `w[o, kh − 1 − i, kw − 1 − j, c]` of an OHWI filter.
public func rotatedHalfTurn(_ data: TensorData) -> TensorData {
    let shape = data.shape
    let (height, width) = (shape[1], shape[2])
    let pixel = shape[3] * data.dtype.byteSize
    var bytes = data.bytes
    for o in 0..<shape[0] {
        for i in 0..<height {
            for j in 0..<width {
                let to = ((o * height + i) * width + j) * pixel
                let from = ((o * height + height - 1 - i) * width + width - 1 - j) * pixel
                bytes.replaceSubrange(to..<(to + pixel), with: data.bytes[from..<(from + pixel)])
            }
        }
    }
    return TensorData(dtype: data.dtype, shape: shape, bytes: bytes)
}
