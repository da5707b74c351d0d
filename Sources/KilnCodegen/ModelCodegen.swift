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

    /// Creates a code generator for `target`.
    public init(target: TargetMachine, entryPoint: String = "kiln_run") {
        self.target = target
        self.entryPoint = entryPoint
    }

    /// Compiles `graph` (constants loaded, memory planned) to an object file.
    ///
    /// With `exportedMetadata`, the object also exports a NUL-terminated
    /// string symbol holding it, for code that links the object statically.
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

    /// The optimized assembly of `graph`, for inspection.
    public func emitAssembly(for graph: Graph) throws -> String {
        let module = try emitModule(for: graph)
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
        func pointer(to value: ValueID) throws -> IRValue {
            if let index = graph.outputs.firstIndex(of: value) {
                return ir.load(bytePointer, from: ir.gep(bytePointer, outputs, [ir.constant(index, ir.i64)]), alignment: 8)
            }
            if let index = graph.inputs.firstIndex(of: value) {
                return ir.load(bytePointer, from: ir.gep(bytePointer, inputs, [ir.constant(index, ir.i64)]), alignment: 8)
            }
            if let offset = plan.offsets[value] {
                return ir.gep(ir.i8, arena, [ir.constant(offset, ir.i64)])
            }
            if graph.isConstant(value) { return ir.bitcast(try emitted.global(for: value, in: graph, ir: ir), to: bytePointer) }
            throw CodegenError("internal error: \(value) '\(graph[value].name)' has no storage")
        }

        for (index, node) in graph.nodes.enumerated() {
            let operands = try NodeOperands(node: node, graph: graph)
            var arguments: [IRValue] = []
            for value in operands.bufferOperands + node.outputs { arguments.append(try pointer(to: value)) }
            let function = try NodeFunction.emit(
                node: node, index: index, operands: operands, graph: graph, ir: ir,
                laneWidth: target.vectorWidthBits / 32,
                hasVNNI: target.vectorWidthBits >= 512 && target.enabledFeatures.contains("avx512vnni"),
                configure: { configure($0, ir: ir) })
            ir.call(function.function, type: function.type, arguments)
        }
        // Outputs that no node writes (an input or constant returned directly) are copied.
        for (index, output) in graph.outputs.enumerated() where !graph.nodes.contains(where: { $0.outputs.contains(output) }) {
            let destination = try pointer(to: output)
            let source: IRValue
            if let inputIndex = graph.inputs.firstIndex(of: output) {
                source = ir.load(bytePointer, from: ir.gep(bytePointer, inputs, [ir.constant(inputIndex, ir.i64)]), alignment: 8)
            } else {
                source = try emitted.global(for: output, in: graph, ir: ir)
            }
            let emitter = KernelEmitter(ir: ir, laneWidth: target.vectorWidthBits / 32, entryBlock: body)
            ElementwiseKernel(emitter: emitter).emitUnary(
                count: graph.type(of: graph.outputs[index]).elementCount, input: source, output: destination) { value, _ in value }
        }
        ir.returnVoid()
        if let exportedMetadata {
            _ = ir.addConstantBytes(
                name: exportedMetadata.symbol, bytes: Array(exportedMetadata.text.utf8) + [0], alignment: 1, exported: true)
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
