import KilnIR

/// Operators that reshape, reorder or select data, and the integer shape
/// arithmetic around them, which folds to constants at import.
extension ONNXConversion {
    // MARK: Constants known at import

    /// The node's inputs when every one is a known constant, else `nil`.
    func knownInputs(_ node: ONNXNode) -> [ONNXConstant]? {
        let present = node.inputs.filter { !$0.isEmpty }
        let known = present.compactMap { values[$0] == nil ? constants[$0] : nil }
        return known.count == present.count && !known.isEmpty ? known : nil
    }

    /// Applies a data-movement function of element positions to a constant:
    /// `move` gets a tensor of the positions `0..<count` and returns the positions each result element takes.
    func moved(_ constant: ONNXConstant, _ move: (StaticTensor) throws -> StaticTensor) throws -> ONNXConstant {
        let positions = try move(StaticTensor(shape: constant.shape, values: Array(0..<constant.floats.count)))
        switch constant {
        case .floats(_, let values): return .floats(shape: positions.shape, values: positions.values.map { values[$0] })
        case .integers(let tensor): return .integers(StaticTensor(shape: positions.shape, values: positions.values.map { tensor.values[$0] }))
        }
    }

    /// The ONNX dimensions of the tensor `name`, computed or constant.
    func dimensions(of name: String) throws(ONNXProblem) -> [Int] {
        if let value = values[name] ?? dequantized[name]?.value { return onnxShape(value) }
        if let constant = constants[name] { return constant.shape }
        if let shape = dequantized[name]?.constant?.shape { return shape }
        throw ONNXProblem("reads '\(name)', which no node or initializer defines")
    }

    /// Records a constant result; `true` so converters can `return` it.
    @discardableResult
    mutating func defineConstant(_ node: ONNXNode, _ constant: ONNXConstant) -> Bool {
        if let output = node.outputs.first { constants[output] = constant }
        return true
    }

    /// Folds arithmetic on integer constants (shape computations); `false` when the operands are not both integers.
    mutating func foldIntegers(_ node: ONNXNode) throws -> Bool {
        guard let known = knownInputs(node), known.count == 2, let a = known[0].integers, let b = known[1].integers else {
            return false
        }
        let operation: (Int, Int) throws -> Int
        switch node.opType {
        case "Add": operation = { $0 &+ $1 }
        case "Sub": operation = { $0 &- $1 }
        case "Mul": operation = { $0 &* $1 }
        case "Div":
            operation = { x, y in
                guard y != 0 else { throw StaticTensor.Problem("integer division by zero") }
                return x / y
            }
        case "Max": operation = { max($0, $1) }
        case "Min": operation = { min($0, $1) }
        default: return false
        }
        return defineConstant(node, .integers(try StaticTensor.broadcast(a, b, operation)))
    }

    /// `Constant`: its value, from whichever attribute holds it.
    mutating func convertConstant(_ node: ONNXNode) throws {
        if let tensor = node.attributes["value"]?.t {
            defineConstant(node, try model.constant(tensor))
            if let output = node.outputs.first { integerTypes[output] = ONNXDataType(rawValue: tensor.dataType) }
        } else if let value = node.attributes["value_float"] {
            defineConstant(node, .floats(shape: [], values: [value.f]))
        } else if let value = node.attributes["value_floats"] {
            defineConstant(node, .floats(shape: [value.floats.count], values: value.floats))
        } else if let value = node.attributes["value_int"] {
            defineConstant(node, .integers(StaticTensor(shape: [], values: [Int(clamping: value.i)])))
        } else if let value = node.attributes["value_ints"] {
            defineConstant(node, .integers(StaticTensor(vector: value.ints.map { Int(clamping: $0) })))
        } else {
            throw ONNXProblem("has no value Kiln reads (value, value_float(s) or value_int(s))")
        }
    }

    /// `Shape`: the input's static ONNX dimensions, `start` to `end`.
    mutating func convertShape(_ node: ONNXNode) throws {
        let input = try node.input(0)
        let dimensions = try dimensions(of: input)
        let rank = dimensions.count
        func clamped(_ index: Int) -> Int { min(max(index < 0 ? index + rank : index, 0), rank) }
        let (start, end) = (clamped(node.int("start", default: 0)), clamped(node.int("end", default: rank)))
        defineConstant(node, .integers(StaticTensor(vector: start < end ? Array(dimensions[start..<end]) : [])))
    }

