import KilnIR

/// Emits one node as an internal function and returns it for the entry point to call.
struct NodeFunction {
    let node: Node
    let graph: Graph
    let emitter: KernelEmitter
    /// Pointers to the buffer operands, the residual operand of a fused add, then the result.
    let pointers: [IRValue]
    /// The kernel the plan chose for this node.
    let choice: KernelChoice

    var ir: IRModule { emitter.ir }
    var output: IRValue { pointers[pointers.count - 1] }
    var resultType: TensorType { graph.type(of: node.outputs[0]) }
    func operandType(_ index: Int) -> TensorType { graph.type(of: node.inputs[index]) }

    static func emit(
        node: Node, index: Int, choice: KernelChoice, operands: NodeOperands, graph: Graph, ir: IRModule, isa: ISALevel,
        configure: (IRValue) -> Void
    ) throws -> (function: IRValue, type: IRType) {
        let bytePointer = ir.pointer(to: ir.i8)
        let parameterCount = operands.pointerOperands.count + node.outputs.count
        // A split layer also takes the range of rows it computes: `(…pointers, i64 begin, i64 end)`.
        let rangeParameters = choice.split == nil ? [] : [ir.i64, ir.i64]
        let type = ir.functionType(
            returning: ir.void, parameters: Array(repeating: bytePointer, count: parameterCount) + rangeParameters)
        let function = ir.addFunction(name: "node\(index).\(node.op.kindName).\(node.name)", type: type, linkage: .internal)
        configure(function)
        for parameter in 0..<parameterCount {
            // A result computed in place shares its operand's bytes, which `noalias` would deny.
            if !choice.inPlace { ir.addParameterAttribute("noalias", to: function, parameter: parameter) }
            ir.addParameterAttribute("nocapture", to: function, parameter: parameter)
        }
        let caller = ir.insertBlock
        let entry = ir.appendBlock("entry", to: function)
        ir.position(at: entry)
        var emitter = KernelEmitter(ir: ir, laneWidth: isa.laneWidth, entryBlock: entry)
        emitter.hasFMA = isa.hasFMA
        emitter.hasHalfConversion = isa.hasHalfConversion
        emitter.lookup = isa.codebookLookup
        if choice.split != nil {
            emitter.rowRange = (ir.parameter(function, parameterCount), ir.parameter(function, parameterCount + 1))
        }
        let body = NodeFunction(
            node: node, graph: graph, emitter: emitter, pointers: (0..<parameterCount).map { ir.parameter(function, $0) },
            choice: choice)
        try body.emitKernel()
        ir.returnVoid()
        ir.position(at: caller)
        return (function, type)
    }

