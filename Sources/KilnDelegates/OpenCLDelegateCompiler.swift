import KilnIR
import KilnRuntime

/// Compiles the delegated partitions of a graph into an ``OpenCLProgram``: the kernels' source,
/// one device buffer per value (a reshape shares its operand's), weights packed into one blob the
/// artifact's library exports, and per partition the copies its boundary needs.
public struct OpenCLDelegateCompiler {
    /// An error in a graph the delegate was asked to compile.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    /// The graph, optimized and memory-planned, as the CPU code was generated from it.
    public let graph: Graph

    /// Creates a compiler for `graph`.
    public init(graph: Graph) {
        self.graph = graph
    }

    /// The plan for `partitioning` of ``graph``, with the bytes to export as `constantsSymbol`.
    ///
    /// With `halfStorage`, float weights and the float tensors that never leave the device are
    /// stored in half precision (computed in float32); tensors copied to or from the host stay float32.
    public func compile(
        _ partitioning: DelegatePartitioner.Result, isRequired: Bool, constantsSymbol: String, halfStorage: Bool = false
    ) throws -> (plan: DelegatePlan, constants: [UInt8]) {
        guard let memoryPlan = graph.memoryPlan else {
            throw Failure(description: "internal error: the OpenCL delegate needs the memory plan")
        }
        var writer = OpenCLKernelWriter(graph: graph)
        if halfStorage { writer.halfValues = halfPrecisionValues(partitioning) }
        var buffers: [OpenCLProgram.Buffer] = []
        var constants: [UInt8] = []
        var bufferOf: [ValueID: Int] = [:]
        /// A read-only buffer holding `bytes`, placed in the constants on a 64-byte boundary.
        func constantBuffer(_ bytes: [UInt8]) -> Int {
            constants.append(contentsOf: [UInt8](repeating: 0, count: (64 - constants.count % 64) % 64))
            buffers.append(OpenCLProgram.Buffer(byteCount: bytes.count, constantOffset: constants.count))
            constants.append(contentsOf: bytes)
            return buffers.count - 1
        }
        func buffer(for value: ValueID) throws -> Int {
            if let existing = bufferOf[value] { return existing }
            if graph.isConstant(value) {
                guard let data = graph.constantData(value) else {
                    throw Failure(description: "internal error: constant '\(graph[value].name)' has no data")
                }
                let stored = writer.storesHalf(value) ? TensorData(float16: data.floats(), shape: data.shape) : data
                bufferOf[value] = constantBuffer(stored.bytes)
            } else {
                let type = graph.type(of: value)
                let byteCount = writer.storesHalf(value) ? 2 * type.shape.elementCount : type.byteCount
                buffers.append(OpenCLProgram.Buffer(byteCount: byteCount))
                bufferOf[value] = buffers.count - 1
            }
            return bufferOf[value] ?? 0
        }
        var channelsLastBufferOf: [ValueID: Int] = [:]
        func buffer(for argument: OpenCLKernelWriter.Argument) throws -> Int {
            switch argument {
            case .value(let value): return try buffer(for: value)
            case .table(let bytes): return constantBuffer(bytes)
            case .channelsLastFilter(let value):
                if let existing = channelsLastBufferOf[value] { return existing }
                guard let data = graph.constantData(value) else {
                    throw Failure(description: "internal error: filter '\(graph[value].name)' is not a constant")
                }
                let stored = writer.storesHalf(value) ? TensorData(float16: data.floats(), shape: data.shape) : data
                let created = constantBuffer(Self.channelsLast(stored))
                channelsLastBufferOf[value] = created
                return created
            }
        }
        // Where the CPU code keeps a value: the same order of precedence as its code generator.
        func hostLocation(of value: ValueID) throws -> OpenCLProgram.HostLocation {
            if let input = graph.inputs.firstIndex(of: value) { return .input(input) }
            if let output = graph.outputs.firstIndex(of: value) { return .output(output) }
            if let offset = memoryPlan.offsets[value] { return .arena(offset) }
            throw Failure(description: "internal error: '\(graph[value].name)' has no place on the host")
        }

        let consumers = graph.consumers()
        let outputs = Set(graph.outputs)
        let onCPU = Set(partitioning.placement.indices.filter { partitioning.placement[$0].processor == .cpu })
        var resident = Set<ValueID>()
        var sources: [String] = []
        var partitions: [OpenCLProgram.Partition] = []
        for run in partitioning.partitions {
            var partition = OpenCLProgram.Partition(uploads: [], launches: [], downloads: [])
            for index in run {
                let node = graph.nodes[index]
                for input in node.inputs where !graph.isConstant(input) && !resident.contains(input) {
                    partition.uploads.append(.init(buffer: try buffer(for: input), location: try hostLocation(of: input)))
                    resident.insert(input)
                }
                if let kernel = writer.kernel(for: index) {
                    sources.append(kernel.source)
                    partition.launches.append(
                        .init(
                            kernel: kernel.name, buffers: try kernel.arguments.map(buffer(for:)), globalSize: kernel.globalSize,
                            layer: index))
                } else if case .reshape = node.op {
                    // The same bytes under another shape: the result shares its operand's buffer.
                    bufferOf[node.outputs[0]] = try buffer(for: node.inputs[0])
                } else {
                    throw Failure(description: "internal error: no OpenCL kernel for '\(node.name)' (\(node.op.kindName))")
                }
                resident.formUnion(node.outputs)
            }
            for index in run {
                for value in graph.nodes[index].outputs
                where outputs.contains(value) || (consumers[value] ?? []).contains(where: onCPU.contains) {
                    partition.downloads.append(.init(buffer: try buffer(for: value), location: try hostLocation(of: value)))
                }
            }
            partitions.append(partition)
        }
        let fp16 = halfStorage ? " Float tensors inside partitions and float weights are stored as half." : ""
        let source =
            "// Generated by Kiln: the OpenCL delegate's kernels for model '\(graph.name)'.\(fp16) Do not edit.\n"
            // Sums follow the CPU kernels' order and fma where they use it; no other contraction.
            + "#pragma OPENCL FP_CONTRACT OFF\n" + OpenCLKernelWriter.prelude + "\n\n" + sources.joined(separator: "\n\n") + "\n"
        let program = OpenCLProgram(
            source: source, constantsSymbol: constantsSymbol, constantsByteCount: constants.count, buffers: buffers,
            partitions: partitions
        ).planningDeviceMemory()
        let plan = DelegatePlan(
            isRequired: isRequired, placement: partitioning.placement, schedule: partitioning.schedule, openCL: program)
        return (plan, constants)
    }

