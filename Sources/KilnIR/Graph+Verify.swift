extension Graph {
    /// Checks the graph's structural and type invariants.
    ///
    /// Every operand is defined before it is used, every value has exactly one
    /// definition, result types agree with shape inference, constant contents
    /// agree with their declared types, and element types suit each op.
    ///
    /// - Returns: one diagnostic per violated invariant, located at the node's source when known.
    public func verificationDiagnostics() -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        var defined = Set<ValueID>()
        func define(_ id: ValueID, _ what: String, at location: SourceLocation?) {
            guard values.indices.contains(id.index) else {
                diagnostics.append(.error("\(what) \(id) is out of range", at: location))
                return
            }
            if !defined.insert(id).inserted {
                diagnostics.append(.error("\(what) \(id) is defined more than once", at: location))
            }
        }
        for input in inputs { define(input, "input", at: nil) }
        for (id, source) in constants {
            define(id, "constant", at: nil)
            if case .data(let data) = source, values.indices.contains(id.index) {
                let type = values[id.index].type
                if data.dtype != type.dtype || data.shape != type.shape {
                    diagnostics.append(
                        .error("constant '\(values[id.index].name)' holds \(data.dtype)\(data.shape) but is declared \(type)"))
                }
            }
        }
        for node in nodes {
            let label = "layer '\(node.name)' (\(node.op.kindName))"
            let undefined = node.inputs.filter { !defined.contains($0) }
            if !undefined.isEmpty {
                diagnostics.append(.error("\(label) reads \(undefined) before it is defined", at: node.location))
                continue
            }
            for output in node.outputs { define(output, "result of \(label)", at: node.location) }
            guard node.outputs.count == 1, values.indices.contains(node.outputs[0].index) else {
                diagnostics.append(.error("\(label) must have exactly one result", at: node.location))
                continue
            }
            let operandTypes = node.inputs.map { type(of: $0) }
            do {
                let inferred = try node.op.inferResultType(operands: operandTypes)
                let declared = type(of: node.outputs[0])
                if inferred.shape != declared.shape || inferred.dtype != declared.dtype {
                    diagnostics.append(
                        .error("\(label) produces \(inferred) but its result is declared \(declared)", at: node.location))
                }
            } catch {
                diagnostics.append(.error("\(label): \(error.message)", at: node.location))
            }
            if let problem = elementTypeProblem(node.op, operandTypes) {
                diagnostics.append(.error("\(label): \(problem)", at: node.location))
            }
        }
        for output in outputs where !defined.contains(output) {
            diagnostics.append(.error("graph output \(output) is never defined"))
        }
        if let memoryPlan, diagnostics.isEmpty {
            diagnostics += memoryPlanDiagnostics(memoryPlan)
        }
        return diagnostics
    }

    /// Throws every diagnostic ``verificationDiagnostics()`` finds.
    public func verify() throws(DiagnosticError) {
        let diagnostics = verificationDiagnostics()
        if !diagnostics.isEmpty { throw DiagnosticError(diagnostics) }
    }

    /// Why the operands' element types do not suit `op`, or `nil` if they do.
    private func elementTypeProblem(_ op: Op, _ operands: [TensorType]) -> String? {
        switch op {
        case .fullyConnected, .conv2D:
            let (x, filter) = (operands[0], operands[1])
            guard x.dtype == .float32 else { return "input must be f32, got \(x.dtype)" }
            switch filter.dtype {
            case .float32, .float16: break
            case .int8:
                // Weight-only quantization: symmetric, one scale per output channel.
                guard let quantization = filter.quantization, quantization.axis == 0,
                    quantization.scales.count == filter.shape[0]
                else { return "an int8 filter needs per-output-channel quantization along axis 0" }
            case .int32: return "filter cannot be i32"
            }
            if operands.count == 3, operands[2].dtype != .float32 { return "bias must be f32" }
            return nil
        default:
            let nonFloat = operands.filter { $0.dtype != .float32 }
            return nonFloat.isEmpty ? nil : "expects f32 operands, got \(operands.map(\.dtype))"
        }
    }
}
