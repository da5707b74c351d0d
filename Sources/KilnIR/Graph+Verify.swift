extension Graph {
    /// Checks the graph's structural and type invariants.
    ///
    /// Every value's type is within Kiln's limits with valid quantization
    /// parameters, outputs are distinct, every operand is defined before it is used, every value has exactly one
    /// definition, result types agree with shape inference, constant contents
    /// agree with their declared types, and element types suit each op.
    ///
    /// - Returns: one diagnostic per violated invariant, located at the node's source when known.
    public func verificationDiagnostics() -> [Diagnostic] {
        // Types come first: the structural checks below compute with shapes.
        var diagnostics = validationDiagnostics()
        if !diagnostics.isEmpty { return diagnostics }
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
                continue  // the element-type rules below assume the operands fit the op
            }
            if let problem = elementTypeProblem(node.op, operandTypes, result: type(of: node.outputs[0])) {
                diagnostics.append(.error("\(label): \(problem)", at: node.location))
            }
        }
        for output in outputs where !defined.contains(output) {
            diagnostics.append(.error("graph output \(output) is never defined"))
        }
        if diagnostics.isEmpty { diagnostics += bandedChainDiagnostics() }
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
    ///
    /// Two regimes: float32 activations (filters may be f32, f16 or int8
    /// dequantized in the kernel), and full-integer int8 following TensorFlow
    /// Lite's quantization spec (per-tensor activations, symmetric filters,
    /// int32 biases).
    private func elementTypeProblem(_ op: Op, _ operands: [TensorType], result: TensorType) -> String? {
        let x = operands[0]
        func perTensor(_ type: TensorType) -> Bool {
            type.quantization.map { $0.axis == nil && $0.scales.count == 1 } ?? false
        }
        switch op {
        case .fullyConnected, .conv2D, .depthwiseConv2D:
            let filter = operands[1]
            var channelAxis = 0
            if case .depthwiseConv2D = op { channelAxis = 3 }
            if filter.dtype == .int8 {
                guard let quantization = filter.quantization,
                    quantization.scales.count == 1 && quantization.axis == nil
                        || quantization.axis == channelAxis && quantization.scales.count == filter.shape[channelAxis]
                else { return "an int8 filter needs one scale, or one per output channel along axis \(channelAxis)" }
            }
            switch x.dtype {
            case .float32:
                guard filter.dtype != .int32 else { return "filter cannot be i32" }
                if operands.count == 3, operands[2].dtype != .float32 { return "bias must be f32" }
            case .int8:
                guard perTensor(x), perTensor(result) else {
                    return "int8 input and result need per-tensor quantization parameters"
                }
                guard filter.dtype == .int8 else { return "an int8 layer needs an int8 filter, got \(filter.dtype)" }
                if operands.count == 3, operands[2].dtype != .int32 { return "an int8 layer's bias must be i32" }
            default:
                return "input must be f32 or i8, got \(x.dtype)"
            }
            return nil
        case .quantize:
            return result.quantization == nil ? "the result needs quantization parameters" : nil
        case .dequantize:
            return x.quantization == nil ? "the input needs quantization parameters" : nil
        case .gather:
            guard operands[1].dtype == .int32 else { return "indices must be i32, got \(operands[1].dtype)" }
            return elementTypeProblem(.reshape(result.shape), [x], result: result)
        case .cast:
            return nil
        case .argExtremum:
            switch x.dtype {
            case .float32: return nil
            case .int8: return perTensor(x) ? nil : "an int8 input needs per-tensor quantization parameters"
            default: return "input must be f32 or i8, got \(x.dtype)"
            }
        default:
            guard operands.allSatisfy({ $0.dtype == x.dtype }) else {
                return "operands must share one element type, got \(operands.map(\.dtype))"
            }
            switch x.dtype {
            case .float32: return nil
            case .int8:
                return operands.allSatisfy(perTensor) && perTensor(result)
                    ? nil : "int8 operands and result need per-tensor quantization parameters"
            default: return "expects f32 or i8 operands, got \(x.dtype)"
            }
        }
    }
}