    /// The bytes of an `[O, …]` filter reordered as `[…, O]`.
    static func channelsLast(_ data: TensorData) -> [UInt8] {
        let channels = max(data.shape.first ?? 1, 1)
        let size = data.bytes.count / max(data.elementCount, 1)
        let inner = data.elementCount / channels
        var bytes = [UInt8](repeating: 0, count: data.bytes.count)
        for channel in 0..<channels {
            for position in 0..<inner {
                let from = (channel * inner + position) * size
                let to = (position * channels + channel) * size
                bytes[to..<(to + size)] = data.bytes[from..<(from + size)]
            }
        }
        return bytes
    }

    /// The float values of delegated nodes that never cross to the host: weights, and results
    /// read only on the device. A reshape shares its operand's buffer, so both sides of one take
    /// the same storage.
    func halfPrecisionValues(_ partitioning: DelegatePartitioner.Result) -> Set<ValueID> {
        let delegated = Set(partitioning.partitions.joined())
        var host = Set(graph.inputs).union(graph.outputs)
        for (index, node) in graph.nodes.enumerated() where !delegated.contains(index) {
            host.formUnion(node.inputs)
            host.formUnion(node.outputs)
        }
        let reshapes = delegated.map { graph.nodes[$0] }.filter { if case .reshape = $0.op { true } else { false } }
        var changed = true
        while changed {
            changed = false
            for node in reshapes where host.contains(node.inputs[0]) != host.contains(node.outputs[0]) {
                host.formUnion([node.inputs[0], node.outputs[0]])
                changed = true
            }
        }
        var half = Set<ValueID>()
        for index in delegated {
            for value in graph.nodes[index].inputs + graph.nodes[index].outputs
            where graph.type(of: value).dtype == .float32 && !host.contains(value) {
                half.insert(value)
            }
        }
        return half
    }
}
