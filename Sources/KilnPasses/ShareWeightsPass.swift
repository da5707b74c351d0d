import KilnIR

/// `share-weights`: gives each fully-connected and convolution layer at most `centroids`
/// distinct float32 weights, each weight replaced by the nearest of the centroids k-means finds
/// over the layer's weights (one dimension, Lloyd's iterations from evenly spaced quantiles;
/// deterministic). Kernels then store a 4-bit index per weight and look it up in a table of 16.
/// Exact zeros (pruned weights) stay zero: zero is then one of the centroids.
public struct ShareWeightsPass: Pass {
    /// The stable id.
    public let id = "share-weights"
    /// Distinct weights per layer, 2…256.
    public let centroids: Int

    /// Filters with fewer weights keep them all: sharing would save under 4 KB there, and small
    /// layers (first layers above all) lose the most accuracy per shared weight.
    static let minimumWeights = 1024

    /// Lloyd's iterations at most; one dimension converges in far fewer.
    static let iterations = 100

    /// Creates the pass.
    public init(centroids: Int) {
        self.centroids = centroids
    }

    /// Replaces every float32 constant filter's weights by their nearest centroid.
    public func run(on graph: inout Graph) throws(DiagnosticError) {
        guard (2...256).contains(centroids) else {
            throw DiagnosticError("weight sharing needs 2 to 256 centroids, got \(centroids)")
        }
        var done: Set<ValueID> = []
        for node in graph.nodes {
            switch node.op {
            case .fullyConnected, .conv2D: break
            default: continue
            }
            let filter = node.inputs[1]
            guard !done.contains(filter), let data = graph.constantData(filter), data.dtype == .float32,
                data.elementCount >= Self.minimumWeights
            else { continue }
            done.insert(filter)
            let weights = data.floats()
            guard weights.allSatisfy(\.isFinite) else {
                throw DiagnosticError("layer '\(node.name)': weight sharing needs finite weights; the filter holds NaN or infinity")
            }
            let shared = Self.shared(weights, centroids: centroids)
            graph.constants[filter] = .data(TensorData(shared, shape: data.shape))
        }
    }

    /// `weights` with each replaced by the nearest of at most `centroids` values.
    static func shared(_ weights: [Float], centroids: Int) -> [Float] {
        if Set(weights).count <= centroids { return weights }
        let keepsZero = weights.contains(0)
        let values = weights.filter { !keepsZero || $0 != 0 }.map(Double.init).sorted()
        var means = kMeans(sorted: values, count: keepsZero ? centroids - 1 : centroids)
        if keepsZero { means = (means + [0]).sorted() }
        let table = means.map { Float($0) }
        // Each weight's nearest entry: the first whose upper boundary lies above it.
        let boundaries = zip(table, table.dropFirst()).map { ($0 + $1) / 2 }
        return weights.map { weight in
            if keepsZero, weight == 0 { return 0 }
            var low = 0
            var high = boundaries.count
            while low < high {
                let middle = (low + high) / 2
                if weight < boundaries[middle] { high = middle } else { low = middle + 1 }
            }
            return table[low]
        }
    }

    /// The `count` means of 1-D k-means over `sorted` (ascending), ascending; fewer when there are
    /// fewer distinct values.
    static func kMeans(sorted: [Double], count: Int) -> [Double] {
        let n = sorted.count
        guard n > 0, count > 0 else { return [] }
        var prefix = [0.0]
        prefix.reserveCapacity(n + 1)
        for value in sorted { prefix.append(prefix[prefix.count - 1] + value) }
        // Evenly spaced quantiles, then Lloyd's iterations: each cluster is a run of the sorted values.
        var means = (0..<count).map { sorted[min(n - 1, (2 * $0 + 1) * n / (2 * count))] }
        means = Array(Set(means)).sorted()
        for _ in 0..<iterations {
            var starts = [0]
            for (left, right) in zip(means, means.dropFirst()) {
                let boundary = (left + right) / 2
                var low = starts[starts.count - 1]
                var high = n
                while low < high {
                    let middle = (low + high) / 2
                    if sorted[middle] < boundary { low = middle + 1 } else { high = middle }
                }
                starts.append(low)
            }
            starts.append(n)
            let updated = (0..<means.count).compactMap { cluster -> Double? in
                let (start, end) = (starts[cluster], starts[cluster + 1])
                return end > start ? (prefix[end] - prefix[start]) / Double(end - start) : nil
            }
            if updated == means { break }
            means = updated
        }
        return means
    }
}
