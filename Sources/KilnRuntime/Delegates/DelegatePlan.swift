/// Where a compiled model's layers run: the placement the compiler chose at build time, the
/// order in which CPU pieces and delegate partitions run, and the delegate's payload.
///
/// Stored in the artifact's metadata; the artifact always holds CPU code for the whole model as
/// well, so a model whose delegate cannot start runs entirely on the CPU.
public struct DelegatePlan: Codable, Hashable, Sendable {
    /// Whether loading must fail rather than fall back to the CPU when the delegate cannot start.
    public var isRequired: Bool
    /// Each layer's placement, in execution order.
    public var placement: [LayerPlacement]
    /// The pieces a run executes in order.
    public var schedule: [ScheduleStep]
    /// The OpenCL delegate's kernels, buffers and transfers.
    public var openCL: OpenCLProgram

    /// Creates a plan from all of its parts.
    public init(isRequired: Bool, placement: [LayerPlacement], schedule: [ScheduleStep], openCL: OpenCLProgram) {
        self.isRequired = isRequired
        self.placement = placement
        self.schedule = schedule
        self.openCL = openCL
    }

    /// The number of delegate partitions.
    public var partitionCount: Int { openCL.partitions.count }
}

/// A processor a layer runs on.
public enum Processor: String, Codable, Hashable, Sendable {
    /// The generated CPU code.
    case cpu
    /// The OpenCL delegate.
    case openCL = "opencl"
}

/// Where one layer runs and, for a layer left on the CPU, why.
public struct LayerPlacement: Codable, Hashable, Sendable {
    /// The layer's name in the compiled graph.
    public var layer: String
    /// The layer's operation, as `kiln inspect` names it.
    public var operation: String
    /// Where the layer runs.
    public var processor: Processor
    /// The delegate partition the layer belongs to; `nil` on the CPU.
    public var partition: Int?
    /// Why the layer is not on the delegate ("dilation 2: not supported by opencl"); `nil` when it is.
    public var reason: String?

    /// Creates a placement.
    public init(layer: String, operation: String, processor: Processor, partition: Int? = nil, reason: String? = nil) {
        self.layer = layer
        self.operation = operation
        self.processor = processor
        self.partition = partition
        self.reason = reason
    }
}

/// One piece of a run: a range of layers in the CPU code, or a delegate partition.
public enum ScheduleStep: Codable, Hashable, Sendable {
    /// Layers `begin..<end` (graph node indices) of the CPU code.
    case cpu(begin: Int, end: Int)
    /// Delegate partition `partition`.
    case delegate(partition: Int)
}