    /// `Cast`: folded on constants; float32 and int32 (int64 taken as int32) data convert into each other.
    mutating func convertCast(_ node: ONNXNode) throws {
        let target = node.int("to", default: 0)
        let isFloat = [ONNXDataType.float, .float16, .double].map { Int($0.rawValue) }.contains(target)
        if let known = knownInputs(node) {
            let constant = known[0]
            defineConstant(
                node,
                isFloat
                    ? .floats(shape: constant.shape, values: constant.floats)
                    : .integers(StaticTensor(shape: constant.shape, values: constant.floats.map { Int(exactly: $0.rounded(.towardZero)) ?? 0 })))
            return
        }
        let input = try operand(node.input(0))
        let isInteger = [ONNXDataType.int32, .int64].map { Int($0.rawValue) }.contains(target)
        let isFloat32 = target == Int(ONNXDataType.float.rawValue)
        let dtype = graph.type(of: input.id).dtype
        // float32 to float32, and int32 (indices, arg-max positions) to int32 or int64, are the data itself.
        if isFloat32 && dtype == .float32 || isInteger && dtype == .int32 { return try alias(node) }
        guard isFloat32 && dtype == .int32 || isInteger && dtype == .float32 else {
            throw ONNXProblem("casting \(dtype) data to \(ONNXDataType.name(of: Int32(clamping: target))) is not supported")
        }
        let cast = try add(.cast(to: isFloat32 ? .float32 : .int32), [input.id], node)
        define(node, cast, layout: input.layout)
    }

    // MARK: Reshaping

    /// `Reshape` with a constant target shape (0 copies the input's dimension, -1 is inferred).
    mutating func convertReshape(_ node: ONNXNode) throws {
        guard let requested = try integers(node, 1) else { throw ONNXProblem("is missing its shape input") }
        let input = try node.input(0)
        let dimensions = try dimensions(of: input)
        let target = try resolvedShape(requested, input: dimensions, allowZero: node.int("allowzero", default: 0) != 0)
        if let known = knownInputs(node) {
            defineConstant(node, try moved(known[0]) { try $0.reshaped(target) })
            return
        }
        try reshape(node, try operand(input), to: target)
    }

    /// `Flatten`: `[d0 · … · d(axis-1), d(axis) · …]`; a channels-last image flattened at axis 1 keeps its order.
    mutating func convertFlatten(_ node: ONNXNode) throws {
        let input = try node.input(0)
        let dimensions = try dimensions(of: input)
        guard let axis = Op.normalizedAxis(node.int("axis", default: 1), rank: dimensions.count + 1) else {
            throw ONNXProblem("axis \(node.int("axis", default: 1)) is out of range for rank \(dimensions.count)")
        }
        let target = [dimensions[..<axis].reduce(1, *), dimensions[axis...].reduce(1, *)]
        if let known = knownInputs(node) {
            defineConstant(node, try moved(known[0]) { try $0.reshaped(target) })
            return
        }
        let x = try operand(input)
        if x.layout == .channelsLast, axis == 1 {
            let (n, c, h, w) = (dimensions[0], dimensions[1], dimensions[2], dimensions[3])
            let flat = try add(.reshape([n, h * w * c]), [x.id], node)
            define(node, flat, layout: h * w == 1 ? .plain : .flattenedChannelsLast(channels: c, height: h, width: w))
            return
        }
        try reshape(node, x, to: target)
    }

    /// `Squeeze` and `Unsqueeze`, axes from the input (opset 13 on) or the attribute.
    mutating func convertSqueeze(_ node: ONNXNode, unsqueeze: Bool) throws {
        let input = try node.input(0)
        let dimensions = try dimensions(of: input)
        let axes = try integers(node, 1) ?? node.ints("axes")
        var target: [Int]
        if unsqueeze {
            guard let axes else { throw ONNXProblem("has no axes") }
            let rank = dimensions.count + axes.count
            let inserted = Set(try axes.map { try StaticTensor.axis($0, rank: rank) })
            guard inserted.count == axes.count else { throw ONNXProblem("axes \(axes) repeat") }
            var rest = dimensions.makeIterator()
            target = try (0..<rank).map { axis in
                if inserted.contains(axis) { return 1 }
                guard let next = rest.next() else { throw ONNXProblem("axes \(axes) repeat") }
                return next
            }
        } else {
            let removed = try Set((axes ?? dimensions.indices.filter { dimensions[$0] == 1 }).map { try StaticTensor.axis($0, rank: dimensions.count) })
            guard removed.allSatisfy({ dimensions[$0] == 1 }) else {
                throw ONNXProblem("cannot squeeze axes \(axes ?? []) of \(dimensions): only size-1 axes can be removed")
            }
            target = dimensions.indices.filter { !removed.contains($0) }.map { dimensions[$0] }
        }
        if let known = knownInputs(node) {
            defineConstant(node, try moved(known[0]) { try $0.reshaped(target) })
            return
        }
        try reshape(node, try operand(input), to: target)
    }

