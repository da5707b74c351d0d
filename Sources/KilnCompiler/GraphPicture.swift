import Foundation
import KilnCodegen
import KilnIR

/// A graph as an SVG picture (`kiln inspect --graph FILE.svg`): one box per input and layer,
/// top to bottom in dependency levels, so branches and residual connections stand side by side;
/// each box shows the op with its fused activation, the result's shape, the kernel the plan chose
/// (or the layer it was fused into) and where the result lives in the arena. int8 results are
/// orange, float32 blue, others grey; the model's outputs have a thick border.
public struct GraphPicture: Sendable {
    /// One box: a model input or a node.
    public struct Box: Sendable {
        /// The value's or layer's name as shown.
        public var title: String
        /// The lines under the title.
        public var details: [String]
        /// The full name, shown as the tooltip.
        public var fullName: String
        /// Its dependency level: inputs are 0, a node is one below its deepest operand.
        public var level: Int
        /// Its position within the level, from the left.
        public var column: Int
        /// The element type of its result.
        public var dtype: DType
        /// Whether it is emitted as part of another layer (a residual add fused into its layer).
        public var isAbsorbed: Bool
        /// Whether its result is a model output.
        public var isOutput: Bool
        /// The boxes (by index) whose results it reads.
        public var operands: [Int]
    }

    /// The boxes: the inputs, then the nodes in graph order.
    public var boxes: [Box]

    /// The picture of `graph` (optimized, so its memory plan and kernels are known) with the
    /// kernels `plan` chose, if given, and names in `names` style.
    public init(_ graph: Graph, plan: KernelPlan? = nil, names: LayerNameStyle = .short) {
        var boxes: [Box] = []
        var producer: [ValueID: Int] = [:]
        let outputs = Set(graph.outputs)
        let memory = graph.memoryPlan
        func arena(_ value: ValueID) -> String? {
            if let operand = memory?.inPlace[value] { return "in place of \(names.apply(to: graph[operand].name))" }
            return memory?.offsets[value].map { "arena @\($0), \(graph.storageByteCount(of: value)) B" }
        }
        for input in graph.inputs {
            let type = graph.type(of: input)
            producer[input] = boxes.count
            boxes.append(
                Box(
                    title: "input \(names.apply(to: graph[input].name))", details: ["\(type.dtype) \(type.shape)"],
                    fullName: graph[input].name, level: 0, column: 0, dtype: type.dtype, isAbsorbed: false,
                    isOutput: outputs.contains(input), operands: []))
        }
        for (index, node) in graph.nodes.enumerated() {
            let operands = node.inputs.compactMap { producer[$0] }
            let level = (operands.map { boxes[$0].level }.max() ?? -1) + 1
            let result = node.outputs[0]
            let type = graph.type(of: result)
            var op = node.op.kindName
            if let activation = node.op.fusedActivation { op += "+\(activation)" }
            var details = ["\(op)  \(type.dtype) \(type.shape)"]
            let choice = plan?.choices[index]
            if let choice { details.append(names.applyToKernel(choice.name)) }
            if let place = arena(result) { details.append(place) }
            for output in node.outputs { producer[output] = boxes.count }
            boxes.append(
                Box(
                    title: names.apply(to: node.name), details: details, fullName: node.name, level: level, column: 0,
                    dtype: type.dtype, isAbsorbed: choice?.isAbsorbed ?? false,
                    isOutput: node.outputs.contains(where: outputs.contains), operands: operands))
        }
        var columns: [Int: Int] = [:]
        for index in boxes.indices {
            boxes[index].column = columns[boxes[index].level, default: 0]
            columns[boxes[index].level, default: 0] += 1
        }
        self.boxes = boxes
    }

