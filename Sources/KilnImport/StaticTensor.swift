import KilnIR

/// An integer tensor whose values are known when a model is imported: a
/// constant, or arithmetic on constants and static shapes.
///
/// Converters write shape computations around reshapes (`SHAPE →
/// STRIDED_SLICE → PACK → RESHAPE` for a Keras `Flatten`) because the batch
/// size is unknown to them; with static shapes these fold to constants. Each
/// operation follows the TensorFlow Lite operator of the same name and throws
/// ``StaticTensor/Problem`` for arguments that operator would reject.
struct StaticTensor: Hashable, Sendable {
    /// The dimensions, outermost first; `[]` for a scalar.
    var shape: [Int]
    /// The values in row-major order.
    var values: [Int]

    /// Why an operation's arguments are invalid.
    struct Problem: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The largest tensor folded: shape tensors are tiny, and a fold must not allocate gigabytes.
    static let maximumCount = 1 << 20
    /// The highest rank folded.
    static let maximumRank = 16

    init(shape: [Int], values: [Int]) {
        self.shape = shape
        self.values = values
    }

    /// A 1-D tensor of `values`.
    init(vector values: [Int]) { self.init(shape: [values.count], values: values) }

    /// The element count of `shape`, or a problem when it is negative or too large to fold.
    static func count(of shape: [Int]) throws -> Int {
        // TensorFlow Lite's kernels stop at rank 6; the bound also keeps the recursive slicing shallow.
        guard shape.count <= maximumRank else { throw Problem("rank \(shape.count) is more than \(maximumRank)") }
        guard let count = Shape(shape).checkedElementCount, count <= maximumCount else {
            throw Problem("shape \(shape) is negative or too large to compute at import")
        }
        return count
    }

    /// `axis` counted from the end when negative, checked against `rank` (or `rank + 1` for a new dimension).
    static func axis(_ axis: Int, rank: Int, insertion: Bool = false) throws -> Int {
        let limit = insertion ? rank + 1 : rank
        let resolved = axis < 0 ? axis + limit : axis
        guard (0..<limit).contains(resolved) else { throw Problem("axis \(axis) is out of range for rank \(rank)") }
        return resolved
    }

    /// The tensor with `shape`, which must hold as many elements.
    func reshaped(_ newShape: [Int]) throws -> StaticTensor {
        guard try Self.count(of: newShape) == values.count else {
            throw Problem("cannot reshape \(values.count) values to \(newShape)")
        }
        return StaticTensor(shape: newShape, values: values)
    }

    /// Which elements a `STRIDED_SLICE` takes along each dimension of its input.
    struct SliceGeometry: Hashable {
        /// The first index taken along each dimension.
        var starts: [Int]
        /// The step between indices along each dimension.
        var steps: [Int]
        /// How many indices are taken along each dimension.
        var counts: [Int]
        /// The result's shape: `counts` without the shrunk dimensions.
        var shape: [Int]
    }

    /// The geometry of `STRIDED_SLICE` on a tensor of `shape`, with TensorFlow's bit masks.
    static func stridedSliceGeometry(
        shape: [Int], begin: [Int], end: [Int], strides: [Int], beginMask: Int, endMask: Int, shrinkAxisMask: Int,
        offset: Bool
    ) throws -> SliceGeometry {
        guard begin.count == end.count, begin.count == strides.count, begin.count <= shape.count else {
            throw Problem("begin, end and strides must have one entry per sliced dimension (input rank \(shape.count))")
        }
        var geometry = SliceGeometry(starts: [], steps: [], counts: [], shape: [])
        func take(_ start: Int, _ step: Int, _ count: Int, kept: Bool) {
            geometry.starts.append(start)
            geometry.steps.append(step)
            geometry.counts.append(count)
            if kept { geometry.shape.append(count) }
        }
        for dimension in shape.indices {
            let size = shape[dimension]
            guard dimension < begin.count else {
                take(0, 1, size, kept: true)
                continue
            }
            let step = strides[dimension]
            guard step != 0 else { throw Problem("stride 0 in dimension \(dimension)") }
            let bit = 1 << dimension
            func clamp(_ index: Int) -> Int {
                let resolved = index < 0 ? index &+ size : index
                return step > 0 ? min(max(resolved, 0), size) : min(max(resolved, -1), size - 1)
            }
            if shrinkAxisMask & bit != 0 {
                // One index, and the dimension disappears.
                let index = begin[dimension] < 0 ? begin[dimension] &+ size : begin[dimension]
                guard (0..<size).contains(index) else {
                    throw Problem("index \(begin[dimension]) is out of range for dimension \(dimension) of size \(size)")
                }
                take(index, 1, 1, kept: false)
                continue
            }
            let first = beginMask & bit != 0 ? (step > 0 ? 0 : size - 1) : clamp(begin[dimension])
            let last =
                endMask & bit != 0
                ? (step > 0 ? size : -1) : clamp(offset ? begin[dimension] &+ end[dimension] : end[dimension])
            // Written so that no stride, however large, overflows.
            let span = step > 0 ? last - first : first - last
            take(first, step, span <= 0 ? 0 : (step == .min ? 1 : (span - 1) / abs(step) + 1), kept: true)
        }
        return geometry
    }