    /// Reshapes `x` in ONNX order; a flattened image reshaped to its own flat shape stays as it is.
    mutating func reshape(_ node: ONNXNode, _ x: ONNXValue, to target: [Int]) throws {
        if case .flattenedChannelsLast = x.layout, target == onnxShape(x) {
            define(node, x.id, layout: x.layout)
            return
        }
        define(node, try add(.reshape(Shape(target)), [try plain(x, name: resultName(node))], node))
    }

    /// ONNX's reshape target: 0 copies the input's dimension (unless `allowZero`), one -1 takes the rest.
    func resolvedShape(_ requested: [Int], input: [Int], allowZero: Bool) throws(ONNXProblem) -> [Int] {
        var target = requested.enumerated().map { axis, size in
            size == 0 && !allowZero && axis < input.count ? input[axis] : size
        }
        let problem = ONNXProblem("cannot reshape \(input) to \(requested)")
        guard let total = Shape(input).checkedElementCount else { throw problem }
        if let unknown = target.firstIndex(of: -1) {
            var known = target
            known.remove(at: unknown)
            guard !known.contains(-1), let product = Shape(known).checkedElementCount, product > 0, total % product == 0 else {
                throw problem
            }
            target[unknown] = total / product
        }
        guard target.allSatisfy({ (0...Shape.maximumDimension).contains($0) }), Shape(target).checkedElementCount == total else {
            throw problem
        }
        return target
    }

    /// `Transpose`; on a channels-last value the model's own NCHW↔NHWC transposes cancel against the layout.
    mutating func convertTranspose(_ node: ONNXNode) throws {
        let input = try node.input(0)
        let rank = try dimensions(of: input).count
        let permutation = node.ints("perm") ?? Array((0..<rank).reversed())
        guard permutation.sorted() == Array(0..<rank) else {
            throw ONNXProblem("perm \(permutation) does not reorder \(rank) axes")
        }
        if let known = knownInputs(node) {
            defineConstant(
                node,
                try moved(known[0]) { positions in
                    StaticTensor(
                        shape: permutation.map { positions.shape[$0] },
                        values: permuted(positions.values, shape: positions.shape, permutation))
                })
            return
        }
        let x = try operand(input)
        if x.layout == .channelsLast {
            // NCHW data stored NHWC: ONNX axis a lives at storage axis [0, 3, 1, 2][a].
            let storage = [0, 3, 1, 2]
            define(node, try reordered(x.id, by: permutation.map { storage[$0] }, name: resultName(node)))
            return
        }
        if x.layout == .plain, permutation == [0, 3, 1, 2] {
            // NHWC data made NCHW (tf2onnx writes this before every convolution): the data as it is, channels-last.
            define(node, x.id, layout: .channelsLast)
            return
        }
        define(node, try reordered(try plain(x, name: resultName(node)), by: permutation, name: resultName(node)))
    }

    // MARK: Selecting and joining

    /// `Concat`; channels-last operands are joined along the stored axis of the ONNX one.
    mutating func convertConcat(_ node: ONNXNode) throws {
        let names = node.inputs.filter { !$0.isEmpty }
        let rank = try dimensions(of: try node.input(0)).count
        let axis = try StaticTensor.axis(node.int("axis", default: 0), rank: rank)
        if let known = knownInputs(node) {
            var offset = 0
            let positions = known.map { constant in
                defer { offset += constant.floats.count }
                return StaticTensor(shape: constant.shape, values: Array(offset..<(offset + constant.floats.count)))
            }
            let joined = try StaticTensor.concatenate(positions, axis: axis)
            let all = known.flatMap(\.floats)
            if known.allSatisfy({ $0.integers != nil }) {
                let integers = known.flatMap { $0.integers?.values ?? [] }
                defineConstant(node, .integers(StaticTensor(shape: joined.shape, values: joined.values.map { integers[$0] })))
                return
            }
            defineConstant(node, .floats(shape: joined.shape, values: joined.values.map { all[$0] }))
            return
        }
        let computed = try names.compactMap { try computedOperand($0) }
        let channelsLastResult = rank == 4 && computed.contains { $0.layout == .channelsLast }
        let operands = try laidOut(names, channelsLast: channelsLastResult, node)
        let storedAxis = channelsLastResult ? [0, 3, 1, 2][axis] : axis
        define(
            node, try add(.concatenation(axis: storedAxis, activation: nil), operands, node),
            layout: channelsLastResult ? .channelsLast : .plain)
    }

