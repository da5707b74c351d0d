import KilnIR

/// `quantize-dynamic-range`: fully-connected and convolution layers get
/// symmetric per-output-channel int8 filters, and their float32 input is
/// quantized to int8 at run time by a `dynamic_range_quantize` node before
/// them, as LiteRT's dynamic-range ("hybrid") layers do: per row for
/// fully-connected and pointwise (1×1, stride 1) layers, which run as matrix
/// products, per batch entry for other convolutions. Activations stay float32
/// between layers; no calibration is needed.
public struct QuantizeDynamicRangePass: Pass {
    /// The stable id.
    public let id = "quantize-dynamic-range"

    /// Creates the pass.
    public init() {}

    /// Quantizes every layer with a float32 constant filter.
    public func run(on graph: inout Graph) throws(DiagnosticError) {
        var nodes: [Node] = []
        var quantizedFilters: [ValueID: ValueID] = [:]
        for node in graph.nodes {
            guard let scope = Self.scope(of: node, in: graph), let filter = graph.constantData(node.inputs[1]),
                filter.dtype == .float32, graph.type(of: node.inputs[0]).dtype == .float32
            else {
                nodes.append(node)
                continue
            }
            let input = graph.addValue(name: "\(node.name).input_quantize", type: graph.type(of: node.inputs[0]))
            nodes.append(
                Node(
                    op: .dynamicRangeQuantize(scope), inputs: [node.inputs[0]], outputs: [input],
                    name: "\(node.name).input_quantize", location: node.location))
            let weights =
                quantizedFilters[node.inputs[1]]
                ?? {
                    let (data, parameters) = QuantizeWeightsInt8Pass.quantize(filter)
                    return graph.addConstant(name: graph[node.inputs[1]].name, data: data, quantization: parameters)
                }()
            quantizedFilters[node.inputs[1]] = weights
            var layer = node
            layer.inputs[0] = input
            layer.inputs[1] = weights
            nodes.append(layer)
        }
        graph.nodes = nodes
        graph = graph.compacted()
    }

    /// How `node`'s input is quantized, or `nil` for a node that is not a dynamic-range layer.
    static func scope(of node: Node, in graph: Graph) -> DynamicQuantizationScope? {
        switch node.op {
        case .fullyConnected:
            return .perRow
        case .conv2D(let attributes):
            let pointwise = attributes.isPointwise(
                input: graph.type(of: node.inputs[0]).shape, filter: graph.type(of: node.inputs[1]).shape,
                output: graph.type(of: node.outputs[0]).shape)
            return pointwise ? .perRow : .perBatch
        default:
            return nil
        }
    }
}
