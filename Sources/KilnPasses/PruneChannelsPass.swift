import KilnIR

/// `prune-channels`: removes the least important output channels of fully-connected and
/// convolution layers together with the next layer's matching inputs, so both become smaller
/// dense layers: fewer weights and fewer multiply-adds, with no sparse kernel needed.
///
/// A layer `L` is pruned when its result reaches exactly one other such layer `M` as `M`'s data,
/// through nothing but ops that keep channels apart: activations, depthwise convolutions (their
/// channels go too), pooling, padding of other axes, means over other axes and reshapes that keep
/// channels innermost (a flatten); no other reader, no model output, no weights shared with
/// another layer.
/// Residual adds and concatenations therefore keep their channels.
///
/// A channel's importance is the norm of `L`'s filter row times the norm of `M`'s weights that
/// read it; with calibration samples, the variance of `M`'s input in that channel times the
/// squared norm of those weights (the signal the channel adds beyond its mean), and `M`'s kept
/// weights and bias are repaired by least squares (``WeightReconstruction``) so its output on the
/// samples changes as little as it can.
public struct PruneChannelsPass: Pass {
    /// How many channels go and how they are ranked.
    public struct Configuration: Hashable, Sendable {
        /// The fraction of each prunable layer's output channels to remove, 0…1 (at least one stays).
        public var fraction: Double
        /// Samples (one tensor per graph input) for the activation-aware ranking and bias repair.
        public var calibration: [[TensorData]]?

        /// Creates a configuration.
        public init(fraction: Double, calibration: [[TensorData]]? = nil) {
            self.fraction = fraction
            self.calibration = calibration
        }
    }

    /// The stable id.
    public let id = "prune-channels"
    /// What to prune.
    public let configuration: Configuration
    private var fraction: Double { configuration.fraction }
    private var calibration: [[TensorData]]? { configuration.calibration }

    /// Creates the pass.
    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// A prunable pair: layer `L`, the channel-keeping nodes after it, and the layer `M` reading them.
    struct Chain {
        var producer: Int
        var passthrough: [Int]
        var consumer: Int
    }

    /// Prunes every chain, producers in graph order.
    public func run(on graph: inout Graph) throws(DiagnosticError) {
        guard (0...1).contains(fraction) else {
            throw DiagnosticError("channel pruning needs a fraction from 0 to 1, got \(fraction)")
        }
        let chains = Self.chains(in: graph)
        guard !chains.isEmpty, fraction > 0 else { return }
        let statistics = try calibration.map { samples throws(DiagnosticError) in
            try LayerInputStatistics.collect(for: chains.map(\.consumer), in: graph, samples: samples)
        }
        for chain in chains {
            prune(chain, statistics: statistics?[chain.consumer], in: &graph)
        }
        do { try graph.verify() } catch { throw DiagnosticError("prune-channels: \(error)") }
    }

    /// Every layer whose channels can go, with what follows it up to the layer that reads them.
    static func chains(in graph: Graph) -> [Chain] {
        let consumers = graph.consumers()
        let outputs = Set(graph.outputs)
        func onlyUse(_ value: ValueID) -> Bool { (consumers[value] ?? []).count == 1 }
        func isDense(_ node: Node) -> Bool {
            switch node.op {
            case .fullyConnected, .conv2D:
                return graph.constantData(node.inputs[1])?.dtype == .float32 && node.inputs.dropFirst().allSatisfy(onlyUse)
                    && graph.type(of: node.outputs[0]).dtype == .float32
            default: return false
            }
        }
        var chains: [Chain] = []
        for (index, node) in graph.nodes.enumerated() where isDense(node) {
            let channels = graph.type(of: node.outputs[0]).shape.dimensions.last ?? 0
            var current = node.outputs[0]
            var passthrough: [Int] = []
            while !outputs.contains(current), let readers = consumers[current], readers.count == 1 {
                let next = graph.nodes[readers[0]]
                guard next.inputs.first == current, !next.inputs.dropFirst().contains(current) else { break }
                if isDense(next), graph.type(of: next.inputs[1]).shape.dimensions.last == graph.type(of: current).shape.dimensions.last {
                    if channels > 1 { chains.append(Chain(producer: index, passthrough: passthrough, consumer: readers[0])) }
                    break
                }
                guard keepsChannels(next, channels: channels, in: graph), next.inputs.dropFirst().allSatisfy(onlyUse) else { break }
                passthrough.append(readers[0])
                current = next.outputs[0]
            }
        }
        return chains
    }

