import KilnIR

/// Arithmetic exporters write on integer indices before a `Gather`.
///
/// tf2onnx writes Keras's wrapping of negative token ids as
/// `Less(Cast(ids), 0)`, `Cast`, `Not`, `Mul` and `Add` on int32 data. Kiln's
/// gather counts negative indices from the end itself, so such arithmetic is
/// recorded as an expression instead of run; a `Gather` reading it evaluates
/// the expression on every index in `-count..<count` and, when each comes out
/// unchanged or wrapped to the same row, gathers at the raw indices.
indirect enum IndexExpression {
    /// An int32 graph input (token ids).
    case source(String)
    /// A known integer (a scalar or one-element constant).
    case constant(Int)
    /// An element-wise operator of the expressions.
    case operation(String, [IndexExpression])

    /// The expression's value for one index value of its source; booleans are 0 and 1.
    func value(at index: Int) -> Int? {
        switch self {
        case .source: return index
        case .constant(let value): return value
        case .operation(let op, let operands):
            let values = operands.compactMap { $0.value(at: index) }
            guard values.count == operands.count else { return nil }
            switch (op, values.count) {
            case ("Add", 2): return values[0] &+ values[1]
            case ("Sub", 2): return values[0] &- values[1]
            case ("Mul", 2): return values[0] &* values[1]
            case ("Less", 2): return values[0] < values[1] ? 1 : 0
            case ("Greater", 2): return values[0] > values[1] ? 1 : 0
            case ("Equal", 2): return values[0] == values[1] ? 1 : 0
            case ("Not", 1): return values[0] == 0 ? 1 : 0
            case ("Cast", 1), ("Identity", 1): return values[0]
            case ("Where", 3): return values[0] != 0 ? values[1] : values[2]
            default: return nil
            }
        }
    }

    /// The graph input the expression computes on, if it reads exactly one.
    var source: String? {
        switch self {
        case .source(let name): return name
        case .constant: return nil
        case .operation(_, let operands):
            let sources = Set(operands.compactMap(\.source))
            return sources.count == 1 ? sources.first : nil
        }
    }
}

extension ONNXConversion {
    /// Operators recorded as index arithmetic when they compute on index inputs.
    static let indexOperators: Set<String> = ["Add", "Sub", "Mul", "Less", "Greater", "Equal", "Not", "Cast", "Identity", "Where"]

    /// Records `node` as an expression when it computes on int32 graph inputs
    /// or earlier expressions, with only scalar constants besides; `false` otherwise.
    mutating func recordIndexArithmetic(_ node: ONNXNode) throws -> Bool {
        guard Self.indexOperators.contains(node.opType), node.outputs.count == 1, let output = node.outputs.first else { return false }
        var operands: [IndexExpression] = []
        var readsIndices = false
        for name in node.inputs {
            if let expression = indexExpressions[name] {
                operands.append(expression)
                readsIndices = true
            } else if let value = values[name], graph.inputs.contains(value.id), graph.type(of: value.id).dtype == .int32 {
                operands.append(.source(name))
                readsIndices = true
            } else if let constant = constants[name], constant.shape.reduce(1, *) == 1, let first = constant.floats.first,
                let integer = Int(exactly: first)
            {
                operands.append(.constant(integer))
            } else {
                return false
            }
        }
        guard readsIndices else { return false }
        indexExpressions[output] = .operation(node.opType, operands)
        return true
    }

    /// The raw indices behind `name` when it is index arithmetic a gather along an axis of `count` may skip.
    func indicesBehind(_ name: String, count: Int) throws -> String? {
        guard let expression = indexExpressions[name] else { return nil }
        guard let source = expression.source else {
            throw ONNXProblem("indices '\(name)' combine several inputs, which is not supported")
        }
        for index in -count..<count {
            let wrapped = index < 0 ? index + count : index
            guard let value = expression.value(at: index), value == index || value == wrapped else {
                throw ONNXProblem(
                    "indices '\(name)' are arithmetic on '\(source)' that changes index \(index); Kiln gathers at raw "
                        + "indices (negative ones counting from the end)")
            }
        }
        return source
    }
}
