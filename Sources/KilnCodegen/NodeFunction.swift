import KilnIR

/// How a node's operands reach its kernel: buffers passed as pointers, or
/// constants the kernel bakes in (packed filters, biases).
struct NodeOperands {
    /// Operands passed to the node function as pointers, in order.
    var bufferOperands: [ValueID]

    init(node: Node, graph: Graph) throws {
        switch node.op {
        case .fullyConnected, .conv2D, .depthwiseConv2D:
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

/// Globals for constants used as plain buffers, emitted once each.
struct ConstantGlobals {
    private var globals: [ValueID: IRValue] = [:]

    /// The global holding constant `value`: int8 tensors as stored, anything
    /// else as f32 (dequantized when quantized).
    mutating func global(for value: ValueID, in graph: Graph, ir: IRModule) throws -> IRValue {
        if let global = globals[value] { return global }
        guard let data = graph.constantData(value) else {
            throw CodegenError("internal error: constant '\(graph[value].name)' has no data")
        }
        let type = graph.type(of: value)
        let bytes: [UInt8]
        if data.dtype == .int8, type.quantization != nil {
            bytes = data.bytes
        } else {
            bytes = TensorData(dequantized(data, type.quantization), shape: data.shape).bytes
        }
        let global = ir.addConstantBytes(name: "const.\(graph[value].name)", bytes: bytes, alignment: 64)
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
struct NodeFunction {
    let node: Node
    let graph: Graph
    let emitter: KernelEmitter
    /// Pointers to the buffer operands, then the result.
    let pointers: [IRValue]

    private var ir: IRModule { emitter.ir }
    private var output: IRValue { pointers[pointers.count - 1] }
    private var resultType: TensorType { graph.type(of: node.outputs[0]) }
    private func operandType(_ index: Int) -> TensorType { graph.type(of: node.inputs[index]) }

    static func emit(
        node: Node, index: Int, operands: NodeOperands, graph: Graph, ir: IRModule, laneWidth: Int, hasVNNI: Bool,
        configure: (IRValue) -> Void
    ) throws -> (function: IRValue, type: IRType) {
        let bytePointer = ir.pointer(to: ir.i8)
        let parameterCount = operands.bufferOperands.count + node.outputs.count
        let type = ir.functionType(returning: ir.void, parameters: Array(repeating: bytePointer, count: parameterCount))
        let function = ir.addFunction(name: "node\(index).\(node.op.kindName).\(node.name)", type: type, linkage: .internal)
        configure(function)
        for parameter in 0..<parameterCount {
            ir.addParameterAttribute("noalias", to: function, parameter: parameter)
            ir.addParameterAttribute("nocapture", to: function, parameter: parameter)
        }
        let caller = ir.insertBlock
        let entry = ir.appendBlock("entry", to: function)
        ir.position(at: entry)
        var emitter = KernelEmitter(ir: ir, laneWidth: laneWidth, entryBlock: entry)
        emitter.hasVNNI = hasVNNI
        let body = NodeFunction(
            node: node, graph: graph, emitter: emitter, pointers: (0..<parameterCount).map { ir.parameter(function, $0) })
        try body.emitKernel()
        ir.returnVoid()
        ir.position(at: caller)
        return (function, type)
    }

    private func emitKernel() throws {
        let isQuantized = resultType.dtype == .int8
        let shapes = node.inputs.map { graph.type(of: $0).shape }
        let elementwise = ElementwiseKernel(emitter: emitter)
        switch node.op {
        case .fullyConnected(let activation) where isQuantized && VNNIFullyConnectedKernel.applies(units: shapes[1][0], emitter: emitter):
            try emitVNNI(activation: activation, rows: resultType.elementCount / shapes[1][0], depth: shapes[1][1], units: shapes[1][0])
        case .conv2D(let attributes)
        where isQuantized && Self.isPointwise(attributes, input: shapes[0], filter: shapes[1], output: resultType.shape)
            && VNNIFullyConnectedKernel.applies(units: shapes[1][0], emitter: emitter):
            try emitVNNI(
                activation: attributes.activation, rows: resultType.elementCount / shapes[1][0], depth: shapes[1][3],
                units: shapes[1][0])
        case .fullyConnected(let activation):
            let dot = try dotProduct(activation: activation)
            FullyConnectedKernel(
                emitter: emitter, dot: dot, rows: resultType.elementCount / max(shapes[1][0], 1), depth: shapes[1][1],
                units: shapes[1][0]
            ).emit(input: pointers[0], output: output)
        case .conv2D(let attributes) where Self.isPointwise(attributes, input: shapes[0], filter: shapes[1], output: resultType.shape):
            // A 1×1, stride-1 convolution is a matrix product over pixels: run it as one, with row blocking.
            let dot = try dotProduct(activation: attributes.activation)
            FullyConnectedKernel(
                emitter: emitter, dot: dot, rows: resultType.elementCount / max(shapes[1][0], 1), depth: shapes[1][3],
                units: shapes[1][0]
            ).emit(input: pointers[0], output: output)
        case .conv2D(let attributes):
            let dot = try dotProduct(activation: attributes.activation)
            Conv2DKernel(
                emitter: emitter, dot: dot, input: shapes[0], output: resultType.shape,
                kernel: (shapes[1][1], shapes[1][2]), attributes: attributes
            ).emit(input: pointers[0], output: output)
        case .depthwiseConv2D(let attributes):
            try emitDepthwise(attributes)
        case .maxPool2D(let attributes), .averagePool2D(let attributes):
            var isAverage = false
            if case .averagePool2D = node.op { isAverage = true }
            let quantization = try isQuantized ? (parameters(operandType(0)), parameters(resultType)) : nil
            PoolKernel(
                emitter: emitter, input: shapes[0], output: resultType.shape, attributes: attributes,
                isAverage: isAverage, quantization: quantization
            ).emit(input: pointers[0], output: output)
        case .reshape:
            if isQuantized {
                try QuantizedKernels(emitter: emitter).emitQuantize(
                    count: resultType.elementCount, input: pointers[0], inputParameters: parameters(operandType(0)),
                    output: output, outputParameters: parameters(resultType))
            } else {
                elementwise.emitUnary(count: resultType.elementCount, input: pointers[0], output: output) { value, _ in value }
            }
        case .activation(let activation):
            if isQuantized {
                let table = try QuantizedArithmetic.lookupTable(
                    activation, input: parameters(operandType(0)), output: parameters(resultType))
                QuantizedKernels(emitter: emitter).emitLookup(
                    count: resultType.elementCount, table: table, input: pointers[0], output: output)
            } else {
                elementwise.emitUnary(count: resultType.elementCount, input: pointers[0], output: output) { value, lanes in
                    emitter.activate(value, activation, lanes: lanes)
                }
            }
        case .softmax:
            if isQuantized {
                try QuantizedKernels(emitter: emitter).emitSoftmax(
                    shape: resultType.shape, input: pointers[0], output: output,
                    inputScale: parameters(operandType(0)).scales[0], parameters: parameters(resultType))
            } else {
                elementwise.emitSoftmax(shape: resultType.shape, input: pointers[0], output: output)
            }
        case .add(let activation), .multiply(let activation):
            var isAdd = false
            if case .add = node.op { isAdd = true }
            let elements = try isQuantized
                ? elementwise.quantizedElements(
                    operands: [parameters(operandType(0)), parameters(operandType(1))], result: parameters(resultType),
                    range: range(activation), output: output)
                : elementwise.floatElements(output: output, activation: activation)
            elementwise.emitBinary(
                shape: resultType.shape, a: (pointers[0], shapes[0]), b: (pointers[1], shapes[1]), elements: elements,
                combine: isAdd ? { ir.fadd($0, $1) } : { ir.fmul($0, $1) })
        case .concatenation(let axis, let activation):
            try emitConcatenation(axis: axis, activation: activation, shapes: shapes)
        case .pad(let paddings):
            let fill = try isQuantized
                ? ir.constant(Int(parameters(operandType(0)).zeroPoints[0]), ir.i8) : ir.constant(Float(0))
            LayoutKernels(emitter: emitter, elementType: isQuantized ? ir.i8 : ir.f32).emitPad(
                input: pointers[0], inputShape: shapes[0], paddings: paddings, output: output,
                outputShape: resultType.shape, fill: fill)
            // A result with its own parameters is requantized in place, padding
            // included (the input's zero point becomes the result's).
            if isQuantized, try parameters(operandType(0)) != parameters(resultType) {
                try QuantizedKernels(emitter: emitter).emitQuantize(
                    count: resultType.elementCount, input: output, inputParameters: parameters(operandType(0)),
                    output: output, outputParameters: parameters(resultType))
            }
        case .mean(let axes, _):
            try emitMean(axes: axes, inputShape: shapes[0])
        case .quantize:
            let inputType = operandType(0)
            try QuantizedKernels(emitter: emitter).emitQuantize(
                count: resultType.elementCount, input: pointers[0],
                inputParameters: inputType.dtype == .int8 ? parameters(inputType) : nil, output: output,
                outputParameters: parameters(resultType))
        case .dynamicRangeQuantize(let scope):
            let shape = resultType.shape
            let groupSize = scope == .perRow ? (shape.dimensions.last ?? 1) : resultType.elementCount / max(shape.first ?? 1, 1)
            QuantizedKernels(emitter: emitter).emitDynamicRangeQuantize(
                count: resultType.elementCount, groupSize: groupSize, input: pointers[0], output: output)
        case .dequantize:
            let inputType = operandType(0)
            guard inputType.dtype == .int8 else {
                throw CodegenError("layer '\(node.name)': only int8 tensors can be dequantized, got \(inputType.dtype)")
            }
            try QuantizedKernels(emitter: emitter).emitDequantize(
                count: resultType.elementCount, input: pointers[0], parameters: parameters(inputType), output: output)
        }
    }

    /// Whether a convolution reads exactly one input pixel per output pixel, in order.
    static func isPointwise(_ attributes: Conv2DAttributes, input: Shape, filter: Shape, output: Shape) -> Bool {
        filter[1] == 1 && filter[2] == 1 && attributes.strides == [1, 1] && input[1] == output[1] && input[2] == output[2]
    }

    /// Per-tensor quantization parameters of an int8 tensor.
    private func parameters(_ type: TensorType) throws -> QuantizationParameters {
        guard let quantization = type.quantization, quantization.scales.count == 1 else {
            throw CodegenError("layer '\(node.name)': int8 tensors need per-tensor quantization parameters")
        }
        return quantization
    }

    /// The int8 range left by a fused activation.
    private func range(_ activation: Activation?) throws -> ClosedRange<Int32> {
        let output = try parameters(resultType)
        guard let range = QuantizedArithmetic.activationRange(activation, scale: output.scales[0], zeroPoint: output.zeroPoints[0])
        else {
            throw CodegenError("layer '\(node.name)': a fused \(activation?.rawValue ?? "") activation is not supported on int8")
        }
        return range
    }

    /// The epilogue of a fully-connected or convolution node: float (optionally
    /// dequantizing int8 weights) or int8 requantization.
    private func epilogue(activation: Activation?, filterScales: [Float]?) throws -> Epilogue {
        let biasGlobal = node.inputs.count > 2
            ? graph.constantData(node.inputs[2]).map {
                ir.addConstantBytes(name: "bias.\(node.name)", bytes: $0.bytes, alignment: 64)
            } : nil
        guard resultType.dtype == .int8 else {
            let scales = filterScales.map {
                ir.addConstantBytes(name: "scales.\(node.name)", bytes: TensorData($0, shape: [$0.count]).bytes, alignment: 64)
            }
            return .float(scales: scales, bias: biasGlobal, activation: activation)
        }
        let input = try parameters(operandType(0))
        let output = try parameters(resultType)
        guard let filterScales else { throw CodegenError("layer '\(node.name)': an int8 layer needs a quantized filter") }
        let multipliers = filterScales.map {
            QuantizedArithmetic.requantizationScale(input: input.scales[0], filter: $0, output: output.scales[0])
        }
        let scales = ir.addConstantBytes(
            name: "requantize.\(node.name)", bytes: TensorData(multipliers, shape: [multipliers.count]).bytes, alignment: 64)
        return .quantized(
            bias: biasGlobal, scales: scales, inputZeroPoint: input.zeroPoints[0], outputZeroPoint: output.zeroPoints[0],
            range: try range(activation))
    }

    /// Packs the filter and bakes filter, scales and bias into globals.
    private func dotProduct(activation: Activation?) throws -> DotProductKernel {
        guard let filterData = graph.constantData(node.inputs[1]) else {
            throw CodegenError("layer '\(node.name)': filters must be constants")
        }
        let filter = PackedFilter(filterData, quantization: operandType(1).quantization, laneWidth: emitter.laneWidth)
        let weights = ir.addConstantBytes(name: "weights.\(node.name)", bytes: filter.bytes, alignment: 64)
        return DotProductKernel(
            emitter: emitter, filter: filter, weights: weights,
            epilogue: try epilogue(activation: activation, filterScales: filter.scales))
    }

    /// An int8 fully-connected or 1×1 layer on the VNNI kernel.
    private func emitVNNI(activation: Activation?, rows: Int, depth: Int, units: Int) throws {
        guard let filter = graph.constantData(node.inputs[1]), filter.dtype == .int8,
            let filterScales = operandType(1).quantization?.scales
        else { throw CodegenError("layer '\(node.name)': an int8 layer needs a constant int8 filter") }
        let input = try parameters(operandType(0))
        let output = try parameters(resultType)
        let bias = node.inputs.count > 2 ? graph.constantData(node.inputs[2])?.int32s() : nil
        let multipliers = (0..<units).map { channel in
            QuantizedArithmetic.requantizationScale(
                input: input.scales[0], filter: filterScales.count == 1 ? filterScales[0] : filterScales[channel],
                output: output.scales[0])
        }
        let scales = ir.addConstantBytes(
            name: "requantize.\(node.name)", bytes: TensorData(multipliers, shape: [units]).bytes, alignment: 64)
        VNNIFullyConnectedKernel(
            emitter: emitter, rows: rows, depth: depth, units: units,
            epilogue: .quantized(
                bias: nil, scales: scales, inputZeroPoint: input.zeroPoints[0], outputZeroPoint: output.zeroPoints[0],
                range: try range(activation)),
            packed: .init(
                filter: filter.int8s(), units: units, depth: depth, bias: bias, inputZeroPoint: input.zeroPoints[0])
        ).emit(input: pointers[0], output: self.output)
    }

    private func emitDepthwise(_ attributes: Conv2DAttributes) throws {
        guard let filterData = graph.constantData(node.inputs[1]) else {
            throw CodegenError("layer '\(node.name)': filters must be constants")
        }
        let filterType = operandType(1)
        let channels = filterType.shape[3]
        let scales = filterType.quantization.map {
            $0.scales.count == 1 ? Array(repeating: $0.scales[0], count: channels) : $0.scales
        }
        let weightType: IRType =
            switch filterData.dtype {
            case .int8: ir.i8
            case .float16: ir.f16
            default: ir.f32
            }
        DepthwiseConv2DKernel(
            emitter: emitter, epilogue: try epilogue(activation: attributes.activation, filterScales: scales),
            weights: ir.addConstantBytes(name: "weights.\(node.name)", bytes: filterData.bytes, alignment: 64),
            weightType: weightType, input: operandType(0).shape, output: resultType.shape,
            kernel: (filterType.shape[1], filterType.shape[2]), attributes: attributes
        ).emit(input: pointers[0], output: output)
    }

    private func emitConcatenation(axis: Int, activation: Activation?, shapes: [Shape]) throws {
        let isQuantized = resultType.dtype == .int8
        let operands = shapes.indices.map { (pointers[$0], shapes[$0]) }
        var transforms: [(IRValue, Int) -> IRValue] = []
        if isQuantized {
            let output = try parameters(resultType)
            let bounds = try range(activation)
            for index in shapes.indices {
                let input = try parameters(operandType(index))
                transforms.append { value, lanes in
                    let widened = ir.sext(value, to: ir.vector(ir.i32, lanes))
                    if input == output {
                        let low = ir.splat(ir.constant(Int(bounds.lowerBound), ir.i32), count: lanes)
                        let high = ir.splat(ir.constant(Int(bounds.upperBound), ir.i32), count: lanes)
                        let above = ir.select(ir.icmp(.sgt, widened, low), widened, low)
                        return ir.trunc(ir.select(ir.icmp(.slt, above, high), above, high), to: ir.vector(ir.i8, lanes))
                    }
                    let steps = ir.fdiv(
                        emitter.dequantized(value, scale: input.scales[0], zeroPoint: input.zeroPoints[0], lanes: lanes),
                        emitter.splat(output.scales[0], lanes: lanes))
                    return emitter.quantized(steps, zeroPoint: output.zeroPoints[0], range: bounds, lanes: lanes)
                }
            }
        } else {
            transforms = shapes.map { _ in { value, lanes in emitter.activate(value, activation, lanes: lanes) } }
        }
        LayoutKernels(emitter: emitter, elementType: isQuantized ? ir.i8 : ir.f32).emitConcatenation(
            shape: resultType.shape, axis: axis, operands: operands, output: output, transforms: transforms)
    }

    private func emitMean(axes: [Int], inputShape: Shape) throws {
        let count = Float(inputShape.elementCount / max(resultType.elementCount, 1))
        if resultType.dtype == .int8 {
            let input = try parameters(operandType(0))
            let result = try parameters(resultType)
            LayoutKernels(emitter: emitter, elementType: ir.i8).emitReduction(
                input: pointers[0], inputShape: inputShape, axes: axes, accumulator: ir.i32, zero: ir.constant(0, ir.i32),
                element: { ir.sub(ir.sext($0, to: ir.i32), ir.constant(Int(input.zeroPoints[0]), ir.i32)) },
                finish: { sum, offset in
                    let real = ir.fmul(ir.constant(input.scales[0]), ir.sitofp(sum, to: ir.f32))
                    let steps = ir.broadcast(ir.fdiv(real, ir.constant(count * result.scales[0])), count: 1)
                    emitter.storeQuantized(
                        steps, zeroPoint: result.zeroPoints[0], range: QuantizedArithmetic.int8Range, lanes: 1,
                        output: output, offset: offset)
                })
        } else {
            LayoutKernels(emitter: emitter, elementType: ir.f32).emitReduction(
                input: pointers[0], inputShape: inputShape, axes: axes, accumulator: ir.f32, zero: ir.constant(Float(0)),
                element: { $0 },
                finish: { sum, offset in
                    ir.store(ir.fdiv(sum, ir.constant(count)), to: ir.gep(ir.f32, output, [offset]), alignment: 4)
                })
        }
    }
}
