import KilnIR

/// Reductions, arg-reductions, resizing, depth ↔ space, tiling, gathering and
/// log-softmax; on channels-last data they work in NHWC where the axes allow.
extension ONNXConversion {
    /// The order in which NHWC storage holds an NCHW tensor's axes.
    static let channelsLastStorage = [0, 2, 3, 1]

    /// `ReduceMean`, `ReduceSum`, `ReduceMax`, `ReduceMin` and `ReduceProd` over
    /// constant axes (an attribute in older opsets, an input in newer ones).
    mutating func convertReduce(_ node: ONNXNode, _ function: ReduceFunction?) throws {
        if function == .product || function == .sum, let known = knownInputs(node), case .integers(let tensor) = known[0] {
            // Shape arithmetic (tf2onnx multiplies dimensions to size a reshape): folded.
            let axes = try integers(node, 1) ?? node.ints("axes") ?? Array(tensor.shape.indices)
            let folded = try tensor.reduce(
                axes: axes, keepDimensions: node.int("keepdims", default: 1) != 0, product: function == .product)
            _ = defineConstant(node, .integers(folded))
            return
        }
        let x = try operand(node.input(0))
        let dimensions = onnxShape(x)
        let requested = try integers(node, 1) ?? node.ints("axes") ?? []
        if requested.isEmpty, node.int("noop_with_empty_axes", default: 0) != 0 {
            define(node, x.id, layout: x.layout)
            return
        }
        let axes = requested.isEmpty ? Array(dimensions.indices) : try requested.map { try StaticTensor.axis($0, rank: dimensions.count) }
        let keep = node.int("keepdims", default: 1) != 0
        func op(_ axes: [Int]) -> Op {
            function.map { .reduce($0, axes: axes, keepDimensions: keep) } ?? .mean(axes: axes, keepDimensions: keep)
        }
        if x.layout == .channelsLast {
            let kept = Self.channelsLastStorage.filter { !axes.contains($0) }
            if keep || kept == kept.sorted() {
                let stored = axes.compactMap { Self.channelsLastStorage.firstIndex(of: $0) }.sorted()
                define(node, try add(op(stored), [x.id], node), layout: keep ? .channelsLast : .plain)
                return
            }
        }
        define(node, try add(op(axes.sorted()), [try plain(x, name: resultName(node))], node))
    }

    /// `ArgMax` and `ArgMin`: int32 positions (ONNX's int64) of the first extreme element.
    mutating func convertArgExtremum(_ node: ONNXNode, _ extremum: Extremum) throws {
        guard node.int("select_last_index", default: 0) == 0 else {
            throw ONNXProblem("select_last_index = 1 is not supported (the first extreme position is taken)")
        }
        let x = try operand(node.input(0))
        let rank = onnxShape(x).count
        let axis = try StaticTensor.axis(node.int("axis", default: 0), rank: rank)
        let keep = node.int("keepdims", default: 1) != 0
        if x.layout == .channelsLast, keep, let stored = Self.channelsLastStorage.firstIndex(of: axis) {
            define(node, try add(.argExtremum(extremum, axis: stored, keepDimensions: true), [x.id], node), layout: .channelsLast)
            return
        }
        let data = try plain(x, name: resultName(node))
        define(node, try add(.argExtremum(extremum, axis: axis, keepDimensions: keep), [data], node))
    }

    /// `Resize` of the height and width of an NCHW tensor: nearest, linear or cubic.
    mutating func convertResize(_ node: ONNXNode) throws {
        let x = try channelsLast(try operand(node.input(0)), name: resultName(node))
        let shape = graph.type(of: x).shape
        let (height, width) = (shape[1], shape[2])
        guard node.int("antialias", default: 0) == 0, node.ints("axes") == nil else {
            throw ONNXProblem("antialiased resizing and the axes attribute are not supported")
        }
        var size: [Int]
        if let sizes = try integers(node, 3) {
            guard sizes.count == 4, sizes[0] == shape[0], sizes[1] == shape[3] else {
                throw ONNXProblem("sizes \(sizes) must keep the batch and channels of [\(shape[0]), \(shape[3]), \(height), \(width)]")
            }
            size = [sizes[2], sizes[3]]
        } else if let (_, scales) = try floats(node, 2), !scales.isEmpty {
            guard scales.count == 4, scales[0] == 1, scales[1] == 1 else {
                throw ONNXProblem("scales \(scales) must be 1 for the batch and channels")
            }
            size = [Int((Float(height) * scales[2]).rounded(.down)), Int((Float(width) * scales[3]).rounded(.down))]
            // ONNX maps coordinates through the given scale; Kiln through the sizes' ratio, equal only when the scale is exact.
            guard Float(size[0]) == Float(height) * scales[2], Float(size[1]) == Float(width) * scales[3] else {
                throw ONNXProblem("scales \(scales) do not give whole sizes for \(height)x\(width); give sizes instead")
            }
        } else {
            throw ONNXProblem("needs constant scales or sizes")
        }
        let method: ResizeMethod
        switch node.string("mode") ?? "nearest" {
        case "nearest": method = .nearest
        case "linear": method = .bilinear
        case "cubic": method = .bicubic
        case let other: throw ONNXProblem("mode '\(other)' is not supported (only nearest, linear and cubic)")
        }
        let coordinates: ResizeCoordinates
        switch node.string("coordinate_transformation_mode") ?? "half_pixel" {
        case "half_pixel": coordinates = .halfPixel
        case "asymmetric": coordinates = .asymmetric
        case "align_corners": coordinates = .alignCorners
        case "pytorch_half_pixel": coordinates = .pytorchHalfPixel
        case "tf_half_pixel_for_nn": coordinates = .tfHalfPixelForNearest
        case let other: throw ONNXProblem("coordinate_transformation_mode '\(other)' is not supported")
        }
        let rounding: NearestRounding
        switch node.string("nearest_mode") ?? "round_prefer_floor" {
        case "round_prefer_floor": rounding = .roundPreferFloor
        case "round_prefer_ceil": rounding = .roundPreferCeil
        case "floor": rounding = .floor
        case "ceil": rounding = .ceil
        case let other: throw ONNXProblem("nearest_mode '\(other)' is not supported")
        }
        let cubic = ResizeAttributes.CubicKernel(
            coefficient: node.float("cubic_coeff_a", default: -0.75), excludesOutside: node.int("exclude_outside", default: 0) != 0)
        let attributes = ResizeAttributes(
            size: size, method: method, coordinates: coordinates, rounding: rounding, cubic: method == .bicubic ? cubic : nil)
        define(node, try add(.resize(attributes), [x], node), layout: .channelsLast)
    }