    /// `Slice` with constant starts, ends, axes and unit steps (any steps on constants' shape arithmetic).
    mutating func convertSlice(_ node: ONNXNode) throws {
        let input = try node.input(0)
        let dimensions = try dimensions(of: input)
        guard let starts = try integers(node, 1), let ends = try integers(node, 2) else {
            throw ONNXProblem("needs constant starts and ends")
        }
        let axes = try (try integers(node, 3) ?? Array(0..<starts.count)).map { try StaticTensor.axis($0, rank: dimensions.count) }
        let steps = try integers(node, 4) ?? Array(repeating: 1, count: starts.count)
        guard axes.count == starts.count, ends.count == starts.count, steps.count == starts.count, Set(axes).count == axes.count
        else { throw ONNXProblem("starts, ends, axes and steps differ in length") }
        var begin = Array(repeating: 0, count: dimensions.count)
        var size = dimensions
        for (index, axis) in axes.enumerated() {
            guard steps[index] == 1 else { throw ONNXProblem("slicing with step \(steps[index]) is not supported (only 1)") }
            let dimension = dimensions[axis]
            func clamped(_ value: Int) -> Int { min(max(value < 0 ? value &+ dimension : value, 0), dimension) }
            begin[axis] = clamped(starts[index])
            size[axis] = max(0, clamped(ends[index]) - begin[axis])
        }
        if let known = knownInputs(node) {
            defineConstant(
                node,
                try moved(known[0]) { positions in
                    StaticTensor(shape: size, values: sliced(positions.values, shape: positions.shape, begin: begin, size: size))
                })
            return
        }
        let x = try operand(input)
        if x.layout == .channelsLast {
            let storage = [0, 2, 3, 1]
            define(
                node, try add(.slice(begin: storage.map { begin[$0] }, size: storage.map { size[$0] }), [x.id], node),
                layout: .channelsLast)
            return
        }
        define(node, try add(.slice(begin: begin, size: size), [try plain(x, name: resultName(node))], node))
    }

    /// `Split` along an axis into the sizes the `split` input (or attribute) gives, or equal parts
    /// (the last smaller, as opset 18 has it): one slice per output.
    mutating func convertSplit(_ node: ONNXNode) throws {
        let input = try node.input(0)
        let dimensions = try dimensions(of: input)
        let axis = try StaticTensor.axis(node.int("axis", default: 0), rank: dimensions.count)
        let parts = node.outputs.count
        var sizes = try integers(node, 1) ?? node.ints("split") ?? []
        if sizes.isEmpty, parts > 0 {
            let chunk = (dimensions[axis] + parts - 1) / parts
            sizes = (0..<parts).map { min(chunk, max(dimensions[axis] - $0 * chunk, 0)) }
        }
        guard sizes.count == parts, sizes.allSatisfy({ (0...dimensions[axis]).contains($0) }),
            sizes.reduce(0, +) == dimensions[axis]
        else { throw ONNXProblem("\(parts) outputs of sizes \(sizes) do not divide axis \(axis) of \(dimensions)") }
        var offset = 0
        for (index, output) in node.outputs.enumerated() {
            defer { offset += sizes[index] }
            guard !output.isEmpty else { continue }
            var (begin, size) = (Array(repeating: 0, count: dimensions.count), dimensions)
            (begin[axis], size[axis]) = (offset, sizes[index])
            if let data = constants[input], values[input] == nil, dequantized[input] == nil {
                constants[output] = try moved(data) { positions in
                    StaticTensor(shape: size, values: sliced(positions.values, shape: positions.shape, begin: begin, size: size))
                }
                continue
            }
            let x = try operand(input)
            if x.layout == .channelsLast {
                let storage = [0, 2, 3, 1]
                let id = try graph.addNode(
                    .slice(begin: storage.map { begin[$0] }, size: storage.map { size[$0] }), inputs: [x.id], name: output)
                values[output] = ONNXValue(id: id, layout: .channelsLast)
            } else {
                let id = try graph.addNode(.slice(begin: begin, size: size), inputs: [try plain(x, name: output)], name: output)
                values[output] = ONNXValue(id: id, layout: .plain)
            }
        }
    }

