import KilnIR

extension Kernels {
    /// `out[i₀, …, iₙ] = x[j]` where input axis `permutation[a]` takes coordinate `iₐ`.
    static func transpose<T>(_ values: [T], shape: Shape, permutation: [Int]) -> [T] {
        let inputStrides = shape.strides
        let resultShape = Shape(permutation.map { shape[$0] })
        let resultStrides = resultShape.strides
        return (0..<resultShape.elementCount).map { index in
            var (rest, source) = (index, 0)
            for axis in 0..<resultShape.rank {
                source += rest / resultStrides[axis] * inputStrides[permutation[axis]]
                rest %= resultStrides[axis]
            }
            return values[source]
        }
    }
}
