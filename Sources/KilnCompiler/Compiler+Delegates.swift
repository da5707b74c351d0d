import Kiln
import KilnCodegen
import KilnDelegates
import KilnIR
import KilnRuntime

extension Compiler {
    /// Where the layers of an optimized graph run with `options`' delegate, as an artifact compiled
    /// from it records it; `nil` when `options` name no delegate.
    public static func delegatePlan(for optimized: Graph, options: CompileOptions) throws -> DelegatePlan? {
        try delegation(
            for: optimized, options: options, levels: variantLevels(options.target), entryPoint: "kiln_run")?.plan
    }

    /// The delegate plan for an optimized graph and the weights its payload exports, or `nil`
    /// when `options` name no delegate.
    ///
    /// Layers the CPU code of any of `levels` fuses (a layer and the residual add it writes, a
    /// rounding absorbed into the layer after it) are placed together, so every CPU piece
    /// materializes what the delegate reads. With a required delegate, a layer it cannot take
    /// fails the build, listing every such layer and why.
    static func delegation(
        for graph: Graph, options: CompileOptions, levels: [ISALevel], entryPoint: String
    ) throws -> (plan: DelegatePlan, constants: [UInt8], symbol: String)? {
        guard let delegate = options.delegates.first(where: { $0.kind == .openCL }) else { return nil }
        let required = delegate.requirement == .required
        var groups: [[Int]] = []
        for level in Set(levels) {
            for (index, choice) in KernelPlan(graph: graph, isa: level).choices.enumerated() {
                if let add = choice.residualAdd { groups.append([index, add]) }
                if case .absorbed(let into) = choice.kernel { groups.append([index, into]) }
                if case .dynamicRangeGEMMVNNI(let rounding, _) = choice.kernel { groups.append([rounding, index]) }
            }
        }
        // A layer is named in full or as reports show it.
        func isKeptOnCPU(_ node: Node) -> Bool {
            delegate.cpuLayers.contains(node.name) || delegate.cpuLayers.contains(LayerNameStyle.short.apply(to: node.name))
        }
        let named = Set(graph.nodes.flatMap { [$0.name, LayerNameStyle.short.apply(to: $0.name)] })
        if let unknown = delegate.cpuLayers.first(where: { !named.contains($0) }) {
            let known = graph.nodes.prefix(8).map { "'\(LayerNameStyle.short.apply(to: $0.name))'" }.joined(separator: ", ")
            throw DiagnosticError([
                .error(
                    "model '\(graph.name)' has no layer '\(unknown)' to keep on the CPU; its layers are named"
                        + " \(known)\(graph.nodes.count > 8 ? ", …" : "") (kiln inspect lists them all)",
                    at: options.location)
            ])
        }
        let partitioning = DelegatePartitioner(
            graph: graph, delegate: OpenCLSupport.name, fusedGroups: groups,
            ignoresCost: required || delegate.placement == .allSupported,
            unsupported: { node in
                isKeptOnCPU(node)
                    ? "\(node.op.kindName): kept on the CPU by the delegate's options" : OpenCLSupport.reason(against: node, in: graph)
            }
        ).partition()
        if required {
            let refused = partitioning.placement.filter { $0.processor == .cpu }
            if !refused.isEmpty {
                let listed = refused.prefix(8).map { "'\($0.layer)': \($0.reason ?? "not supported")" }
                let more = refused.count > 8 ? "; and \(refused.count - 8) more" : ""
                throw DiagnosticError([
                    .error(
                        "model '\(graph.name)' requires the \(OpenCLSupport.name) delegate, but \(refused.count) of its"
                            + " \(graph.nodes.count) layers cannot run there: \(listed.joined(separator: "; "))\(more);"
                            + " use .openCL(.preferred) to run those on the CPU", at: options.location)
                ])
            }
        }
        let symbol = "\(entryPoint)_opencl_constants"
        do {
            let (plan, constants) = try OpenCLDelegateCompiler(graph: graph).compile(
                partitioning, isRequired: required, constantsSymbol: symbol, halfStorage: delegate.storage == .float16)
            return (plan, constants, symbol)
        } catch let failure as OpenCLDelegateCompiler.Failure {
            throw CompilerError("model '\(graph.name)': \(failure.description)")
        }
    }
}
