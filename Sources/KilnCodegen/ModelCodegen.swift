import KilnIR

/// Generates native code for a whole model: one LLVM function that runs every
/// node on a caller-provided arena, with weights as constants in the module.
///
/// The entry point has the C signature
/// `void kiln_run(void *arena, const void *const *inputs, void *const *outputs)`.
/// Each node becomes an internal function whose pointer parameters are
/// `noalias` (the memory plan guarantees it); LLVM inlines them into the entry.
///
/// ```swift
/// let codegen = ModelCodegen(target: try TargetMachine.host())
/// let object = try codegen.emitObject(for: optimizedGraph)
/// ```
public struct ModelCodegen {
    /// The CPU the code is generated for.
    public let target: TargetMachine
    /// The exported symbol of the entry point.
    public let entryPoint: String

    /// Whether the entry point counts each node's CPU cycles into the exported
    /// array ``layerCyclesSymbol(entryPoint:)`` (one `UInt64` per node, in node order).
    public var profilesLayers: Bool

    /// Whether the module also exports ``nodesEntryPoint(_:)``, which runs a range of nodes: the
    /// CPU pieces of a model whose other nodes run on a delegate.
    public var emitsNodeRanges: Bool
    /// Read-only bytes exported under a symbol of their own (a delegate's weights).
    public var exportedData: [(symbol: String, bytes: [UInt8])]

    /// Creates a code generator for `target`.
    public init(
        target: TargetMachine, entryPoint: String = "kiln_run", profilesLayers: Bool = false, emitsNodeRanges: Bool = false,
        exportedData: [(symbol: String, bytes: [UInt8])] = []
    ) {
        self.target = target
        self.entryPoint = entryPoint
        self.profilesLayers = profilesLayers
        self.emitsNodeRanges = emitsNodeRanges
        self.exportedData = exportedData
    }

    /// The exported symbol that runs nodes `begin..<end` of the graph:
    /// `void NAME_nodes(void *arena, const void *const *inputs, void *const *outputs, int64_t begin, int64_t end)`;
    /// outputs that no node writes are copied when `end` reaches the last node.
    public static func nodesEntryPoint(_ entryPoint: String) -> String { entryPoint + "_nodes" }

    /// The multi-threaded ``nodesEntryPoint(_:)``, exported when some layer is split among threads:
    /// `void NAME_nodes_parallel(void *arena, const void *const *inputs, void *const *outputs, void *pool,
    /// void (*parallel_for)(…), int64_t begin, int64_t end)`.
    public static func parallelNodesEntryPoint(_ entryPoint: String) -> String { entryPoint + "_nodes_parallel" }

    /// The symbol of a profiled model's per-node cycle counters.
    public static func layerCyclesSymbol(entryPoint: String) -> String { entryPoint + "_layer_cycles" }

    /// Compiles `graph` (constants loaded, memory planned) to an object file.
    ///
    /// With `exportedMetadata`, the object also exports a function of that name
    /// returning the NUL-terminated text, for code that links the object statically.
    public func emitObject(for graph: Graph, exportedMetadata: (symbol: String, text: String)? = nil) throws -> [UInt8] {
        let module = try emitModule(for: graph, exportedMetadata: exportedMetadata)
        try target.optimize(module)
        return try target.emitObject(module)
    }

    /// The optimized LLVM IR of `graph`, for inspection.
    public func emitIR(for graph: Graph, optimized: Bool = true) throws -> String {
        let module = try emitModule(for: graph)
        if optimized { try target.optimize(module) }
        return module.textualIR
    }

    /// The optimized assembly of `graph`, for inspection or for assembling elsewhere.
    public func emitAssembly(for graph: Graph, exportedMetadata: (symbol: String, text: String)? = nil) throws -> String {
        let module = try emitModule(for: graph, exportedMetadata: exportedMetadata)
        try target.optimize(module)
        return try target.emitAssembly(module)
    }