    /// The picture as a standalone SVG document.
    public var svg: String {
        let (width, height, gap, rise, margin) = (300.0, 22.0 + 15.0 * 3, 36.0, 40.0, 24.0)
        let levels = (boxes.map(\.level).max() ?? 0) + 1
        let widest = Dictionary(grouping: boxes, by: \.level).values.map(\.count).max() ?? 1
        let levelWidths = Dictionary(grouping: boxes, by: \.level).mapValues(\.count)
        // Room on the right for connections that skip levels (residuals), routed beside the boxes.
        let canvasWidth = 2 * margin + Double(widest) * width + Double(widest - 1) * gap + 48
        let canvasHeight = 2 * margin + Double(levels) * height + Double(levels - 1) * rise
        // Each level is centred under the widest.
        func origin(_ box: Box) -> (x: Double, y: Double) {
            let count = Double(levelWidths[box.level] ?? 1)
            let rowWidth = count * width + (count - 1) * gap
            let left = (canvasWidth - 48 - rowWidth) / 2
            return (left + Double(box.column) * (width + gap), margin + Double(box.level) * (height + rise))
        }
        func escaped(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        func number(_ value: Double) -> String { String(format: "%.1f", value) }
        var lines = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<!-- Generated by kiln inspect (the graph picture); not to be edited. -->",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(number(canvasWidth))\" height=\"\(number(canvasHeight))\""
                + " font-family=\"sans-serif\" font-size=\"11\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
        ]
        var skips = 0
        for box in boxes {
            let to = origin(box)
            for operand in box.operands {
                let from = origin(boxes[operand])
                let path: String
                if box.level - boxes[operand].level > 1 {
                    // A connection past other levels runs down the right of the boxes it passes,
                    // so a residual is seen rather than hidden behind the layers it skips.
                    skips += 1
                    let side = max(from.x, to.x) + width + 10 + Double(skips % 4) * 8
                    let (y1, y2) = (from.y + height / 2, to.y + height / 2)
                    path =
                        "M\(number(from.x + width)),\(number(y1)) L\(number(side)),\(number(y1)) L\(number(side)),\(number(y2))"
                        + " L\(number(to.x + width)),\(number(y2))"
                } else {
                    let (x1, y1, x2, y2) = (from.x + width / 2, from.y + height, to.x + width / 2, to.y)
                    let middle = (y1 + y2) / 2
                    path =
                        "M\(number(x1)),\(number(y1)) C\(number(x1)),\(number(middle)) \(number(x2)),\(number(middle))"
                        + " \(number(x2)),\(number(y2))"
                }
                lines.append("<path class=\"edge\" d=\"\(path)\" fill=\"none\" stroke=\"#666\" stroke-width=\"1.2\"/>")
            }
        }
        for box in boxes {
            let (x, y) = origin(box)
            let fill =
                switch box.dtype {
                case .int8: "#fde2c4"
                case .float32: "#d6e6fb"
                default: "#e4e4e4"
                }
            let border = box.isOutput ? " stroke-width=\"3\"" : " stroke-width=\"1\""
            let dash = box.isAbsorbed ? " stroke-dasharray=\"5,3\"" : ""
            lines.append("<g class=\"box\"><title>\(escaped(box.fullName))</title>")
            lines.append(
                "<rect x=\"\(number(x))\" y=\"\(number(y))\" width=\"\(number(width))\" height=\"\(number(height))\" rx=\"6\""
                    + " fill=\"\(fill)\" stroke=\"#333\"\(border)\(dash)/>")
            lines.append(
                "<text x=\"\(number(x + 8))\" y=\"\(number(y + 16))\" font-weight=\"bold\">\(escaped(box.title))</text>")
            for (line, detail) in box.details.prefix(3).enumerated() {
                lines.append(
                    "<text x=\"\(number(x + 8))\" y=\"\(number(y + 31 + 15 * Double(line)))\">\(escaped(detail))</text>")
            }
            lines.append("</g>")
        }
        lines.append("</svg>")
        return lines.joined(separator: "\n") + "\n"
    }
}
