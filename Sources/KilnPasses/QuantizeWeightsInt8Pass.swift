import KilnIR

/// `quantize-weights-int8`: stores fully-connected and convolution filters as
/// symmetric int8 with one scale per output channel; activations stay float32
/// and kernels dequantize inside the dot product.
///
/// `scale[c] = max|w[c, …]| / 127` and `q = round(w / scale)`, so the largest
/// weight of every channel is represented exactly and zeros stay zero (pruned
/// weights remain pruned).
public struct QuantizeWeightsInt8Pass: Pass {
    /// The stable id.
    public let id = "quantize-weights-int8"

    /// Creates the pass.
    public init() {}

    /// Quantizes every float32 constant filter.
    public func run(on graph: inout Graph) throws(DiagnosticError) {
        var filters = Set<ValueID>()
        for node in graph.nodes {
            switch node.op {
            case .fullyConnected, .conv2D: filters.insert(node.inputs[1])
            default: break
            }
        }
        for filter in filters.sorted() {
            guard let data = graph.constantData(filter), data.dtype == .float32 else { continue }
            let (quantized, parameters) = Self.quantize(data)
            graph.constants[filter] = .data(quantized)
            graph[filter].type = TensorType(.int8, data.shape, quantization: parameters)
        }
    }

    /// Symmetric per-channel int8 quantization of `data`, one scale per slice along `axis`
    /// (0 for fully-connected and convolution filters, 3 for depthwise ones).
    public static func quantize(_ data: TensorData, axis: Int = 0) -> (TensorData, QuantizationParameters) {
        let values = data.floats()
        let channels = data.shape[axis]
        let inner = data.shape.dimensions[(axis + 1)...].reduce(1, *)
        func channel(_ index: Int) -> Int { (index / max(inner, 1)) % max(channels, 1) }
        var largest = [Float](repeating: 0, count: channels)
        for (index, value) in values.enumerated() { largest[channel(index)] = max(largest[channel(index)], abs(value)) }
        // An all-zero channel quantizes to zeros with any scale; 1 keeps it finite.
        let scales = largest.map { $0 > 0 ? $0 / 127 : 1 }
        let quantized = values.enumerated().map { index, value in
            Int8(max(-127, min(127, (value / scales[channel(index)]).rounded())))
        }
        return (TensorData(int8: quantized, shape: data.shape), .symmetric(scales: scales, axis: axis))
    }
}
