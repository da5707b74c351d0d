import KilnIR

/// Globals for constants used as plain buffers, emitted once each.
struct ConstantGlobals {
    private var globals: [ValueID: IRValue] = [:]

    /// The global holding constant `value`: int8 and int32 index tensors as
    /// stored, anything else as f32 (dequantized when quantized).
    mutating func global(for value: ValueID, in graph: Graph, ir: IRModule) throws -> IRValue {
        if let global = globals[value] { return global }
        guard let data = graph.constantData(value) else {
            throw CodegenError("internal error: constant '\(graph[value].name)' has no data")
        }
        let type = graph.type(of: value)
        let bytes: [UInt8]
        // int32 without quantization parameters is an index tensor (gather), read as integers.
        if data.dtype == .int8 && type.quantization != nil || data.dtype == .int32 && type.quantization == nil {
            bytes = data.bytes
        } else {
            bytes = TensorData(dequantized(data, type.quantization), shape: data.shape).bytes
        }
        let global = ir.addConstantBytes(name: "const.\(graph[value].name)", bytes: bytes, alignment: 64)
        globals[value] = global
        return global
    }

    /// A global holding constant `value`'s bytes exactly as stored, for outputs that return it.
    mutating func storedBytes(for value: ValueID, in graph: Graph, ir: IRModule) throws -> IRValue {
        guard let data = graph.constantData(value) else {
            throw CodegenError("internal error: constant '\(graph[value].name)' has no data")
        }
        return ir.addConstantBytes(name: "const.stored.\(graph[value].name)", bytes: data.bytes, alignment: 64)
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