    /// The exported symbol of the multi-threaded entry point, for an entry point named `entryPoint`.
    public static func parallelEntryPoint(_ entryPoint: String) -> String { entryPoint + "_parallel" }

    /// Whether code generated for `graph` at `isa` has a multi-threaded entry point: whether
    /// some layer's work is split among threads (``KernelChoice/split``).
    public static func hasParallelEntryPoint(_ graph: Graph, isa: ISALevel) -> Bool {
        KernelPlan(graph: graph, isa: isa).choices.contains { $0.split != nil && $0.band == nil }
            || graph.bandedChains.contains { KernelPlan.isParallel($0, in: graph) }
    }

    /// One node's call (or a banded chain's, at its depthwise layer): its function and the values
    /// of its pointer parameters.
    private struct NodeCall {
        var index: Int
        var function: IRValue
        var type: IRType
        var values: [ValueID]
        /// How threads share the call's work; `nil` when one thread makes it.
        var split: KernelChoice.RowSplit?
        /// With a range parameter: the positions a whole call covers.
        var units: Int?
        /// Nodes whose cycles the function counts itself (a chain's layers, on the caller's piece):
        /// the call's own count gets only the time they leave out (waiting for other threads).
        var countedInside: [Int] = []
    }

    /// Builds and verifies the unoptimized module.
    ///
    /// Every node becomes one internal function; the serial entry point calls each in turn, a
    /// split layer (``KernelChoice/split``) with all its rows. Where some layer is split, a second
    /// entry point, ``parallelEntryPoint(_:)``, hands each split layer's rows to the runtime's
    /// `parallel_for` instead:
    /// `void NAME_parallel(void *arena, const void *const *inputs, void *const *outputs, void *pool,
    /// void (*parallel_for)(void *pool, void (*task)(void *context, int64_t begin, int64_t end),
    /// void *context, int64_t units, int64_t granularity))`, where `task` computes rows
    /// `begin..<end` from the pointers in `context`. Both entry points then call one internal
    /// `NAME_body` with the same parameters, which runs split layers whole when the pool is null.
    /// Static objects keep the serial entry, which needs no runtime.
    func emitModule(for graph: Graph, exportedMetadata: (symbol: String, text: String)? = nil) throws -> IRModule {
        guard let plan = graph.memoryPlan else {
            throw CodegenError("the graph has no memory plan; run the 'plan-memory' pass before code generation")
        }
        let ir = try IRModule(name: graph.name)
        ir.setTarget(target)
        let bytePointer = ir.pointer(to: ir.i8)
        let pointerArray = ir.pointer(to: bytePointer)
        let entryType = ir.functionType(returning: ir.void, parameters: [bytePointer, pointerArray, pointerArray])
        let entry = ir.addFunction(name: entryPoint, type: entryType, linkage: .external)
        configure(entry, ir: ir)
        let body = ir.appendBlock("entry", to: entry)
        ir.position(at: body)

        var emitted = ConstantGlobals()
        /// The pointer of output `index` among an entry point's `outputs` parameter.
        func outputPointer(_ index: Int, of entry: IRValue) -> IRValue {
            ir.load(bytePointer, from: ir.gep(bytePointer, ir.parameter(entry, 2), [ir.constant(index, ir.i64)]), alignment: 8)
        }
        // Where `value` is read from or written to. An input or constant that is
        // also an output is read from where it lives; the output gets a copy below.
        func pointer(to value: ValueID, in entry: IRValue) throws -> IRValue {
            if let index = graph.inputs.firstIndex(of: value) {
                return ir.load(
                    bytePointer, from: ir.gep(bytePointer, ir.parameter(entry, 1), [ir.constant(index, ir.i64)]), alignment: 8)
            }
            if graph.isConstant(value) { return ir.bitcast(try emitted.global(for: value, in: graph, ir: ir), to: bytePointer) }
            if let index = graph.outputs.firstIndex(of: value) { return outputPointer(index, of: entry) }
            if let offset = plan.offsets[value] {
                return ir.gep(ir.i8, ir.parameter(entry, 0), [ir.constant(offset, ir.i64)])
            }
            throw CodegenError("internal error: \(value) '\(graph[value].name)' has no storage")
        }

        let kernels = KernelPlan(graph: graph, isa: target.isaLevel)
        // Profiling: the time-stamp counter read around each node, summed per node across runs.
        let profile = profilesLayers
            ? (
                counters: ir.addZeroedGlobal(
                    name: Self.layerCyclesSymbol(entryPoint: entryPoint), byteCount: 8 * max(graph.nodes.count, 1),
                    alignment: 64),
                clock: ir.intrinsic("llvm.readcyclecounter", overloads: [], returning: ir.i64, parameters: [])
            ) : nil
        var calls: [NodeCall] = []
        /// Chain layers' functions and pointer values, until the chain's call is made.
        var bandLayers: [Int: (layer: BandedChainFunction.Layer, values: [ValueID])] = [:]
        for (index, node) in graph.nodes.enumerated() {
            let choice = kernels.choices[index]
            if choice.emitsNothing { continue }
            var operands = try NodeOperands(node: node, graph: graph)
            if case .dynamicRangeGEMMVNNI(let rounding, _) = choice.kernel {
                operands.bufferOperands[0] = graph.nodes[rounding].inputs[0]
            }
            var results = node.outputs
            if let add = choice.residualAdd {
                // The layer reads the add's other operand and writes the add's result.
                operands.residual = graph.nodes[add].inputs.first { $0 != node.outputs[0] }
                results = graph.nodes[add].outputs
            }
            let function = try NodeFunction.emit(
                node: node, index: index, choice: choice, operands: operands, graph: graph, ir: ir,
                isa: kernels.isa, configure: { configure($0, ir: ir) })
            if let chain = choice.band {
                let banded: Bool
                switch choice.kernel {
                case .gemm, .sparseGEMM, .gemmVNNI, .gemmPairwise: banded = index != chain.depthwise
                case .depthwise, .depthwisePairwise: banded = index == chain.depthwise
                default: banded = false
                }
                guard banded else {
                    throw CodegenError("internal error: layer '\(node.name)' of a banded chain has no banded kernel ('\(choice.name)')")
                }
                bandLayers[index] = (function, operands.pointerOperands + results)
                if index == chain.project {
                    calls.append(try chainCall(chain, layers: bandLayers, ir: ir, profile: profile, graph: graph))
                }
                continue
            }
            calls.append(
                NodeCall(
                    index: index, function: function.function, type: function.type,
                    values: operands.pointerOperands + results, split: choice.split, units: choice.split?.units))
        }

        // A split layer's task for `parallel_for`: its pointers from the context, then its rows.
        let taskType = ir.functionType(returning: ir.void, parameters: [bytePointer, ir.i64, ir.i64])
        let parallelForType = ir.functionType(
            returning: ir.void, parameters: [bytePointer, ir.pointer(to: taskType), bytePointer, ir.i64, ir.i64])
        func task(for call: NodeCall) -> IRValue {
            let task = ir.addFunction(name: "task\(call.index)", type: taskType, linkage: .internal)
            configure(task, ir: ir)
            let caller = ir.insertBlock
            ir.position(at: ir.appendBlock("entry", to: task))
            let context = ir.bitcast(ir.parameter(task, 0), to: pointerArray)
            let pointers = call.values.indices.map {
                ir.load(bytePointer, from: ir.gep(bytePointer, context, [ir.constant($0, ir.i64)]), alignment: 8)
            }
            ir.call(call.function, type: call.type, pointers + [ir.parameter(task, 1), ir.parameter(task, 2)])
            ir.returnVoid()
            ir.position(at: caller)
            return task
        }

        /// Calls every node from `entry`; with `parallel` (the pool, `parallel_for` and a context
        /// array of pointers), split layers go through `parallel_for`; with `range`, only the nodes
        /// whose index lies in `begin..<end`, and the copies of outputs no node writes only when
        /// `end` reaches the node count.
        /// With `poolMayBeNull`, a split layer goes to `parallel_for` only when the pool is not null,
        /// and otherwise runs all its rows in place.
        func emitCalls(
            in entry: IRValue, block: IRBlock, parallel: (pool: IRValue, run: IRValue, context: IRValue)?,
            range: (begin: IRValue, end: IRValue)? = nil, poolMayBeNull: Bool = false
        ) throws {
            /// Branches around what `body` emits unless `condition` holds.
            func guarded(by condition: IRValue?, _ name: String, _ body: () throws -> Void) rethrows {
                guard let condition else { return try body() }
                let run = ir.appendBlock("run_\(name)", to: entry)
                let next = ir.appendBlock("after_\(name)", to: entry)
                ir.conditionalBranch(condition, then: run, else: next)
                ir.position(at: run)
                try body()
                ir.branch(to: next)
                ir.position(at: next)
            }
            func emitCall(_ call: NodeCall) throws {
                var arguments: [IRValue] = []
                for value in call.values { arguments.append(try pointer(to: value, in: entry)) }
                // A range entry point is not profiled: only the whole-model entry counts cycles.
                let counting = range == nil ? profile : nil
                let countersBefore = counting.map { counted(call.countedInside, in: $0.counters, ir: ir) }
                let start = counting.map { ir.call($0.clock.function, type: $0.clock.type, []) }
                func callWhole() {
                    ir.call(call.function, type: call.type, arguments + [ir.constant(0, ir.i64), ir.constant(call.units ?? 0, ir.i64)])
                }
                if let split = call.split, let parallel {
                    let pooled = ir.appendBlock("pooled_\(call.index)", to: entry)
                    let whole = ir.appendBlock("whole_\(call.index)", to: entry)
                    let next = ir.appendBlock("after_split_\(call.index)", to: entry)
                    if poolMayBeNull {
                        ir.conditionalBranch(ir.icmp(.ne, parallel.pool, ir.zero(bytePointer)), then: pooled, else: whole)
                    } else {
                        ir.branch(to: pooled)
                    }
                    ir.position(at: pooled)
                    for (position, argument) in arguments.enumerated() {
                        ir.store(argument, to: ir.gep(bytePointer, parallel.context, [ir.constant(position, ir.i64)]), alignment: 8)
                    }
                    ir.call(
                        parallel.run, type: parallelForType,
                        [
                            parallel.pool, task(for: call), ir.bitcast(parallel.context, to: bytePointer),
                            ir.constant(split.units, ir.i64), ir.constant(split.granularity, ir.i64),
                        ])
                    ir.branch(to: next)
                    ir.position(at: whole)
                    if poolMayBeNull { callWhole() }
                    ir.branch(to: next)
                    ir.position(at: next)
                } else if call.units != nil {
                    callWhole()
                } else {
                    ir.call(call.function, type: call.type, arguments)
                }
                if let counting, let start, let countersBefore {
                    var elapsed = ir.sub(ir.call(counting.clock.function, type: counting.clock.type, []), start)
                    elapsed = ir.sub(elapsed, ir.sub(counted(call.countedInside, in: counting.counters, ir: ir), countersBefore))
                    let counter = ir.gep(ir.i64, counting.counters, [ir.constant(call.index, ir.i64)])
                    ir.store(ir.add(ir.load(ir.i64, from: counter, alignment: 8), elapsed), to: counter, alignment: 8)
                }
            }
            // Outputs that no node writes (an input or constant returned directly) are
            // copied byte for byte, whatever their element type.
            func copyUnproducedOutputs() throws {
                let produced = Set(graph.nodes.flatMap(\.outputs))
                for (index, output) in graph.outputs.enumerated() where !produced.contains(output) {
                    let emitter = KernelEmitter(ir: ir, laneWidth: target.isaLevel.laneWidth, entryBlock: block)
                    // A constant is copied from its bytes as stored: the kernels' global may be widened to f32.
                    let source =
                        graph.isConstant(output)
                        ? ir.bitcast(try emitted.storedBytes(for: output, in: graph, ir: ir), to: bytePointer)
                        : try pointer(to: output, in: entry)
                    LayoutKernels(emitter: emitter, elementType: ir.i8).emitCopy(
                        count: graph.type(of: output).byteCount, from: source, sourceBase: emitter.index(0),
                        to: outputPointer(index, of: entry), destinationBase: emitter.index(0))
                }
            }
            for call in calls {
                let position = ir.constant(call.index, ir.i64)
                let inside = range.map { ir.and(ir.icmp(.sle, $0.begin, position), ir.icmp(.sgt, $0.end, position)) }
                try guarded(by: inside, "\(call.index)") { try emitCall(call) }
            }
            let atEnd = range.map { ir.icmp(.sge, $0.end, ir.constant(graph.nodes.count, ir.i64)) }
            try guarded(by: atEnd, "outputs") { try copyUnproducedOutputs() }
            ir.returnVoid()
        }

        let splitCalls = calls.filter { $0.split != nil }
        /// A function `name(arena, inputs, outputs[, pool, parallel_for][, begin, end])` calling the nodes.
        func addCaller(_ name: String, threaded: Bool, ranged: Bool, linkage: Linkage = .external, poolMayBeNull: Bool = false) throws
            -> (function: IRValue, type: IRType)
        {
            let parameters =
                [bytePointer, pointerArray, pointerArray] + (threaded ? [bytePointer, bytePointer] : [])
                + (ranged ? [ir.i64, ir.i64] : [])
            let type = ir.functionType(returning: ir.void, parameters: parameters)
            let function = ir.addFunction(name: name, type: type, linkage: linkage)
            configure(function, ir: ir)
            let block = ir.appendBlock("entry", to: function)
            ir.position(at: block)
            var parallel: (pool: IRValue, run: IRValue, context: IRValue)?
            if threaded {
                let slots = splitCalls.map(\.values.count).max() ?? 1
                let context = ir.bitcast(ir.alloca(ir.array(bytePointer, slots)), to: pointerArray)
                let run = ir.bitcast(ir.parameter(function, 4), to: ir.pointer(to: parallelForType))
                parallel = (ir.parameter(function, 3), run, context)
            }
            let first = threaded ? 5 : 3
            try emitCalls(
                in: function, block: block, parallel: parallel,
                range: ranged ? (ir.parameter(function, first), ir.parameter(function, first + 1)) : nil, poolMayBeNull: poolMayBeNull)
            return (function, type)
        }
        if splitCalls.isEmpty {
            try emitCalls(in: entry, block: body, parallel: nil)
        } else {
            // The serial and the threaded entry point share one body that calls every node, and
            // hands split layers to `parallel_for` only when given a pool: were each entry point to
            // call the nodes itself, LLVM would inline every node into both, and a model of
            // thousands of small layers (an unrolled LSTM) would compile twice the code.
            let shared = try addCaller("\(entryPoint)_body", threaded: true, ranged: false, linkage: .internal, poolMayBeNull: true)
            ir.addAttribute("noinline", to: shared.function)
            ir.position(at: body)
            let null = ir.zero(bytePointer)
            ir.call(shared.function, type: shared.type, (0..<3).map { ir.parameter(entry, $0) } + [null, null])
            ir.returnVoid()
            let threaded = ir.addFunction(name: Self.parallelEntryPoint(entryPoint), type: shared.type, linkage: .external)
            configure(threaded, ir: ir)
            ir.position(at: ir.appendBlock("entry", to: threaded))
            ir.call(shared.function, type: shared.type, (0..<5).map { ir.parameter(threaded, $0) })
            ir.returnVoid()
        }
        func addEntry(_ name: String, threaded: Bool, ranged: Bool) throws { _ = try addCaller(name, threaded: threaded, ranged: ranged) }
        if emitsNodeRanges {
            try addEntry(Self.nodesEntryPoint(entryPoint), threaded: false, ranged: true)
            // With split layers handed to `parallel_for`, as the multi-threaded entry does.
            if !splitCalls.isEmpty { try addEntry(Self.parallelNodesEntryPoint(entryPoint), threaded: true, ranged: true) }
        }
        for data in exportedData {
            _ = ir.addConstantBytes(name: data.symbol, bytes: data.bytes, alignment: 64, exported: true)
        }
        if let exportedMetadata {
            // An accessor function rather than a data symbol: every language imports functions the same way.
            let text = ir.addConstantBytes(
                name: "\(exportedMetadata.symbol).text", bytes: Array(exportedMetadata.text.utf8) + [0], alignment: 1)
            let accessor = ir.addFunction(
                name: exportedMetadata.symbol, type: ir.functionType(returning: bytePointer, parameters: []),
                linkage: .external)
            ir.addAttribute("nounwind", to: accessor)
            ir.position(at: ir.appendBlock("entry", to: accessor))
            ir.return(ir.bitcast(text, to: bytePointer))
        }
        try ir.verify()
        return ir
    }

