extension Graph {
    /// A readable listing of the graph, one line per constant and node.
    ///
    /// ```
    /// graph mlp(%0: f32[1x4]) -> (%4) {
    ///   %1 = constant "fc.weight" : f32[2x4] (data)
    ///   %3 = fully_connected(%0, %1, %2) {activation: relu} : f32[1x2]  // fc @ Model.swift:12
    /// }
    /// ```
    public var textDump: String {
        let signature = inputs.map { "\($0): \(type(of: $0))" }.joined(separator: ", ")
        var lines = ["graph \(name)(\(signature)) -> (\(outputs.map(\.description).joined(separator: ", "))) {"]
        for (id, source) in constants.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(id) = constant \"\(self[id].name)\" : \(describe(self[id].type)) (\(describe(source)))")
        }
        for node in nodes {
            let operands = node.inputs.map(\.description).joined(separator: ", ")
            let results = node.outputs.map(\.description).joined(separator: ", ")
            let attributes = Self.attributeText(node.op)
            let types = node.outputs.map { describe(type(of: $0)) }.joined(separator: ", ")
            var line = "  \(results) = \(node.op.kindName)(\(operands))\(attributes) : \(types)  // \(node.name)"
            if let location = node.location { line += " @ \(location.file.split(separator: "/").last ?? ""):\(location.line)" }
            lines.append(line)
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    private func describe(_ type: TensorType) -> String {
        guard let quantization = type.quantization else { return type.description }
        if let axis = quantization.axis { return "\(type) per-channel(axis \(axis), \(quantization.scales.count) scales)" }
        return "\(type) q(scale \(quantization.scales[0]), zero \(quantization.zeroPoints[0]))"
    }

    private func describe(_ source: ConstantSource) -> String {
        switch source {
        case .data: "data"
        case .file(let reference): "\(reference.format.rawValue) \(reference.path)[\(reference.key)]"
        case .initializer(let initializer): "\(initializer.scheme.rawValue) seed \(initializer.seed)"
        }
    }

    private static func attributeText(_ op: Op) -> String {
        var parts: [String] = []
        switch op {
        case .conv2D(let attributes), .depthwiseConv2D(let attributes):
            parts = [
                "strides: \(attributes.strides)", "dilations: \(attributes.dilations)",
                "padding: \(attributes.explicitPadding.map { "\($0)" } ?? attributes.padding.rawValue)",
            ]
        case .maxPool2D(let attributes), .averagePool2D(let attributes):
            parts = [
                "window: \(attributes.window)", "strides: \(attributes.strides)",
                "padding: \(attributes.explicitPadding.map { "\($0)" } ?? attributes.padding.rawValue)",
            ]
        case .reshape(let shape): parts = ["shape: \(shape)"]
        case .concatenation(let axis, _): parts = ["axis: \(axis)"]
        case .pad(let paddings): parts = ["paddings: \(paddings)"]
        case .slice(let begin, let size): parts = ["begin: \(begin)", "size: \(size)"]
        case .mean(let axes, let keep), .reduce(_, let axes, let keep): parts = ["axes: \(axes)", "keep: \(keep)"]
        case .argExtremum(_, let axis, let keep): parts = ["axis: \(axis)", "keep: \(keep)"]
        case .gather(let axis): parts = ["axis: \(axis)"]
        case .resize(let attributes):
            parts = ["size: \(attributes.size)", "coordinates: \(attributes.coordinates.rawValue)"]
            if attributes.method == .nearest { parts.append("rounding: \(attributes.rounding.rawValue)") }
            if attributes.method == .bicubic {
                let cubic = attributes.cubic ?? ResizeAttributes.CubicKernel()
                parts.append("a: \(cubic.coefficient)")
                if cubic.excludesOutside { parts.append("excludes outside") }
            }
        case .quantize(let dtype): parts = ["to: \(dtype)"]
        default: break
        }
        if let activation = op.fusedActivation { parts.append("activation: \(activation.rawValue)") }
        return parts.isEmpty ? "" : " {" + parts.joined(separator: ", ") + "}"
    }
}