    /// `STRIDED_SLICE` with begin, end and stride vectors and TensorFlow's bit masks.
    func stridedSlice(
        begin: [Int], end: [Int], strides: [Int], beginMask: Int, endMask: Int, shrinkAxisMask: Int, offset: Bool
    ) throws -> StaticTensor {
        let geometry = try Self.stridedSliceGeometry(
            shape: shape, begin: begin, end: end, strides: strides, beginMask: beginMask, endMask: endMask,
            shrinkAxisMask: shrinkAxisMask, offset: offset)
        let (starts, steps, counts, kept) = (geometry.starts, geometry.steps, geometry.counts, geometry.shape)
        let inputStrides = Shape(shape).strides
        var result: [Int] = []
        result.reserveCapacity(try Self.count(of: counts))
        func visit(_ dimension: Int, _ base: Int) {
            guard dimension < shape.count else { return result.append(values[base]) }
            for index in 0..<counts[dimension] {
                visit(dimension + 1, base + (starts[dimension] + index * steps[dimension]) * inputStrides[dimension])
            }
        }
        visit(0, 0)
        return StaticTensor(shape: kept, values: result)
    }

    /// `CONCATENATION` (and, with a new dimension, `PACK`) of tensors along `axis`.
    static func concatenate(_ tensors: [StaticTensor], axis: Int, stacking: Bool = false) throws -> StaticTensor {
        guard let first = tensors.first else { throw Problem("nothing to concatenate") }
        let resolved = try Self.axis(axis, rank: first.shape.count, insertion: stacking)
        // Stacking is concatenation after giving each tensor a new dimension of size 1.
        let parts =
            stacking
            ? try tensors.map { try $0.reshaped(Array($0.shape[..<min(resolved, $0.shape.count)]) + [1] + $0.shape.dropFirst(resolved)) }
            : tensors
        let rank = parts[0].shape.count
        let sameOutsideAxis = parts.allSatisfy { part in
            part.shape.count == rank && part.shape.indices.allSatisfy { $0 == resolved || part.shape[$0] == parts[0].shape[$0] }
        }
        guard sameOutsideAxis else { throw Problem("shapes \(tensors.map(\.shape)) differ outside axis \(axis)") }
        let outer = try Self.count(of: Array(parts[0].shape[..<resolved]))
        var shape = parts[0].shape
        shape[resolved] = parts.reduce(0) { $0 + $1.shape[resolved] }
        var values: [Int] = []
        values.reserveCapacity(try Self.count(of: shape))
        for row in 0..<outer {
            for part in parts {
                let chunk = part.values.count / max(outer, 1)
                values += part.values[(row * chunk)..<((row + 1) * chunk)]
            }
        }
        return StaticTensor(shape: shape, values: values)
    }

    /// `GATHER` of `indices` along `axis` (no batch dimensions).
    func gather(_ indices: StaticTensor, axis: Int) throws -> StaticTensor {
        let resolved = try Self.axis(axis, rank: shape.count)
        let outer = try Self.count(of: Array(shape[..<resolved]))
        let inner = try Self.count(of: Array(shape[(resolved + 1)...]))
        let size = shape[resolved]
        let outputShape = Array(shape[..<resolved]) + indices.shape + shape[(resolved + 1)...]
        var values: [Int] = []
        values.reserveCapacity(try Self.count(of: outputShape))
        for row in 0..<outer {
            for index in indices.values {
                guard (0..<size).contains(index) else { throw Problem("index \(index) is out of range for size \(size)") }
                let start = (row * size + index) * inner
                values += self.values[start..<(start + inner)]
            }
        }
        return StaticTensor(shape: outputShape, values: values)
    }

    /// `REDUCE_PROD` or `SUM` over `axes`.
    func reduce(axes: [Int], keepDimensions: Bool, product: Bool) throws -> StaticTensor {
        let reduced = Set(try axes.map { try Self.axis($0, rank: shape.count) })
        let outputShape = shape.indices.map { reduced.contains($0) ? 1 : shape[$0] }
        let outputStrides = Shape(outputShape).strides
        let inputStrides = Shape(shape).strides
        var result = [Int](repeating: product ? 1 : 0, count: try Self.count(of: outputShape))
        for (flat, value) in values.enumerated() {
            var target = 0
            for dimension in shape.indices where !reduced.contains(dimension) {
                target += (flat / inputStrides[dimension]) % shape[dimension] * outputStrides[dimension]
            }
            result[target] = product ? result[target] &* value : result[target] &+ value
        }
        let kept = keepDimensions ? outputShape : shape.indices.filter { !reduced.contains($0) }.map { shape[$0] }
        return StaticTensor(shape: kept, values: result)
    }

    /// An element-wise operation with NumPy broadcasting.
    static func broadcast(_ a: StaticTensor, _ b: StaticTensor, _ operation: (Int, Int) throws -> Int) throws -> StaticTensor {
        let rank = max(a.shape.count, b.shape.count)
        let left = [Int](repeating: 1, count: rank - a.shape.count) + a.shape
        let right = [Int](repeating: 1, count: rank - b.shape.count) + b.shape
        var shape: [Int] = []
        for (x, y) in zip(left, right) {
            guard x == y || x == 1 || y == 1 else { throw Problem("shapes \(a.shape) and \(b.shape) do not broadcast") }
            shape.append(x == 1 ? y : x)
        }
        let (leftStrides, rightStrides, outputStrides) = (Shape(left).strides, Shape(right).strides, Shape(shape).strides)
        let values = try (0..<count(of: shape)).map { flat in
            var (i, j) = (0, 0)
            for dimension in 0..<rank {
                let coordinate = flat / outputStrides[dimension] % shape[dimension]
                if left[dimension] != 1 { i += coordinate * leftStrides[dimension] }
                if right[dimension] != 1 { j += coordinate * rightStrides[dimension] }
            }
            return try operation(a.values[i], b.values[j])
        }
        return StaticTensor(shape: shape, values: values)
    }
}