    private func emitKernel() throws {
        let isQuantized = resultType.dtype == .int8
        let shapes = node.inputs.map { graph.type(of: $0).shape }
        let elementwise = ElementwiseKernel(emitter: emitter)
        switch choice.kernel {
        case .absorbed, .elided:
            return
        case .gemm(let rowsPerBlock):
            let layer = gemmShape
            let dot = try dotProduct(activation: node.op.fusedActivation)
            var kernel = FullyConnectedKernel(
                emitter: emitter, dot: dot, rows: layer.rows, depth: layer.depth, units: layer.units,
                rowsPerBlock: rowsPerBlock)
            kernel.splitsOutputChannels = choice.split?.axis == .outputChannels
            kernel.exactRowRange = choice.band != nil
            if let steps = choice.decodedSteps {
                kernel.decodeBuffer = (decodeBuffer(steps: steps, columns: dot.filter.tiles), steps)
            }
            return kernel.emit(input: pointers[0], output: output)
        case .sparseGEMM(let rowsPerBlock):
            return try emitBlockSparseGEMM(rowsPerBlock: rowsPerBlock)
        case .sparseGEMV(let lanes):
            return try emitSparseGEMV(lanes: lanes)
        case .sparseGEMVPermuted:
            return try emitPermutedSparseGEMV()
        case .sparseGEMVSemiStructured(let lanes, _):
            return try emitSemiStructuredSparseGEMV(lanes: lanes)
        case .codebookGEMV:
            return try emitCodebookGEMV()
        case .gemmPairwise(let rowsPerBlock, let multiply, let lanes):
            let layer = gemmShape
            let dot = try dotProduct(activation: node.op.fusedActivation, pairwise: (multiply, lanes, taps: 1))
            var kernel = FullyConnectedKernel(
                emitter: emitter, dot: dot, rows: layer.rows, depth: layer.depth, units: layer.units,
                rowsPerBlock: rowsPerBlock)
            kernel.splitsOutputChannels = choice.split?.axis == .outputChannels
            kernel.exactRowRange = choice.band != nil
            return kernel.emit(input: pointers[0], output: output)
        case .gemmVNNI(let rowsPerBlock, let staged):
            let layer = gemmShape
            var kernel = try vnniKernel(channels: layer.depth, taps: 1)
            kernel.exactRowRange = choice.band != nil
            return kernel.emitRows(rows: layer.rows, rowsPerBlock: rowsPerBlock, staged: staged, input: pointers[0], output: output)
        case .dynamicRangeGEMMVNNI(_, let rowsPerBlock):
            return try emitDynamicRangeVNNI(rowsPerBlock: rowsPerBlock)
        case .conv(let pixelsPerBlock):
            guard case .conv2D(let attributes) = node.op else { break }
            return try emitConvolution(attributes, pixelsPerBlock: pixelsPerBlock, vnni: false, staged: false, pairwise: nil)
        case .sparseConv(let pixelsPerBlock):
            guard case .conv2D(let attributes) = node.op else { break }
            return try emitBlockSparseConvolution(attributes, pixelsPerBlock: pixelsPerBlock)
        case .winograd(let tilesPerBlock):
            guard case .conv2D(let attributes) = node.op else { break }
            return try emitWinogradConvolution(attributes, tilesPerBlock: tilesPerBlock)
        case .convVNNI(let pixelsPerBlock, let staged):
            guard case .conv2D(let attributes) = node.op else { break }
            return try emitConvolution(attributes, pixelsPerBlock: pixelsPerBlock, vnni: true, staged: staged, pairwise: nil)
        case .convPairwise(let pixelsPerBlock, let multiply, let lanes):
            guard case .conv2D(let attributes) = node.op else { break }
            return try emitConvolution(
                attributes, pixelsPerBlock: pixelsPerBlock, vnni: false, staged: false, pairwise: (multiply, lanes))
        case .depthwise(let pixelsPerBlock, let pixelsPerVector, let channelsOutermost):
            guard case .depthwiseConv2D(let attributes) = node.op else { break }
            return try emitDepthwise(
                attributes, pixelsPerBlock: pixelsPerBlock, pixelsPerVector: pixelsPerVector,
                channelsOutermost: channelsOutermost, pairwise: nil)
        case .depthwisePairwise(let pixelsPerBlock, let multiply, let widestLanes, let pixelsPerVector, let channelsOutermost):
            guard case .depthwiseConv2D(let attributes) = node.op else { break }
            return try emitDepthwise(
                attributes, pixelsPerBlock: pixelsPerBlock, pixelsPerVector: pixelsPerVector,
                channelsOutermost: channelsOutermost, pairwise: (multiply, widestLanes))
        case .standard:
            break
        }
        switch node.op {
        case .fullyConnected, .conv2D, .depthwiseConv2D:
            throw CodegenError("internal error: layer '\(node.name)' has no kernel for '\(choice.name)'")
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
        case .add(let activation), .multiply(let activation), .subtract(let activation), .binary(_, let activation):
            let elements = try isQuantized
                ? elementwise.quantizedElements(
                    operands: [parameters(operandType(0)), parameters(operandType(1))], result: parameters(resultType),
                    range: range(activation), output: output)
                : elementwise.floatElements(output: output, activation: activation)
            elementwise.emitBinary(
                shape: resultType.shape, a: (pointers[0], shapes[0]), b: (pointers[1], shapes[1]), elements: elements,
                combine: { a, b, lanes in
                    switch node.op {
                    case .add: ir.fadd(a, b)
                    case .subtract: ir.fsub(a, b)
                    case .binary(let function, _): emitter.combine(a, b, function, lanes: lanes)
                    default: ir.fmul(a, b)
                    }
                })
        case .batchMatMul(let adjointA, let adjointB):
            let quantization = try isQuantized ? (parameters(operandType(0)), parameters(operandType(1)), parameters(resultType)) : nil
            guard isQuantized || resultType.dtype == .float32 else {
                throw CodegenError("layer '\(node.name)': batch matrix products of \(resultType.dtype) tensors are not supported")
            }
            BatchMatMulKernel(
                emitter: emitter, a: shapes[0], b: shapes[1], output: resultType.shape, adjointA: adjointA, adjointB: adjointB,
                quantization: quantization
            ).emit(a: pointers[0], b: pointers[1], output: output)
        case .concatenation(let axis, let activation):
            try emitConcatenation(axis: axis, activation: activation, shapes: shapes)
        case .pad(let paddings):
            let fill = try isQuantized
                ? ir.constant(Int(parameters(operandType(0)).zeroPoints[0]), ir.i8) : ir.constant(Float(0))
            LayoutKernels(emitter: emitter, elementType: isQuantized ? ir.i8 : ir.f32).emitPad(
                input: pointers[0], inputShape: shapes[0], paddings: paddings, output: output,
                outputShape: resultType.shape, fill: fill)
            // Padding included: the input's zero point becomes the result's.
            try requantizeInPlaceIfNeeded()
        case .slice(let begin, _):
            guard resultType.dtype == .float32 || isQuantized else {
                throw CodegenError("layer '\(node.name)': slicing \(resultType.dtype) tensors is not supported")
            }
            LayoutKernels(emitter: emitter, elementType: isQuantized ? ir.i8 : ir.f32).emitSlice(
                input: pointers[0], inputShape: shapes[0], begin: begin, output: output, outputShape: resultType.shape)
            try requantizeInPlaceIfNeeded()
        case .transpose(let permutation):
            guard resultType.dtype == .float32 || isQuantized else {
                throw CodegenError("layer '\(node.name)': transposing \(resultType.dtype) tensors is not supported")
            }
            LayoutKernels(emitter: emitter, elementType: isQuantized ? ir.i8 : ir.f32).emitTranspose(
                input: pointers[0], inputShape: shapes[0], permutation: permutation, output: output)
            try requantizeInPlaceIfNeeded()
        case .mean(let axes, _):
            try emitMean(axes: axes, inputShape: shapes[0])
        case .reduce(let function, let axes, _):
            try emitReduce(function, axes: axes, inputShape: shapes[0])
        case .argExtremum(let extremum, let axis, _):
            let shape = shapes[0]
            let axis = Op.normalizedAxis(axis, rank: shape.rank) ?? 0
            ArgExtremumKernel(
                emitter: emitter, isQuantized: operandType(0).dtype == .int8, extremum: extremum,
                outer: shape.dimensions[..<axis].reduce(1, *), count: shape[axis],
                inner: shape.dimensions[(axis + 1)...].reduce(1, *)
            ).emit(input: pointers[0], output: output)
        case .resize(let attributes):
            let quantization = try isQuantized ? (parameters(operandType(0)), parameters(resultType)) : nil
            ResizeKernel(
                emitter: emitter, inputShape: shapes[0], outputShape: resultType.shape, attributes: attributes,
                quantization: quantization
            ).emit(input: pointers[0], output: output)
            if attributes.method == .nearest { try requantizeInPlaceIfNeeded() }
        case .gather(let axis):
            let shape = shapes[0]
            let axis = Op.normalizedAxis(axis, rank: shape.rank) ?? 0
            let fill: [UInt8] = try isQuantized ? [UInt8(bitPattern: Int8(parameters(operandType(0)).zeroPoints[0]))] : [0, 0, 0, 0]
            GatherKernel(
                emitter: emitter, elementType: isQuantized ? ir.i8 : ir.f32, outer: shape.dimensions[..<axis].reduce(1, *),
                count: shape[axis], inner: shape.dimensions[(axis + 1)...].reduce(1, *), indexCount: shapes[1].elementCount,
                fill: fill
            ).emit(input: pointers[0], indices: pointers[1], output: output)
            try requantizeInPlaceIfNeeded()
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
        case .cast(let dtype):
            for run in LaneRun.covering(resultType.elementCount, width: emitter.laneWidth) {
                ir.loop("i", from: 0, to: run.count) { block in
                    let offset = emitter.affine(block, times: run.lanes, plus: run.start)
                    if dtype == .float32 {
                        emitter.storeVector(
                            emitter.loadVector(pointers[0], elementType: ir.i32, offset: offset, lanes: run.lanes), output,
                            offset: offset)
                    } else {
                        // Saturating, with NaN to 0, where a plain conversion would be poison.
                        let integers = ir.vector(ir.i32, run.lanes)
                        let floats = emitter.vectorType(run.lanes)
                        let convert = ir.intrinsic("llvm.fptosi.sat", overloads: [integers, floats], returning: integers, parameters: [floats])
                        let value = ir.call(convert.function, type: convert.type, [emitter.loadVector(pointers[0], offset: offset, lanes: run.lanes)])
                        ir.store(value, to: ir.gep(ir.i32, output, [offset]), alignment: 4)
                    }
                }
            }
        case .dequantize:
            let inputType = operandType(0)
            guard inputType.dtype == .int8 else {
                throw CodegenError("layer '\(node.name)': only int8 tensors can be dequantized, got \(inputType.dtype)")
            }
            try QuantizedKernels(emitter: emitter).emitDequantize(
                count: resultType.elementCount, input: pointers[0], parameters: parameters(inputType), output: output)
        }
    }

    /// Requantizes an int8 result written in its input's parameters to its own, in place.
    func requantizeInPlaceIfNeeded() throws {
        guard resultType.dtype == .int8, try parameters(operandType(0)) != parameters(resultType) else { return }
        try QuantizedKernels(emitter: emitter).emitQuantize(
            count: resultType.elementCount, input: output, inputParameters: parameters(operandType(0)),
            output: output, outputParameters: parameters(resultType))
    }

    /// Per-tensor quantization parameters of an int8 tensor.
    func parameters(_ type: TensorType) throws -> QuantizationParameters {
        guard let quantization = type.quantization, quantization.scales.count == 1 else {
            throw CodegenError("layer '\(node.name)': int8 tensors need per-tensor quantization parameters")
        }
        return quantization
    }

    /// The int8 range left by a fused activation.
    func range(_ activation: Activation?) throws -> ClosedRange<Int32> {
        let output = try parameters(resultType)
        guard let range = QuantizedArithmetic.activationRange(activation, scale: output.scales[0], zeroPoint: output.zeroPoints[0])
        else {
            throw CodegenError("layer '\(node.name)': a fused \(activation?.rawValue ?? "") activation is not supported on int8")
        }
        return range
    }
}