    /// Whether `node` maps each channel of its operand to the same channel of its result alone,
    /// channels staying the innermost factor of the last axis (a flatten of `[N, H, W, C]` to
    /// `[N, H·W·C]` keeps them; the next layer then reads channel `c` at `c`, `c + C`, …).
    static func keepsChannels(_ node: Node, channels: Int, in graph: Graph) -> Bool {
        let input = graph.type(of: node.inputs[0]).shape
        let output = graph.type(of: node.outputs[0]).shape
        guard let last = input.dimensions.last, last % max(channels, 1) == 0, channels > 0,
            let outputLast = output.dimensions.last, outputLast % channels == 0,
            graph.type(of: node.outputs[0]).dtype == .float32
        else { return false }
        if case .activation = node.op { return input == output }
        if case .reshape = node.op {
            // The last axis becomes a run of trailing input axes (or stays), the leading ones keep their order.
            var trailing = 1
            for axis in input.indices.reversed() {
                trailing *= input[axis]
                if trailing == outputLast { return output.dimensions.dropLast().reduce(1, *) == input.dimensions[..<axis].reduce(1, *) }
                if trailing > outputLast { return false }
            }
            return false
        }
        guard last == channels, outputLast == channels else { return false }
        switch node.op {
        case .maxPool2D, .averagePool2D:
            return true
        case .depthwiseConv2D:
            return graph.constantData(node.inputs[1])?.dtype == .float32 && graph.type(of: node.inputs[1]).shape[3] == channels
        case .pad(let paddings):
            return paddings.last == [0, 0]
        case .mean(let axes, _):
            return !axes.compactMap { Op.normalizedAxis($0, rank: input.rank) }.contains(input.rank - 1)
        default:
            return false
        }
    }

