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

    /// Creates a code generator for `target`.
    public init(target: TargetMachine, entryPoint: String = "kiln_run", profilesLayers: Bool = false) {
        self.target = target
        self.entryPoint = entryPoint
        self.profilesLayers = profilesLayers
    }

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

    /// Builds and verifies the unoptimized module.
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
        let (arena, inputs, outputs) = (ir.parameter(entry, 0), ir.parameter(entry, 1), ir.parameter(entry, 2))

        var emitted = ConstantGlobals()
        func outputPointer(_ index: Int) -> IRValue {
            ir.load(bytePointer, from: ir.gep(bytePointer, outputs, [ir.constant(index, ir.i64)]), alignment: 8)
        }
        // Where `value` is read from or written to. An input or constant that is
        // also an output is read from where it lives; the output gets a copy below.
        func pointer(to value: ValueID) throws -> IRValue {
            if let index = graph.inputs.firstIndex(of: value) {
                return ir.load(bytePointer, from: ir.gep(bytePointer, inputs, [ir.constant(index, ir.i64)]), alignment: 8)
            }
            if graph.isConstant(value) { return ir.bitcast(try emitted.global(for: value, in: graph, ir: ir), to: bytePointer) }
            if let index = graph.outputs.firstIndex(of: value) { return outputPointer(index) }
            if let offset = plan.offsets[value] {
                return ir.gep(ir.i8, arena, [ir.constant(offset, ir.i64)])
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
        for (index, node) in graph.nodes.enumerated() {
            let choice = kernels.choices[index]
            if choice.isAbsorbed { continue }
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
            var arguments: [IRValue] = []
            for value in operands.pointerOperands + results { arguments.append(try pointer(to: value)) }
            let function = try NodeFunction.emit(
                node: node, index: index, choice: choice, operands: operands, graph: graph, ir: ir,
                isa: kernels.isa, configure: { configure($0, ir: ir) })
            let start = profile.map { ir.call($0.clock.function, type: $0.clock.type, []) }
            ir.call(function.function, type: function.type, arguments)
            if let profile, let start {
                let elapsed = ir.sub(ir.call(profile.clock.function, type: profile.clock.type, []), start)
                let counter = ir.gep(ir.i64, profile.counters, [ir.constant(index, ir.i64)])
                ir.store(ir.add(ir.load(ir.i64, from: counter, alignment: 8), elapsed), to: counter, alignment: 8)
            }
        }
        // Outputs that no node writes (an input or constant returned directly) are
        // copied byte for byte, whatever their element type.
        let produced = Set(graph.nodes.flatMap(\.outputs))
        for (index, output) in graph.outputs.enumerated() where !produced.contains(output) {
            let emitter = KernelEmitter(ir: ir, laneWidth: target.isaLevel.laneWidth, entryBlock: body)
            // A constant is copied from its bytes as stored: the kernels' global may be widened to f32.
            let source =
                graph.isConstant(output)
                ? ir.bitcast(try emitted.storedBytes(for: output, in: graph, ir: ir), to: bytePointer)
                : try pointer(to: output)
            LayoutKernels(emitter: emitter, elementType: ir.i8).emitCopy(
                count: graph.type(of: output).byteCount, from: source, sourceBase: emitter.index(0),
                to: outputPointer(index), destinationBase: emitter.index(0))
        }
        ir.returnVoid()
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