    /// The sum of `nodes`' cycle counters (0 for none).
    private func counted(_ nodes: [Int], in counters: IRValue, ir: IRModule) -> IRValue {
        nodes.reduce(ir.constant(0, ir.i64)) { sum, node in
            ir.add(sum, ir.load(ir.i64, from: ir.gep(ir.i64, counters, [ir.constant(node, ir.i64)]), alignment: 8))
        }
    }

    /// The call of banded chain `chain`, whose layers' functions and pointer values are in `layers`.
    private func chainCall(
        _ chain: BandedChain, layers: [Int: (layer: BandedChainFunction.Layer, values: [ValueID])], ir: IRModule,
        profile: (counters: IRValue, clock: (function: IRValue, type: IRType))?, graph: Graph
    ) throws -> NodeCall {
        guard let geometry = graph.bandGeometry(chain), let depthwise = layers[chain.depthwise],
            let project = layers[chain.project], chain.expand.map({ layers[$0] != nil }) ?? true
        else {
            throw CodegenError("internal error: the banded chain at node \(chain.depthwise) lost a layer")
        }
        let expand = chain.expand.flatMap { layers[$0] }
        // Pointers: the first layer's input, the intermediates' slots, the residual, the output.
        let values =
            [(expand ?? depthwise).values[0]] + (expand.map { [$0.values[1]] } ?? []) + [depthwise.values[1]]
            + project.values.dropFirst()
        let function = BandedChainFunction(
            chain: chain, geometry: geometry, expand: expand?.layer, depthwise: depthwise.layer, project: project.layer,
            hasResidual: project.values.count == 3, profile: profile
        ).emit(ir: ir, laneWidth: target.isaLevel.laneWidth, name: "chain\(chain.depthwise)") { configure($0, ir: ir) }
        let parallel = KernelPlan.isParallel(chain, in: graph)
        return NodeCall(
            index: chain.depthwise, function: function.function, type: function.type, values: values,
            split: parallel ? .init(units: chain.slots, granularity: 1) : nil, units: chain.slots,
            countedInside: profile == nil ? [] : chain.nodes)
    }

    /// Attributes every generated function carries: the target CPU and features,
    /// full-width vectors, and no calls into libc for loop idioms.
    private func configure(_ function: IRValue, ir: IRModule) {
        ir.addAttribute("nounwind", to: function)
        ir.addStringAttribute(key: "target-cpu", value: target.cpu, to: function)
        ir.addStringAttribute(key: "target-features", value: target.features, to: function)
        ir.addStringAttribute(key: "no-builtins", value: "", to: function)
        let width = String(target.vectorWidthBits)
        ir.addStringAttribute(key: "prefer-vector-width", value: width, to: function)
        ir.addStringAttribute(key: "min-legal-vector-width", value: width, to: function)
    }
}
