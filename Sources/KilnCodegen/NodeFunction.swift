import KilnIR

/// How a node's operands reach its kernel: buffers passed as pointers, or
/// constants the kernel bakes in (packed filters, biases).
struct NodeOperands {
    /// Operands passed to the node function as pointers, in order.
    var bufferOperands: [ValueID]

    init(node: Node, graph: Graph) throws {
        switch node.op {
        case .fullyConnected, .conv2D:
            guard graph.constantData(node.inputs[1]) != nil else {
                throw CodegenError("layer '\(node.name)': filters must be constants; a computed filter is not supported yet")
            }
            if node.inputs.count > 2, graph.constantData(node.inputs[2]) == nil {
                throw CodegenError("layer '\(node.name)': biases must be constants")
            }
            bufferOperands = [node.inputs[0]]
        default:
            bufferOperands = node.inputs
        }
    }
}

/// f32 globals for constants used as plain buffers, emitted once each.
struct ConstantGlobals {
    private var globals: [ValueID: IRValue] = [:]

    /// The global holding constant `value` as f32 (integers dequantized).
    mutating func float32Global(for value: ValueID, in graph: Graph, ir: IRModule) throws -> IRValue {
        if let global = globals[value] { return global }
        guard let data = graph.constantData(value) else {
            throw CodegenError("internal error: constant '\(graph[value].name)' has no data")
        }
        let floats = TensorData(dequantized(data, graph.type(of: value).quantization), shape: data.shape)
        let global = ir.addConstantBytes(name: "const.\(graph[value].name)", bytes: floats.bytes, alignment: 64)
        globals[value] = global
        return global
    }

    private func dequantized(_ data: TensorData, _ quantization: QuantizationParameters?) -> [Float] {
        let raw = data.floats()
        guard let quantization, data.dtype == .int8 || data.dtype == .int32 else { return raw }
        let channels = quantization.axis.map { data.shape[$0] } ?? 1
        let inner = quantization.axis.map { data.shape.dimensions[($0 + 1)...].reduce(1, *) } ?? raw.count
        return raw.enumerated().map { index, value in
            let channel = channels == 1 ? 0 : (index / inner) % channels
            return quantization.scales[channel] * (value - Float(quantization.zeroPoints[channel]))
        }
    }
}

/// Emits one node as an internal function and returns it for the entry point to call.
enum NodeFunction {
    static func emit(
        node: Node, index: Int, operands: NodeOperands, graph: Graph, ir: IRModule, laneWidth: Int,
        constants: inout ConstantGlobals, configure: (IRValue) -> Void
    ) throws -> (function: IRValue, type: IRType) {
        let bytePointer = ir.pointer(to: ir.i8)
        let parameterCount = operands.bufferOperands.count + node.outputs.count
        let type = ir.functionType(returning: ir.void, parameters: Array(repeating: bytePointer, count: parameterCount))
        let name = "node\(index).\(node.op.kindName).\(node.name)"
        let function = ir.addFunction(name: name, type: type, linkage: .internal)
        configure(function)
        for parameter in 0..<parameterCount {
            ir.addParameterAttribute("noalias", to: function, parameter: parameter)
            ir.addParameterAttribute("nocapture", to: function, parameter: parameter)
        }
        let caller = ir.insertBlock
        let entry = ir.appendBlock("entry", to: function)
        ir.position(at: entry)
        let emitter = KernelEmitter(ir: ir, laneWidth: laneWidth, entryBlock: entry)
        let pointers = (0..<parameterCount).map { ir.parameter(function, $0) }
        let output = pointers[parameterCount - 1]
        let outputType = graph.type(of: node.outputs[0])
        let operandShapes = node.inputs.map { graph.type(of: $0).shape }

        switch node.op {
        case .fullyConnected(let activation):
            let dot = try dotProduct(node: node, graph: graph, emitter: emitter, activation: activation)
            let depth = operandShapes[1][1]
            FullyConnectedKernel(
                emitter: emitter, dot: dot, rows: outputType.elementCount / max(operandShapes[1][0], 1), depth: depth,
                units: operandShapes[1][0]
            ).emit(input: pointers[0], output: output)
        case .conv2D(let attributes):
            let dot = try dotProduct(node: node, graph: graph, emitter: emitter, activation: attributes.activation)
            Conv2DKernel(
                emitter: emitter, dot: dot, input: operandShapes[0], output: outputType.shape,
                kernel: (operandShapes[1][1], operandShapes[1][2]), attributes: attributes
            ).emit(input: pointers[0], output: output)
        case .maxPool2D(let attributes), .averagePool2D(let attributes):
            var isAverage = false
            if case .averagePool2D = node.op { isAverage = true }
            PoolKernel(
                emitter: emitter, input: operandShapes[0], output: outputType.shape, attributes: attributes,
                isAverage: isAverage
            ).emit(input: pointers[0], output: output)
        case .reshape:
            ElementwiseKernel(emitter: emitter).emitUnary(
                count: outputType.elementCount, input: pointers[0], output: output) { value, _ in value }
        case .activation(let activation):
            ElementwiseKernel(emitter: emitter).emitUnary(
                count: outputType.elementCount, input: pointers[0], output: output
            ) { value, lanes in emitter.activate(value, activation, lanes: lanes) }
        case .softmax:
            ElementwiseKernel(emitter: emitter).emitSoftmax(shape: outputType.shape, input: pointers[0], output: output)
        case .add(let activation), .multiply(let activation):
            var isAdd = false
            if case .add = node.op { isAdd = true }
            ElementwiseKernel(emitter: emitter).emitBinary(
                shape: outputType.shape, a: (pointers[0], operandShapes[0]), b: (pointers[1], operandShapes[1]),
                output: output, activation: activation, combine: isAdd ? { ir.fadd($0, $1) } : { ir.fmul($0, $1) })
        }
        ir.returnVoid()
        ir.position(at: caller)
        return (function, type)
    }

    /// Packs the node's filter and bakes filter, scales and bias into globals.
    private static func dotProduct(node: Node, graph: Graph, emitter: KernelEmitter, activation: Activation?) throws
        -> DotProductKernel
    {
        let ir = emitter.ir
        let filterID = node.inputs[1]
        guard let filterData = graph.constantData(filterID) else {
            throw CodegenError("layer '\(node.name)': filters must be constants")
        }
        let filter = PackedFilter(filterData, quantization: graph.type(of: filterID).quantization, laneWidth: emitter.laneWidth)
        let weights = ir.addConstantBytes(name: "weights.\(node.name)", bytes: filter.bytes, alignment: 64)
        var scales: IRValue?
        if let values = filter.scales {
            scales = ir.addConstantBytes(
                name: "scales.\(node.name)", bytes: TensorData(values, shape: [values.count]).bytes, alignment: 64)
        }
        var bias: IRValue?
        if node.inputs.count > 2, let data = graph.constantData(node.inputs[2]) {
            bias = ir.addConstantBytes(name: "bias.\(node.name)", bytes: data.bytes, alignment: 64)
        }
        return DotProductKernel(
            emitter: emitter, filter: filter, weights: weights, scales: scales, bias: bias, activation: activation)
    }
}
