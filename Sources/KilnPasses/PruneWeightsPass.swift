import KilnIR

/// `prune-weights`: zeroes the least important filter weights of fully-connected and
/// convolution layers, post-training, in one of the patterns the kernels can profit from.
///
/// A filter is seen as `[units, depth]` (fully-connected `[N, K]`, OHWI as `[O, KH·KW·I]`). A
/// weight's importance is its magnitude, or with calibration samples its magnitude times the
/// root mean square of the input it multiplies (Wanda, Sun et al. 2023), which keeps the weights
/// that carry the largest signals rather than the largest weights. Groups of weights (a block,
/// or the pruned ones of an N:M group) go together, ranked by their summed importance. With
/// calibration samples, each layer's kept weights and bias are then repaired by least squares
/// (``WeightReconstruction``) so the layer's output on the samples changes as little as it can.
/// Biases are never pruned: they are few and pruning them saves nothing.
public struct PruneWeightsPass: Pass {
    /// Which weights go together.
    public enum Pattern: Hashable, Sendable {
        /// Any weights: the finest pattern, the best accuracy, speed only at high sparsity in
        /// memory-bound layers.
        case unstructured
        /// Whole blocks of ``blockUnits`` consecutive output units at one reduction position:
        /// exactly what the block-sparse kernels skip.
        case blocks
        /// In every `m` consecutive weights of an output unit along the reduction, the `n` most
        /// important survive (2:4, 1:4); the sparsity is `1 − n/m` whatever is asked.
        case nOfM(n: Int, m: Int)
    }

    /// Which weights reach the sparsity together.
    public enum Scope: Hashable, Sendable {
        /// Each layer.
        case perLayer
        /// All layers, with one threshold: layers of small weights lose more.
        case global
        /// Each output unit of each layer (unstructured pruning; Wanda's grouping): every unit
        /// keeps as many weights, which the gathering sparse kernel stores without padding.
        case perUnit
    }

    /// The target sparsity and how weights are chosen.
    public struct Configuration: Hashable, Sendable {
        /// The fraction of weights to zero, 0…1 (ignored by ``Pattern/nOfM(n:m:)``).
        public var sparsity: Double
        /// Which weights reach `sparsity` together.
        public var scope: Scope
        /// Which weights go together.
        public var pattern: Pattern
        /// Samples (one tensor per graph input) whose activations weigh each weight's magnitude
        /// (Wanda) and from which the kept weights are repaired; `nil` ranks by magnitude alone.
        public var calibration: [[TensorData]]?

        /// Creates a configuration.
        public init(
            sparsity: Double, scope: Scope = .perLayer, pattern: Pattern = .unstructured, calibration: [[TensorData]]? = nil
        ) {
            self.sparsity = sparsity
            self.scope = scope
            self.pattern = pattern
            self.calibration = calibration
        }
    }

    /// Output units per block of ``Pattern/blocks``: the block-sparse kernels' column block.
    public static let blockUnits = 16

    /// The stable id.
    public let id = "prune-weights"
    /// What to prune.
    public let configuration: Configuration

    /// Creates the pass.
    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// Weights pruned together: `count` elements of one filter, `stride` apart from `first`.
    private struct Group {
        var filter = 0
        var first: Int
        var stride = 1
        var count = 1
        var importance: Double

        var indices: StrideTo<Int> { Swift.stride(from: first, to: first + count * stride, by: stride) }
    }

