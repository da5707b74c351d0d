import KilnIR

extension Kernels {
    /// `out[b, m, n] = Σ_k A[b, m, k] · B[b, k, n]`, batch axes broadcast,
    /// adjoint operands read transposed; `k` ascends from zero.
    static func batchMatMulSums<T: Numeric>(
        _ a: [T], _ aShape: Shape, _ b: [T], _ bShape: Shape, adjointA: Bool, adjointB: Bool, resultShape: Shape
    ) -> [T] {
        let rank = resultShape.rank
        let (rows, columns) = (resultShape[rank - 2], resultShape[rank - 1])
        let depth = adjointA ? aShape[aShape.rank - 2] : aShape[aShape.rank - 1]
        let batchShape = Shape(Array(resultShape.dimensions.dropLast(2)))
        let batchPairs = IntegerKernels.broadcastPairs(
            Shape(Array(aShape.dimensions.dropLast(2))), Shape(Array(bShape.dimensions.dropLast(2))), batchShape)
        var out = [T](repeating: 0, count: resultShape.elementCount)
        for (batch, pair) in batchPairs.enumerated() {
            let (aBase, bBase) = (pair.0 * rows * depth, pair.1 * depth * columns)
            for m in 0..<rows {
                for n in 0..<columns {
                    var sum: T = 0
                    for k in 0..<depth {
                        let x = a[aBase + (adjointA ? k * rows + m : m * depth + k)]
                        let y = b[bBase + (adjointB ? n * depth + k : k * columns + n)]
                        sum += x * y
                    }
                    out[(batch * rows + m) * columns + n] = sum
                }
            }
        }
        return out
    }
}
