import KilnIR

/// `store-weights-float16`: fully-connected, convolution and depthwise filters
/// are stored as IEEE half precision (half the bytes) and widened to float32
/// inside the kernel (F16C on x86, NEON on AArch64); everything is computed in
/// float32. Values beyond half's range become infinities, so a filter with a
/// magnitude over 65504 stays float32.
public struct StoreWeightsFloat16Pass: Pass {
    /// The stable id.
    public let id = "store-weights-float16"

    /// Creates the pass.
    public init() {}

    /// Converts every float32 constant filter that half precision can hold.
    public func run(on graph: inout Graph) throws(DiagnosticError) {
        var filters = Set<ValueID>()
        for node in graph.nodes {
            switch node.op {
            case .fullyConnected, .conv2D, .depthwiseConv2D: filters.insert(node.inputs[1])
            default: break
            }
        }
        for filter in filters.sorted() {
            guard let data = graph.constantData(filter), data.dtype == .float32 else { continue }
            let values = data.floats()
            guard values.allSatisfy({ !$0.isFinite || abs($0) <= 65504 }) else { continue }
            graph.constants[filter] = .data(TensorData(float16: values, shape: data.shape))
            graph[filter].type = TensorType(.float16, data.shape)
        }
    }
}