    /// Zeroes the least important weights of every float32 constant filter.
    public func run(on graph: inout Graph) throws(DiagnosticError) {
        guard (0...1).contains(configuration.sparsity) else {
            throw DiagnosticError("pruning sparsity must be between 0 and 1, got \(configuration.sparsity)")
        }
        if case .nOfM(let n, let m) = configuration.pattern, !(m >= 1 && (0...m).contains(n)) {
            throw DiagnosticError("N:M pruning needs 0 ≤ N ≤ M and M ≥ 1, got \(n):\(m)")
        }
        // Each filter once, with the layer (node index) that uses it first.
        var filters: [(filter: ValueID, layer: Int)] = []
        for (index, node) in graph.nodes.enumerated() {
            switch node.op {
            case .fullyConnected, .conv2D:
                let filter = node.inputs[1]
                if graph.constantData(filter)?.dtype == .float32, !filters.contains(where: { $0.filter == filter }) {
                    filters.append((filter, index))
                }
            default: break
            }
        }
        let statistics = try configuration.calibration.map { samples throws(DiagnosticError) in
            try LayerInputStatistics.collect(for: filters.map(\.layer), in: graph, samples: samples)
        }
        let original = filters.map { graph.constantData($0.filter)?.floats() ?? [] }
        var values = original
        var groups: [[Group]] = []
        for (number, entry) in filters.enumerated() {
            let weights = values[number]
            let units = max(graph.type(of: entry.filter).shape[0], 1)
            let depth = weights.count / units
            let norms = statistics?[entry.layer].map(\.rootMeanSquares)
            func importance(_ index: Int) -> Double {
                let magnitude = Double(abs(weights[index]))
                guard let norms, norms.count == depth else { return magnitude }
                return magnitude * norms[index % depth]
            }
            groups.append(
                Self.groups(units: units, depth: depth, pattern: configuration.pattern, importance: importance).map {
                    var group = $0
                    group.filter = number
                    return group
                })
        }
        var pruned: [Group] = []
        if case .nOfM = configuration.pattern {
            pruned = groups.flatMap { $0 }
        } else if configuration.scope == .global {
            pruned = Self.leastImportant(groups.flatMap { $0 }, sparsity: configuration.sparsity)
        } else if configuration.scope == .perUnit, configuration.pattern == .unstructured {
            for (number, layer) in groups.enumerated() {
                let depth = max(values[number].count / max(graph.type(of: filters[number].filter).shape[0], 1), 1)
                for unit in Dictionary(grouping: layer, by: { $0.first / depth }).values {
                    pruned += Self.leastImportant(unit, sparsity: configuration.sparsity)
                }
            }
        } else {
            for layer in groups { pruned += Self.leastImportant(layer, sparsity: configuration.sparsity) }
        }
        var isPruned = values.map { [Bool](repeating: false, count: $0.count) }
        for group in pruned {
            for index in group.indices {
                values[group.filter][index] = 0
                isPruned[group.filter][index] = true
            }
        }
        for (number, entry) in filters.enumerated() {
            if let layerStatistics = statistics?[entry.layer], layerStatistics.depth * max(graph.type(of: entry.filter).shape[0], 1) == values[number].count {
                let node = graph.nodes[entry.layer]
                let biasID = node.inputs.count > 2 ? node.inputs[2] : nil
                var bias = biasID.flatMap { graph.constantData($0)?.dtype == .float32 ? graph.constantData($0)?.floats() : nil }
                WeightReconstruction.repair(
                    &values[number], original: original[number], bias: &bias, kept: { !isPruned[number][$0] },
                    statistics: layerStatistics)
                if let biasID, let bias { graph.constants[biasID] = .data(TensorData(bias, shape: graph.type(of: biasID).shape)) }
            }
            graph.constants[entry.filter] = .data(TensorData(values[number], shape: graph.type(of: entry.filter).shape))
        }
    }

    /// The groups of a `[units, depth]` filter under `pattern` with their importance; for N:M,
    /// only the weights each group drops, one by one.
    private static func groups(units: Int, depth: Int, pattern: Pattern, importance: (Int) -> Double) -> [Group] {
        switch pattern {
        case .unstructured:
            return (0..<(units * depth)).map { Group(first: $0, importance: importance($0)) }
        case .blocks:
            var result: [Group] = []
            for first in stride(from: 0, to: units, by: blockUnits) {
                for k in 0..<depth {
                    var block = Group(first: first * depth + k, stride: depth, count: min(blockUnits, units - first), importance: 0)
                    block.importance = block.indices.reduce(0) { $0 + importance($1) }
                    result.append(block)
                }
            }
            return result
        case .nOfM(let n, let m):
            var result: [Group] = []
            for unit in 0..<units {
                for start in stride(from: unit * depth, to: (unit + 1) * depth, by: m) {
                    let members = start..<min(start + m, (unit + 1) * depth)
                    // Ties broken by position so the result never depends on sort stability.
                    let ranked = members.sorted { (importance($0), $1) > (importance($1), $0) }
                    result += ranked.dropFirst(n * members.count / m).map { Group(first: $0, importance: 0) }
                }
            }
            return result
        }
    }

    /// The least important groups holding ⌊sparsity · weights⌋ weights (groups of several
    /// weights are taken whole while they fit).
    private static func leastImportant(_ groups: [Group], sparsity: Double) -> [Group] {
        let total = groups.reduce(0) { $0 + $1.count }
        let target = Int((sparsity * Double(total)).rounded(.down))
        // Ties broken by position so the result never depends on sort stability.
        let order = groups.indices.sorted {
            (groups[$0].importance, groups[$0].filter, groups[$0].first)
                < (groups[$1].importance, groups[$1].filter, groups[$1].first)
        }
        var result: [Group] = []
        var count = 0
        for index in order where count + groups[index].count <= target {
            result.append(groups[index])
            count += groups[index].count
        }
        return result
    }
}
