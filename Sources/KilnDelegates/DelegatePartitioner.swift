import KilnIR
import KilnRuntime

/// Splits a graph between a delegate and the CPU at build time: each node the delegate supports
/// goes to it unless it is fused on the CPU with one it does not; runs of delegated nodes in
/// execution order become partitions; and a partition whose arithmetic does not pay for its
/// transfers and kernel launches stays on the CPU (unless the cost is to be ignored).
public struct DelegatePartitioner {
    /// The graph being split.
    public let graph: Graph
    /// The delegate's name in reasons ("opencl").
    public let delegate: String
    /// Why the delegate cannot run a node, or `nil` when it can.
    public let unsupported: (Node) -> String?
    /// Groups of node indices the CPU code runs as one (a layer and the residual add it writes),
    /// which must be placed together.
    public let fusedGroups: [[Int]]
    /// Whether every supported piece goes to the delegate whatever it costs.
    public let ignoresCost: Bool

    /// Multiply-accumulates per byte crossing between host and device below which a partition
    /// stays on the CPU: under that, the copies cost more than the device could save.
    public static let minimumArithmeticIntensity = 4

    /// Multiply-accumulates a partition needs to pay for running on the device at all: a run
    /// waits for the device once per partition (about 50 µs on mobile GPU drivers), in which one
    /// CPU core does about this much work (10 G multiply-adds/s).
    public static let minimumArithmeticPerPartition = 500_000

    /// Multiply-accumulates each kernel launch adds to that (about 10 µs to enqueue and dispatch).
    public static let minimumArithmeticPerLaunch = 100_000

    /// Creates a partitioner.
    public init(
        graph: Graph, delegate: String, fusedGroups: [[Int]] = [], ignoresCost: Bool = false,
        unsupported: @escaping (Node) -> String?
    ) {
        self.graph = graph
        self.delegate = delegate
        self.unsupported = unsupported
        self.fusedGroups = fusedGroups
        self.ignoresCost = ignoresCost
    }

    /// The result: each node's placement, the partitions (node indices, in order) and the schedule.
    public struct Result {
        /// One placement per node, in execution order.
        public var placement: [LayerPlacement]
        /// Each partition's nodes, in execution order.
        public var partitions: [[Int]]
        /// The pieces a run executes in order.
        public var schedule: [ScheduleStep]
    }

    /// Places every node.
    public func partition() -> Result {
        let nodes = graph.nodes
        var reasons = nodes.map(unsupported)
        for group in fusedGroups {
            guard let blocker = group.first(where: { reasons[$0] != nil }) else { continue }
            for member in group where reasons[member] == nil {
                reasons[member] =
                    "\(nodes[member].op.kindName): runs fused with '\(nodes[blocker].name)' on the CPU, which \(delegate) does not take"
            }
        }
        var partitions = runs(of: reasons.map { $0 == nil })
        if !ignoresCost {
            partitions = partitions.filter { run in
                let arithmetic = arithmetic(of: run)
                let bytes = transferredBytes(of: run)
                let launches = launches(in: run)
                if arithmetic / max(bytes, 1) >= Self.minimumArithmeticIntensity,
                    arithmetic >= Self.minimumArithmeticPerPartition + launches * Self.minimumArithmeticPerLaunch
                {
                    return true
                }
                for index in run {
                    reasons[index] =
                        "\(nodes[index].op.kindName): kept on the CPU with its piece of \(run.count) layer\(run.count == 1 ? "" : "s"),"
                        + " whose arithmetic (\(arithmetic) multiply-adds) does not pay for copying \(bytes) bytes"
                        + " to and from the device and launching \(launches) kernel\(launches == 1 ? "" : "s")"
                }
                return false
            }
        }
        var partitionOf: [Int: Int] = [:]
        for (number, run) in partitions.enumerated() { for index in run { partitionOf[index] = number } }
        let placement = nodes.indices.map { index in
            LayerPlacement(
                layer: nodes[index].name, operation: nodes[index].op.kindName,
                processor: partitionOf[index] == nil ? .cpu : .openCL, partition: partitionOf[index],
                reason: partitionOf[index] == nil ? reasons[index] : nil)
        }
        var schedule: [ScheduleStep] = []
        var begin = 0
        for (number, run) in partitions.enumerated() {
            if begin < run[0] { schedule.append(.cpu(begin: begin, end: run[0])) }
            schedule.append(.delegate(partition: number))
            begin = run[run.count - 1] + 1
        }
        // The CPU piece that reaches the end also copies outputs no node writes.
        if begin < nodes.count || schedule.isEmpty || Self.hasUnproducedOutputs(graph) {
            schedule.append(.cpu(begin: begin, end: nodes.count))
        }
        return Result(placement: placement, partitions: partitions, schedule: schedule)
    }

    /// Whether some output is an input or constant that no node writes.
    static func hasUnproducedOutputs(_ graph: Graph) -> Bool {
        let produced = Set(graph.nodes.flatMap(\.outputs))
        return graph.outputs.contains { !produced.contains($0) }
    }

    /// The maximal runs of consecutive `true` positions.
    private func runs(of delegated: [Bool]) -> [[Int]] {
        var runs: [[Int]] = []
        var current: [Int] = []
        for (index, onDelegate) in delegated.enumerated() {
            if onDelegate {
                current.append(index)
            } else if !current.isEmpty {
                runs.append(current)
                current = []
            }
        }
        if !current.isEmpty { runs.append(current) }
        return runs
    }

    /// The kernels `run` launches: one per node but reshapes, which share their operand's buffer.
    func launches(in run: [Int]) -> Int {
        run.filter { if case .reshape = graph.nodes[$0].op { false } else { true } }.count
    }

    /// A rough count of the multiply-adds of `run`: filters' work for layers, one per element otherwise.
    func arithmetic(of run: [Int]) -> Int {
        run.reduce(0) { total, index in
            let node = graph.nodes[index]
            let outputs = graph.type(of: node.outputs[0]).shape.elementCount
            switch node.op {
            case .fullyConnected:
                return total + outputs * graph.type(of: node.inputs[1]).shape[1]
            case .conv2D:
                let filter = graph.type(of: node.inputs[1]).shape
                return total + outputs * filter[1] * filter[2] * filter[3]
            case .depthwiseConv2D:
                let filter = graph.type(of: node.inputs[1]).shape
                return total + outputs * filter[1] * filter[2]
            case .batchMatMul(let adjointA, _):
                let a = graph.type(of: node.inputs[0]).shape
                return total + outputs * (adjointA ? a[a.rank - 2] : a[a.rank - 1])
            case .reshape:
                return total
            default:
                return total + max(outputs, graph.type(of: node.inputs[0]).shape.elementCount)
            }
        }
    }

    /// The bytes copied to the device (values the run reads from outside it) and back (values it
    /// writes that outside readers or the model's outputs need).
    func transferredBytes(of run: [Int]) -> Int {
        let inside = Set(run)
        let producedInside = Set(run.flatMap { graph.nodes[$0].outputs })
        let consumers = graph.consumers()
        let outputs = Set(graph.outputs)
        var bytes = 0
        var counted = Set<ValueID>()
        for index in run {
            for input in graph.nodes[index].inputs
            where !graph.isConstant(input) && !producedInside.contains(input) && counted.insert(input).inserted {
                bytes += graph.type(of: input).byteCount
            }
        }
        for value in producedInside
        where outputs.contains(value) || (consumers[value] ?? []).contains(where: { !inside.contains($0) }) {
            bytes += graph.type(of: value).byteCount
        }
        return bytes
    }
}
