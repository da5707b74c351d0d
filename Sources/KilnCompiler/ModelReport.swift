import Foundation
import KilnCodegen
import KilnIR

/// Size and cost figures of a graph, per layer and in total: what `kiln inspect` prints.
public struct ModelReport: Sendable {
    /// One node's figures.
    public struct Layer: Sendable {
        /// The layer name.
        public var name: String
        /// The op's kind, e.g. `conv2d`.
        public var kind: String
        /// The fused activation, if any.
        public var activation: String?
        /// The result's shape.
        public var outputShape: Shape
        /// Elements in the layer's constant operands.
        public var parameters: Int
        /// Multiply-accumulates per inference.
        public var macs: Int
        /// The share of the layer's filter that is exactly zero (pruned), 0…1; `nil` without a constant filter.
        public var filterSparsity: Double?
        /// Distinct values in the layer's filter (few after weight sharing); `nil` without a constant filter.
        public var distinctWeights: Int?
        /// Bytes stored for the layer's filter: as the plan's kernel packs it when the report was
        /// made with a plan (a block-sparse filter keeps only its nonzero blocks), else as stored.
        public var filterBytes: Int
        /// The kernel chosen for the layer, when the report was made with a plan; `∥N` after it
        /// when the layer's N rows are split among threads; `bandR∥P` for a layer of a banded
        /// chain run R depthwise rows at a time, in P pieces threads share.
        public var kernel: String?
    }

    /// Per-layer figures, in execution order.
    public var layers: [Layer]
    /// Elements held in constants.
    public var parameterCount: Int
    /// Constant elements that are exactly zero.
    public var zeroParameterCount: Int
    /// Bytes of constants as stored, including per-channel scales.
    public var weightByteCount: Int
    /// Bytes of the planned arena, if memory has been planned.
    public var arenaByteCount: Int?
    /// How ``table`` shows layer names.
    public var names = LayerNameStyle.short
    /// The model's inputs, the table's first rows: name, element type and shape.
    public var inputs: [(name: String, type: TensorType)]

    /// Computes the figures of `graph`, with each layer's kernel when a `plan` for it is given.
    public init(_ graph: Graph, plan: KernelPlan? = nil) {
        layers = graph.nodes.enumerated().map { index, node in
            let shapes = node.inputs.map { graph.type(of: $0).shape }
            let output = graph.type(of: node.outputs[0]).shape
            let parameters = node.inputs.filter(graph.isConstant).reduce(0) { $0 + graph.type(of: $1).elementCount }
            // Saturating: a report must not trap on a model too large to run.
            let macsPerOutput: [Int]
            switch node.op {
            case .fullyConnected: macsPerOutput = [shapes[1][1]]
            case .conv2D: macsPerOutput = Array(shapes[1].dimensions[1...3])
            // Each output channel reads one input channel: a kh × kw window.
            case .depthwiseConv2D: macsPerOutput = Array(shapes[1].dimensions[1...2])
            default: macsPerOutput = []
            }
            let macs = macsPerOutput.isEmpty ? 0 : Shape(macsPerOutput + output.dimensions).elementCount
            let filter = macsPerOutput.isEmpty ? nil : graph.constantData(node.inputs[1])
            let filterSparsity = filter.map { filter in
                Double(filter.floats().filter { $0 == 0 }.count) / Double(max(filter.shape.elementCount, 1))
            }
            let distinctWeights = filter.map { Set($0.floats().map { $0 == 0 ? 0 : $0 }).count }
            let filterBytes =
                plan?.filterByteCount(ofNode: index, in: graph)
                ?? filter.map { _ in graph.type(of: node.inputs[1]).byteCount } ?? 0
            return Layer(
                name: node.name, kind: node.op.kindName, activation: node.op.fusedActivation?.rawValue,
                outputShape: output, parameters: parameters, macs: macs, filterSparsity: filterSparsity,
                distinctWeights: distinctWeights, filterBytes: filterBytes,
                kernel: plan.map { plan in
                    let choice = plan.choices[index]
                    // A banded chain's layers say their band and the pieces threads share.
                    if let band = choice.band {
                        let pieces = KernelPlan.isParallel(band, in: graph) ? "∥\(band.slots)" : ""
                        return choice.name + " band\(band.bandRows)" + pieces
                    }
                    // Split layers say how many rows threads share.
                    return choice.name + (choice.split.map { "∥\($0.units)" } ?? "")
                })
        }
        var parameterCount = 0
        var zeros = 0
        var bytes = 0
        for (id, source) in graph.constants {
            let type = graph.type(of: id)
            parameterCount += type.elementCount
            bytes += type.byteCount + (type.quantization.map { $0.scales.count * MemoryLayout<Float>.size } ?? 0)
            if case .data(let data) = source { zeros += data.floats().filter { $0 == 0 }.count }
        }
        self.parameterCount = parameterCount
        // Filters a kernel packs differently (block-sparse) are counted as packed.
        if let plan {
            for (index, node) in graph.nodes.enumerated() where node.inputs.count > 1 && graph.isConstant(node.inputs[1]) {
                let type = graph.type(of: node.inputs[1])
                let stored = type.byteCount + (type.quantization.map { $0.scales.count * MemoryLayout<Float>.size } ?? 0)
                bytes += plan.filterByteCount(ofNode: index, in: graph) - stored
            }
        }
        inputs = graph.inputs.map { (graph[$0].name, graph.type(of: $0)) }
        zeroParameterCount = zeros
        weightByteCount = bytes
        arenaByteCount = graph.memoryPlan?.arenaByteCount
    }

    /// Total multiply-accumulates per inference.
    public var macs: Int {
        layers.reduce(0) { total, layer in
            let (sum, overflow) = total.addingReportingOverflow(layer.macs)
            return overflow ? Int.max : sum
        }
    }

    /// A fixed-width table of the layers followed by the totals.
    public var table: String {
        let showsKernels = layers.contains { $0.kernel != nil }
        let header =
            ["layer", "op", "output", "params", "zeros", "values", "filter bytes", "MACs"] + (showsKernels ? ["kernel"] : [])
        let inputRows = inputs.map { input in
            [TextTable.shortened(input.name, names), "input \(input.type.dtype)", input.type.shape.description, "0", "", "", "", "0"]
                + (showsKernels ? [""] : [])
        }
        let rows = inputRows + layers.map { layer -> [String] in
            let kind = layer.kind + (layer.activation.map { "+\($0)" } ?? "")
            let zeros = layer.filterSparsity.map { String(format: "%.0f%%", $0 * 100) } ?? ""
            let values = layer.distinctWeights.map(String.init) ?? ""
            let bytes = layer.filterSparsity == nil ? "" : String(layer.filterBytes)
            let cells = [
                TextTable.shortened(layer.name, names), kind, layer.outputShape.description, String(layer.parameters), zeros,
                values, bytes, String(layer.macs),
            ]
            return cells + (showsKernels ? [layer.kernel.map { names.applyToKernel($0) } ?? ""] : [])
        }
        var lines = TextTable.lines(header: header, rows: rows)
        let sparsity = parameterCount == 0 ? 0 : Double(zeroParameterCount) / Double(parameterCount) * 100
        lines.append("")
        lines.append("parameters:   \(parameterCount) (\(zeroParameterCount) zero, \(String(format: "%.1f", sparsity))%)")
        lines.append("weight bytes: \(weightByteCount)")
        lines.append("MACs:         \(macs)")
        if let arenaByteCount { lines.append("arena bytes:  \(arenaByteCount)") }
        return lines.joined(separator: "\n")
    }
}
