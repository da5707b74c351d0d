/// The least-squares repair of a pruned layer (optimal brain surgeon's update for a fixed mask,
/// as SparseGPT applies it): for each output unit, the kept weights `v` and a bias shift `δ` that
/// best reproduce the unpruned unit on the calibration rows `X`,
/// `min ‖X_K·v + δ − X·w‖² + Σ_k λ·E[x_k²]·(v_k − w_k)²`, from the Gram matrix of `[X, 1]`. The pruned weights stay
/// zero; what they contributed moves to the kept weights correlated with them and, on average,
/// to the bias.
enum WeightReconstruction {
    /// The multiply-adds of solves one layer may take; past it, only the bias moves.
    static let budget = 2_000_000_000.0
    /// The ridge toward the original weights, relative to each input's mean square: keeps the
    /// solve well conditioned when few rows, or collinear inputs, leave the Gram matrix singular,
    /// and leaves weights the samples say nothing about as they were.
    static let ridge = 0.01

    /// Repairs `weights` (`[units, depth]`, pruned ones zero, `original` before pruning) and
    /// `bias` in place from `statistics`.
    static func repair(
        _ weights: inout [Float], original: [Float], bias: inout [Float]?, kept: (Int) -> Bool,
        statistics: LayerInputStatistics
    ) {
        let depth = statistics.depth
        let units = depth == 0 ? 0 : weights.count / depth
        // Units sharing a mask (blocks of units) share one factorization.
        var masks: [[Int]: [Int]] = [:]
        for unit in 0..<units {
            masks[(0..<depth).filter { kept(unit * depth + $0) }, default: []].append(unit)
        }
        let cost = masks.reduce(0.0) { total, entry in
            let size = Double(entry.key.count + 1)
            return total + size * size * size / 3 + Double(entry.value.count) * size * Double(depth)
        }
        guard statistics.gram != nil, statistics.count > 0, cost <= budget else {
            // The mean shift alone: E[δ] = Σ_pruned w_k · E[x_k].
            guard bias != nil else { return }
            let means = statistics.means
            for unit in 0..<units {
                let shift = (0..<depth).reduce(0.0) { total, k in
                    let index = unit * depth + k
                    return kept(index) ? total : total + Double(original[index]) * means[k]
                }
                bias?[unit] += Float(shift)
            }
            return
        }
        let count = Double(statistics.count)
        for (mask, members) in masks {
            // Unknowns: the kept weights, then the bias shift when there is a bias.
            let positions = bias == nil ? mask : mask + [depth]
            let size = positions.count
            guard size > 0 else { continue }
            let meanSquare = mask.reduce(0.0) { $0 + statistics.gram($1, $1) } / Double(max(mask.count, 1)) / count
            // An input that is always zero still gets a little damping, which keeps its weight.
            let damping = positions.map { i in
                i < depth ? ridge * statistics.gram(i, i) / count + 1e-8 * meanSquare + 1e-30 : 0
            }
            var matrix = [Double](repeating: 0, count: size * size)
            for (row, i) in positions.enumerated() {
                for (column, j) in positions.enumerated() { matrix[row * size + column] = statistics.gram(i, j) / count }
                matrix[row * size + row] += damping[row]
            }
            guard let factor = Cholesky(matrix, size: size) else { continue }
            for unit in members {
                let w = (0..<depth).map { Double(original[unit * depth + $0]) }
                let target = positions.enumerated().map { row, i in
                    (0..<depth).reduce(0.0) { $0 + statistics.gram(i, $1) * w[$1] } / count
                        + (i < depth ? damping[row] * w[i] : 0)
                }
                let solution = factor.solve(target)
                guard solution.allSatisfy(\.isFinite) else { continue }
                for (index, k) in mask.enumerated() { weights[unit * depth + k] = Float(solution[index]) }
                if bias != nil { bias?[unit] += Float(solution[size - 1]) }
            }
        }
    }
}

/// The Cholesky factor `L` of a symmetric positive definite matrix, `A = L·Lᵀ`.
struct Cholesky {
    private let lower: [Double]
    private let size: Int

    /// Factors the `size × size` row-major `matrix`; `nil` when it is not positive definite.
    init?(_ matrix: [Double], size: Int) {
        var lower = [Double](repeating: 0, count: size * size)
        for i in 0..<size {
            for j in 0...i {
                var sum = matrix[i * size + j]
                for k in 0..<j { sum -= lower[i * size + k] * lower[j * size + k] }
                if i == j {
                    guard sum > 0, sum.isFinite else { return nil }
                    lower[i * size + i] = sum.squareRoot()
                } else {
                    lower[i * size + j] = sum / lower[j * size + j]
                }
            }
        }
        self.lower = lower
        self.size = size
    }

    /// `x` with `A·x = b`.
    func solve(_ b: [Double]) -> [Double] {
        var y = b
        for i in 0..<size {
            for k in 0..<i { y[i] -= lower[i * size + k] * y[k] }
            y[i] /= lower[i * size + i]
        }
        for i in stride(from: size - 1, through: 0, by: -1) {
            for k in (i + 1)..<size { y[i] -= lower[k * size + i] * y[k] }
            y[i] /= lower[i * size + i]
        }
        return y
    }
}
