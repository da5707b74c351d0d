import KilnIR

/// `prune-magnitude`: zeroes the smallest-magnitude filter weights until the
/// requested fraction of them is zero, per layer or with one global threshold.
///
/// Biases are never pruned: they are few and pruning them saves nothing.
public struct PruneMagnitudePass: Pass {
    /// The target sparsity and how thresholds are chosen.
    public struct Configuration: Hashable, Sendable {
        /// The fraction of weights to zero, 0…1.
        public var sparsity: Double
        /// Whether each layer reaches `sparsity` or one threshold spans all layers.
        public var isGlobal: Bool

        /// Creates a configuration.
        public init(sparsity: Double, isGlobal: Bool = false) {
            self.sparsity = sparsity
            self.isGlobal = isGlobal
        }
    }

    /// The stable id.
    public let id = "prune-magnitude"
    /// What to prune.
    public let configuration: Configuration

    /// Creates the pass.
    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// Zeroes the smallest weights of every float32 constant filter.
    public func run(on graph: inout Graph) throws(DiagnosticError) {
        guard (0...1).contains(configuration.sparsity) else {
            throw DiagnosticError("pruning sparsity must be between 0 and 1, got \(configuration.sparsity)")
        }
        var filters: [ValueID] = []
        for node in graph.nodes {
            switch node.op {
            case .fullyConnected, .conv2D:
                let filter = node.inputs[1]
                if graph.constantData(filter)?.dtype == .float32, !filters.contains(filter) { filters.append(filter) }
            default: break
            }
        }
        var weights: [(filter: ValueID, index: Int, magnitude: Float)] = []
        var values: [ValueID: [Float]] = [:]
        for filter in filters {
            let floats = graph.constantData(filter)?.floats() ?? []
            values[filter] = floats
            if configuration.isGlobal {
                weights += floats.indices.map { (filter, $0, abs(floats[$0])) }
            } else {
                let order = floats.indices.sorted { (abs(floats[$0]), $0) < (abs(floats[$1]), $1) }
                let count = Int((configuration.sparsity * Double(floats.count)).rounded(.down))
                for index in order.prefix(count) { values[filter]?[index] = 0 }
            }
        }
        if configuration.isGlobal {
            // Ties broken by position so the result never depends on sort stability.
            weights.sort { ($0.magnitude, $0.filter, $0.index) < ($1.magnitude, $1.filter, $1.index) }
            let count = Int((configuration.sparsity * Double(weights.count)).rounded(.down))
            for weight in weights.prefix(count) { values[weight.filter]?[weight.index] = 0 }
        }
        for filter in filters {
            guard let pruned = values[filter] else { continue }
            graph.constants[filter] = .data(TensorData(pruned, shape: graph.type(of: filter).shape))
        }
    }
}