    /// `Expand`: broadcast to a constant shape; folded on constants, an add of zeros on data.
    mutating func convertExpand(_ node: ONNXNode) throws {
        guard let requested = try integers(node, 1) else { throw ONNXProblem("needs a constant shape") }
        let input = try node.input(0)
        let dimensions = try dimensions(of: input)
        let target: [Int]
        do {
            target = try Op.broadcast(Shape(dimensions), Shape(requested)).dimensions
        } catch {
            throw ONNXProblem("cannot expand \(dimensions) to \(requested): \(error.message)")
        }
        guard let count = Shape(target).checkedElementCount, count <= StaticTensor.maximumCount else {
            throw ONNXProblem("expanding \(dimensions) to \(target) is too large")
        }
        if let known = knownInputs(node) {
            defineConstant(
                node,
                try moved(known[0]) { positions in
                    try StaticTensor.broadcast(positions, StaticTensor(shape: target, values: Array(repeating: 0, count: count))) { a, _ in a }
                })
            return
        }
        let x = try plain(try operand(input), name: resultName(node))
        let zeros = try materialize("\(resultName(node)).zeros", shape: target, values: Array(repeating: 0, count: count))
        define(node, try add(.add(activation: nil), [x, zeros], node))
    }

    /// `Gather`: folded on constants, a slice of the data at one index or a contiguous run, Kiln's gather otherwise.
    mutating func convertGather(_ node: ONNXNode) throws {
        let input = try node.input(0)
        let dimensions = try dimensions(of: input)
        let axis = try StaticTensor.axis(node.int("axis", default: 0), rank: dimensions.count)
        guard let indexTensor = constants[try node.input(1)]?.integers else { return try gatherData(node, axis: axis) }
        let indices = StaticTensor(
            shape: indexTensor.shape, values: indexTensor.values.map { $0 < 0 ? $0 &+ dimensions[axis] : $0 })
        if let data = constants[input], values[input] == nil {
            defineConstant(node, try moved(data) { try $0.gather(indices, axis: axis) })
            return
        }
        let count = indices.values.count
        guard indices.shape.count <= 1, let first = indices.values.first, first >= 0, first <= dimensions[axis] - count,
            indices.values == Array(first..<(first + count))
        else { return try gatherData(node, axis: axis) }
        var begin = Array(repeating: 0, count: dimensions.count)
        var size = dimensions
        (begin[axis], size[axis]) = (first, indices.values.count)
        let x = try plain(try operand(input), name: resultName(node))
        var result = try add(.slice(begin: begin, size: size), [x], node, suffix: indices.shape.isEmpty ? ".slice" : "")
        if indices.shape.isEmpty {
            size.remove(at: axis)
            result = try add(.reshape(Shape(size)), [result], node)
        }
        define(node, result)
    }

    /// `Pad` with constant pads and a zero constant value.
    mutating func convertPad(_ node: ONNXNode) throws {
        guard (node.string("mode") ?? "constant") == "constant" else {
            throw ONNXProblem("mode '\(node.string("mode") ?? "")' is not supported (only constant)")
        }
        if let value = try floats(node, 2)?.values.first, value != 0 {
            throw ONNXProblem("padding with \(value) is not supported (only zeros)")
        }
        let x = try operand(node.input(0))
        let dimensions = onnxShape(x)
        guard let pads = try integers(node, 1) else { throw ONNXProblem("needs constant pads") }
        let axes = try (try integers(node, 3) ?? Array(dimensions.indices)).map { try StaticTensor.axis($0, rank: dimensions.count) }
        guard pads.count == 2 * axes.count, pads.allSatisfy({ $0 >= 0 }) else {
            throw ONNXProblem("pads \(pads) are not non-negative [begins…, ends…] for axes \(axes)")
        }
        var paddings = Array(repeating: [0, 0], count: dimensions.count)
        for (index, axis) in axes.enumerated() { paddings[axis] = [pads[index], pads[index + axes.count]] }
        if x.layout == .channelsLast {
            define(node, try add(.pad(paddings: [0, 2, 3, 1].map { paddings[$0] }), [x.id], node), layout: .channelsLast)
            return
        }
        define(node, try add(.pad(paddings: paddings), [try plain(x, name: resultName(node))], node))
    }
}
