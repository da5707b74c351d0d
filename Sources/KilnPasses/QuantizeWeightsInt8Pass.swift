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

    /// Symmetric per-channel (axis 0) int8 quantization of `data`.
    public static func quantize(_ data: TensorData) -> (TensorData, QuantizationParameters) {
        let values = data.floats()
        let channels = data.shape[0]
        let inner = channels == 0 ? 0 : values.count / channels
        var scales = [Float](repeating: 1, count: channels)
        var quantized = [Int8](repeating: 0, count: values.count)
        for channel in 0..<channels {
            let slice = (channel * inner)..<((channel + 1) * inner)
            let largest = values[slice].reduce(0) { max($0, abs($1)) }
            // An all-zero channel quantizes to zeros with any scale; 1 keeps it finite.
            let scale = largest > 0 ? largest / 127 : 1
            scales[channel] = scale
            for index in slice {
                quantized[index] = Int8(max(-127, min(127, (values[index] / scale).rounded())))
            }
        }
        return (TensorData(int8: quantized, shape: data.shape), .symmetric(scales: scales, axis: 0))
    }
}