    /// `DepthToSpace` (DCR and CRD) and `SpaceToDepth` on NCHW data, rearranged in NHWC.
    mutating func convertSpaceDepth(_ node: ONNXNode, toDepth: Bool) throws {
        let x = try channelsLast(try operand(node.input(0)), name: resultName(node))
        let order: Graph.BlockOrder
        switch node.string("mode") ?? "DCR" {
        case "DCR": order = .depthColumnRow
        case "CRD" where !toDepth: order = .columnRowDepth
        case let other: throw ONNXProblem("mode '\(other)' is not supported")
        }
        let result = try graph.addSpaceDepthRearrangement(
            x, blockSize: node.int("blocksize", default: 0), toDepth: toDepth, order: order, name: resultName(node))
        define(node, result, layout: .channelsLast)
    }

    /// `Tile` with constant repeats: the data joined to itself along each axis.
    mutating func convertTile(_ node: ONNXNode) throws {
        let x = try operand(node.input(0))
        guard let repeats = try integers(node, 1), repeats.count == onnxShape(x).count else {
            throw ONNXProblem("needs constant repeats, one per axis of \(onnxShape(x))")
        }
        if x.layout == .channelsLast {
            let stored = Self.channelsLastStorage.map { repeats[$0] }
            define(node, try graph.addTile(x.id, multiples: stored, name: resultName(node)), layout: .channelsLast)
            return
        }
        define(node, try graph.addTile(try plain(x, name: resultName(node)), multiples: repeats, name: resultName(node)))
    }

    /// `LogSoftmax` along one axis, in float.
    mutating func convertLogSoftmax(_ node: ONNXNode) throws {
        let x = try operand(node.input(0))
        let rank = onnxShape(x).count
        let axis = try StaticTensor.axis(node.int("axis", default: -1), rank: rank)
        if x.layout == .channelsLast, let stored = Self.channelsLastStorage.firstIndex(of: axis) {
            define(node, try graph.addLogSoftmax(x.id, axis: stored, name: resultName(node)), layout: .channelsLast)
            return
        }
        define(node, try graph.addLogSoftmax(try plain(x, name: resultName(node)), axis: axis, name: resultName(node)))
    }

    /// `Gather` of data at indices that are not a constant run: Kiln's gather,
    /// which counts negative indices from the end as ONNX does.
    mutating func gatherData(_ node: ONNXNode, axis: Int) throws {
        let x = try plain(try operand(node.input(0)), name: resultName(node))
        var indicesName = try node.input(1)
        let count = graph.type(of: x).shape.dimensions[Op.normalizedAxis(axis, rank: graph.type(of: x).shape.rank) ?? 0]
        if let raw = try indicesBehind(indicesName, count: count) { indicesName = raw }
        let indices: ValueID
        if let known = constants[indicesName]?.integers {
            guard known.values.allSatisfy({ Int32(exactly: $0) != nil }) else {
                throw ONNXProblem("indices \(known.values) do not fit in 32 bits")
            }
            indices = graph.addConstant(
                name: indicesName, data: TensorData(int32: known.values.map { Int32($0) }, shape: Shape(known.shape)))
        } else {
            indices = try plain(try operand(indicesName), name: resultName(node))
            guard graph.type(of: indices).dtype == .int32 else {
                throw ONNXProblem("indices '\(indicesName)' must be integers")
            }
        }
        define(node, try add(.gather(axis: axis), [x, indices], node))
    }
}