    /// Removes the least important channels of one chain.
    private func prune(_ chain: Chain, statistics: LayerInputStatistics?, in graph: inout Graph) {
        let producer = graph.nodes[chain.producer]
        let consumer = graph.nodes[chain.consumer]
        guard let filter = graph.constantData(producer.inputs[1]), let next = graph.constantData(consumer.inputs[1]) else {
            return
        }
        let channels = filter.shape[0]
        let removed = min(Int((Double(channels) * fraction).rounded(.down)), channels - 1)
        guard removed > 0 else { return }
        let weights = filter.floats()
        let nextWeights = next.floats()
        let rowLength = weights.count / channels
        let units = next.shape[0]
        let nextRow = nextWeights.count / max(units, 1)
        // `M`'s reduction positions of channel c: c, c + C, c + 2C, … (taps × channels, channels last).
        func positions(_ channel: Int) -> StrideTo<Int> { stride(from: channel, to: nextRow, by: channels) }
        func importance(_ channel: Int) -> Double {
            var reading = 0.0
            var weighted = 0.0
            for k in positions(channel) {
                var column = 0.0
                for unit in 0..<units { column += Double(nextWeights[unit * nextRow + k]) * Double(nextWeights[unit * nextRow + k]) }
                reading += column
                if let statistics, statistics.depth == nextRow {
                    let mean = statistics.means[k]
                    let variance = max(0, statistics.rootMeanSquares[k] * statistics.rootMeanSquares[k] - mean * mean)
                    weighted += variance * column
                }
            }
            if let statistics, statistics.depth == nextRow { return weighted }
            var row = 0.0
            for j in 0..<rowLength { row += Double(weights[channel * rowLength + j]) * Double(weights[channel * rowLength + j]) }
            return (row * reading).squareRoot()
        }
        let scores = (0..<channels).map(importance)
        let ranked = (0..<channels).sorted { (scores[$0], $0) < (scores[$1], $1) }
        let gone = Set(ranked.prefix(removed))
        let kept = (0..<channels).filter { !gone.contains($0) }

        // With samples, `M`'s kept weights and bias are repaired by least squares to reproduce its
        // output without the removed channels (or, for very deep layers, the bias takes their mean).
        var nextValues = nextWeights
        if let statistics, statistics.depth == nextRow {
            let removedPosition = { (index: Int) in gone.contains(index % nextRow % channels) }
            for index in nextValues.indices where removedPosition(index) { nextValues[index] = 0 }
            var bias: [Float]? =
                consumer.inputs.count > 2 ? graph.constantData(consumer.inputs[2])?.floats() : Array(repeating: 0, count: units)
            WeightReconstruction.repair(
                &nextValues, original: nextWeights, bias: &bias, kept: { !removedPosition($0) }, statistics: statistics)
            if let bias, bias.count == units {
                let data = TensorData(bias, shape: [units])
                if consumer.inputs.count > 2 {
                    graph.constants[consumer.inputs[2]] = .data(data)
                } else {
                    let added = graph.addConstant(name: consumer.name + "/bias", data: data)
                    graph.nodes[chain.consumer].inputs.append(added)
                }
            }
        }

        // `L`: its kept filter rows and biases.
        replace(producer.inputs[1], with: Self.keeping(kept, along: 0, of: filter), in: &graph)
        if producer.inputs.count > 2, let bias = graph.constantData(producer.inputs[2]) {
            replace(producer.inputs[2], with: Self.keeping(kept, along: 0, of: bias), in: &graph)
        }
        // Between: each result's last axis, depthwise filters and biases, reshape targets.
        var values = [producer.outputs[0]]
        for index in chain.passthrough {
            let node = graph.nodes[index]
            if case .depthwiseConv2D = node.op {
                if let depthwise = graph.constantData(node.inputs[1]) {
                    replace(node.inputs[1], with: Self.keeping(kept, along: 3, of: depthwise), in: &graph)
                }
                if node.inputs.count > 2, let bias = graph.constantData(node.inputs[2]) {
                    replace(node.inputs[2], with: Self.keeping(kept, along: 0, of: bias), in: &graph)
                }
            }
            if case .reshape(let target) = node.op, let last = target.dimensions.last {
                graph.nodes[index].op = .reshape(Shape(target.dimensions.dropLast() + [last / channels * kept.count]))
            }
            values.append(node.outputs[0])
        }
        for value in values {
            var type = graph.type(of: value)
            let last = type.shape.dimensions.last ?? channels
            type.shape = Shape(type.shape.dimensions.dropLast() + [last / channels * kept.count])
            graph.values[value.index].type = type
        }
        // `M`: each unit's inputs at the kept channels, as `[units, nextRow]`, its last axis shrunk.
        let keptPositions = (0..<nextRow).filter { !gone.contains($0 % channels) }
        let flat = Self.keeping(keptPositions, along: 1, of: TensorData(nextValues, shape: [units, nextRow]))
        let nextLast = next.shape.dimensions.last ?? channels
        replace(
            consumer.inputs[1],
            with: flat.reshaped(Shape(next.shape.dimensions.dropLast() + [nextLast / channels * kept.count])), in: &graph)
    }

    /// Replaces constant `value`'s data and type.
    private func replace(_ value: ValueID, with data: TensorData, in graph: inout Graph) {
        graph.constants[value] = .data(data)
        graph.values[value.index].type.shape = data.shape
    }

    /// `data` with only the entries `kept` along `axis`.
    static func keeping(_ kept: [Int], along axis: Int, of data: TensorData) -> TensorData {
        let shape = data.shape.dimensions
        let inner = shape[(axis + 1)...].reduce(1, *)
        let outer = shape[..<axis].reduce(1, *)
        let size = data.bytes.count / max(data.elementCount, 1)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(outer * kept.count * inner * size)
        for block in 0..<outer {
            for index in kept {
                let start = ((block * shape[axis] + index) * inner) * size
                bytes += data.bytes[start..<(start + inner * size)]
            }
        }
        var newShape = shape
        newShape[axis] = kept.count
        return TensorData(dtype: data.dtype, shape: Shape(newShape), bytes: bytes)
    }
}
