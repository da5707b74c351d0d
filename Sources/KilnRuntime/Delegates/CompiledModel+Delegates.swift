/// Which processors a loaded model may use.
public enum DelegateSelection: Sendable, Hashable {
    /// The artifact's delegate when it starts, else the CPU (unless the artifact requires it).
    case automatic
    /// The CPU only, whatever the artifact holds.
    case cpu
    /// The artifact's delegate; loading fails if the model has none or it cannot start.
    case required
}

extension CompiledModel {
    /// The signature of `ENTRY_nodes`, which runs layers `begin..<end` on the CPU:
    /// `void ENTRY_nodes(void *arena, const void *const *inputs, void *const *outputs, int64_t begin, int64_t end)`.
    typealias NodesEntryPoint =
        @convention(c) (
            UnsafeMutableRawPointer?, UnsafePointer<UnsafeRawPointer?>?, UnsafePointer<UnsafeMutableRawPointer?>?,
            Int64, Int64
        ) -> Void

    /// `ENTRY_nodes_parallel`: ``NodesEntryPoint``'s parameters with the pool and `parallel_for`
    /// between the pointer tables and the range.
    typealias ParallelNodesEntryPoint =
        @convention(c) (
            UnsafeMutableRawPointer?, UnsafePointer<UnsafeRawPointer?>?, UnsafePointer<UnsafeMutableRawPointer?>?,
            UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int64, Int64
        ) -> Void

    /// A started delegate with the CPU code that runs the pieces between its partitions.
    struct Delegated {
        var plan: DelegatePlan
        var delegate: OpenCLDelegate
        var nodes: NodesEntryPoint
        /// The multi-threaded range entry, when the model has split layers and runs on a pool.
        var parallelNodes: ParallelNodesEntryPoint?
    }

    /// The symbol of the range entry point for an entry point named `entryPoint`.
    public static func nodesEntryPoint(_ entryPoint: String) -> String { entryPoint + "_nodes" }

    /// The symbol of the multi-threaded range entry point, present when the model has split layers.
    public static func parallelNodesEntryPoint(_ entryPoint: String) -> String { entryPoint + "_nodes_parallel" }

    /// Starts the delegate `metadata` plans for, working in `arena`, per `selection`: the delegate and the placement, or
    /// `nil` and the all-CPU placement with the reason; throws when the delegate is required.
    static func startDelegate(
        for metadata: ArtifactMetadata, library: DynamicLibrary, selection: DelegateSelection, threaded: Bool,
        arena: UnsafeMutableRawPointer, source: String
    ) throws -> (Delegated?, [LayerPlacement]) {
        guard let plan = metadata.delegatePlan else {
            if selection == .required {
                throw RuntimeError(
                    "'\(source)' (model '\(metadata.modelName)') was compiled without a delegate;"
                        + " recompile it with one (kiln compile --delegate opencl) or load it for the CPU")
            }
            return (nil, [])
        }
        func cpuPlacement(_ reason: String) -> [LayerPlacement] {
            plan.placement.map { layer in
                LayerPlacement(
                    layer: layer.layer, operation: layer.operation, processor: .cpu,
                    reason: layer.processor == .cpu ? layer.reason : reason)
            }
        }
        if let problem = plan.problem(for: metadata) {
            throw RuntimeError(
                "'\(source)' (model '\(metadata.modelName)') has a damaged delegate plan (\(problem)); recompile it")
        }
        if selection == .cpu { return (nil, cpuPlacement("the CPU was selected when loading")) }
        let damaged = { (symbol: String) in
            { (reason: String) in
                RuntimeError(
                    "'\(source)' (model '\(metadata.modelName)') does not export '\(symbol)' (\(reason));"
                        + " the artifact is damaged, recompile it")
            }
        }
        let nodesSymbol = nodesEntryPoint(metadata.entryPoint)
        let nodes = try library.address(of: nodesSymbol, describe: damaged(nodesSymbol))
        var parallelNodes: ParallelNodesEntryPoint?
        if threaded, metadata.parallelEntryPoint != nil {
            let symbol = parallelNodesEntryPoint(metadata.entryPoint)
            parallelNodes = unsafeBitCast(
                try library.address(of: symbol, describe: damaged(symbol)), to: ParallelNodesEntryPoint.self)
        }
        let constants = try library.address(of: plan.openCL.constantsSymbol, describe: damaged(plan.openCL.constantsSymbol))
        do {
            let delegate = try OpenCLDelegate(
                program: plan.openCL, constants: constants, arena: arena, profiledLayers: metadata.profiledLayers?.count)
            let delegated = Delegated(
                plan: plan, delegate: delegate, nodes: unsafeBitCast(nodes, to: NodesEntryPoint.self),
                parallelNodes: parallelNodes)
            return (delegated, plan.placement)
        } catch let error as OpenCLError {
            if plan.isRequired || selection == .required {
                throw RuntimeError(
                    "model '\(metadata.modelName)' ('\(source)') requires the OpenCL delegate, which cannot start: \(error)")
            }
            return (nil, cpuPlacement("\(error)"))
        }
    }

    /// Runs the delegated model's schedule on the buffers in the pointer tables.
    func runSchedule(_ delegated: Delegated) throws {
        for step in delegated.plan.schedule {
            switch step {
            case .cpu(let begin, let end):
                if let parallelNodes = delegated.parallelNodes, let parallel {
                    parallelNodes(
                        arena, UnsafePointer(inputTable), UnsafePointer(outputTable),
                        Unmanaged.passUnretained(parallel.pool).toOpaque(), Self.parallelFor, Int64(begin), Int64(end))
                } else {
                    delegated.nodes(arena, UnsafePointer(inputTable), UnsafePointer(outputTable), Int64(begin), Int64(end))
                }
            case .delegate(let partition):
                do {
                    try delegated.delegate.run(
                        partition: partition, arena: arena, inputs: UnsafePointer(inputTable),
                        outputs: UnsafePointer(outputTable))
                } catch {
                    throw RuntimeError("model '\(metadata.modelName)' failed on the OpenCL delegate: \(error)")
                }
            }
        }
    }
}
