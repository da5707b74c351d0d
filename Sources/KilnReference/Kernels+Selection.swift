import KilnIR

/// Reductions, arg-reductions, resizing and gathering: ops that pick or fold elements.
extension Kernels {
    /// `function` folded over `axes` in input order.
    static func reduce(_ x: Tensor, _ function: ReduceFunction, axes: [Int], resultShape: Shape) -> Tensor {
        Tensor(
            shape: resultShape,
            values: fold(x.values, shape: x.shape, axes: axes, initial: initialValue(function), combiner(function)))
    }

    /// The value a reduction starts from (what it gives over no elements).
    static func initialValue(_ function: ReduceFunction) -> Float {
        switch function {
        case .sum: 0
        case .product: 1
        case .maximum: -.infinity
        case .minimum: .infinity
        }
    }

    /// How a reduction combines its running value with the next element; NaN stays NaN.
    static func combiner(_ function: ReduceFunction) -> (Float, Float) -> Float {
        switch function {
        case .sum: (+)
        case .product: (*)
        case .maximum: { apply(.maximum, $0, $1) }
        case .minimum: { apply(.minimum, $0, $1) }
        }
    }

    /// The position of the extreme element along `axis` for every other position;
    /// the first wins a tie, and the first NaN wins outright.
    static func argExtremum<T>(
        _ values: [T], shape: Shape, axis: Int, isBetter: (T, T) -> Bool, isNaN: (T) -> Bool
    ) -> [Int32] {
        let axis = Op.normalizedAxis(axis, rank: shape.rank) ?? 0
        let inner = shape.dimensions[(axis + 1)...].reduce(1, *)
        let count = shape[axis]
        let outer = shape.dimensions[..<axis].reduce(1, *)
        var positions: [Int32] = []
        positions.reserveCapacity(outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * count * inner + i
                var best = 0
                for k in 1..<max(count, 1) {
                    if isNaN(values[base + best * inner]) { break }
                    let candidate = values[base + k * inner]
                    if isNaN(candidate) || isBetter(candidate, values[base + best * inner]) { best = k }
                }
                positions.append(Int32(best))
            }
        }
        return positions
    }

    /// An NHWC resize: nearest copies one pixel; bilinear interpolates along W, then H,
    /// as `a + (b − a) · w` (XNNPACK's order); bicubic sums each of four rows' four taps along W,
    /// then the four rows along H (ONNX Runtime's order).
    static func resize(
        _ values: [Float], shape: Shape, _ attributes: ResizeAttributes, resultShape: Shape
    ) -> [Float] {
        let width = shape[2]
        if attributes.method == .bicubic {
            let rows = attributes.cubicTaps(input: shape[1], output: resultShape[1])
            let columns = attributes.cubicTaps(input: width, output: resultShape[2])
            return resized(shape, resultShape, rows: rows, columns: columns) { n, row, column, c in
                var sum: Float = 0
                for y in row {
                    var line: Float = 0
                    for x in column { line += x.weight * values[((n * shape[1] + y.index) * width + x.index) * shape[3] + c] }
                    sum += y.weight * line
                }
                return sum
            }
        }
        let rows = attributes.sources(input: shape[1], output: resultShape[1])
        let columns = attributes.sources(input: width, output: resultShape[2])
        return resized(shape, resultShape, rows: rows, columns: columns) { n, row, column, c in
            func at(_ y: Int, _ x: Int) -> Float { values[((n * shape[1] + y) * width + x) * shape[3] + c] }
            if attributes.method == .nearest { return at(row.lower, column.lower) }
            return bilinear(
                at(row.lower, column.lower), at(row.lower, column.upper), at(row.upper, column.lower),
                at(row.upper, column.upper), row.weight, column.weight)
        }
    }

    /// An NHWC resize's output: `value(n, row, column, channel)` for each output element in order,
    /// `rows` and `columns` holding each output row's and column's input positions.
    private static func resized<Row, Column>(
        _ shape: Shape, _ resultShape: Shape, rows: [Row], columns: [Column], _ value: (Int, Row, Column, Int) -> Float
    ) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(resultShape.elementCount)
        for n in 0..<shape[0] {
            for row in rows {
                for column in columns {
                    for c in 0..<shape[3] { out.append(value(n, row, column, c)) }
                }
            }
        }
        return out
    }

    /// Interpolates the corners `a b / c d` at (`rowWeight`, `columnWeight`).
    static func bilinear(_ a: Float, _ b: Float, _ c: Float, _ d: Float, _ rowWeight: Float, _ columnWeight: Float) -> Float {
        let top = a + (b - a) * columnWeight
        let bottom = c + (d - c) * columnWeight
        return top + (bottom - top) * rowWeight
    }

    /// `value` toward zero as int32, saturating at the type's bounds; NaN becomes 0.
    static func truncatedInt32(_ value: Float) -> Int32 {
        if value.isNaN { return 0 }
        if value >= 2_147_483_648 { return .max }
        if value <= -2_147_483_648 { return .min }
        return Int32(value)
    }

    /// An index held as a float (int32 values up to 2²⁴ are exact; larger ones lie outside any axis anyway).
    static func index(_ value: Float) -> Int {
        value.isFinite ? Int(value) : .min
    }

    /// The slices of `values` along `axis` at `indices`, negative ones counting
    /// from the end; an index outside the axis gives `fill`.
    static func gather<T>(_ values: [T], shape: Shape, indices: [Int], axis: Int, fill: T) -> [T] {
        let axis = Op.normalizedAxis(axis, rank: shape.rank) ?? 0
        let inner = shape.dimensions[(axis + 1)...].reduce(1, *)
        let count = shape[axis]
        let outer = shape.dimensions[..<axis].reduce(1, *)
        var out: [T] = []
        out.reserveCapacity(outer * indices.count * inner)
        for o in 0..<outer {
            for requested in indices {
                let index = requested < 0 ? requested + count : requested
                if (0..<count).contains(index) {
                    let start = (o * count + index) * inner
                    out += values[start..<(start + inner)]
                } else {
                    out += repeatElement(fill, count: inner)
                }
            }
        }
        return out
    }
}
