/// Identifies a value (an SSA tensor) in a ``Graph``.
public struct ValueID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The index into ``Graph/values``.
    public var index: Int

    /// Creates an id for the value at `index`.
    public init(_ index: Int) { self.index = index }

    public init(from decoder: any Decoder) throws {
        index = try decoder.singleValueContainer().decode(Int.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(index)
    }

    public static func < (lhs: ValueID, rhs: ValueID) -> Bool { lhs.index < rhs.index }

    /// Written as `%3`.
    public var description: String { "%\(index)" }
}

/// A tensor in the graph: a model input, a constant, or a node's result.
public struct Value: Hashable, Sendable, Codable {
    /// A readable name, e.g. `conv1.weight` or `dense_0`.
    public var name: String
    /// The value's static type.
    public var type: TensorType

    /// Creates a value.
    public init(name: String, type: TensorType) {
        self.name = name
        self.type = type
    }
}

/// One operation applied to values, producing new values.
public struct Node: Hashable, Sendable, Codable {
    /// What the node computes.
    public var op: Op
    /// Operand values, in the op's documented order.
    public var inputs: [ValueID]
    /// Result values.
    public var outputs: [ValueID]
    /// The layer name the node came from.
    public var name: String
    /// Where the layer was written, when the graph came from source.
    public var location: SourceLocation?

    /// Creates a node.
    public init(op: Op, inputs: [ValueID], outputs: [ValueID], name: String, location: SourceLocation? = nil) {
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
        self.name = name
        self.location = location
    }
}

/// A model as a dataflow graph: typed values, constants, and nodes in
/// topological order.
///
/// ```swift
/// var graph = Graph(name: "mlp")
/// let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 4]))
/// let w = graph.addConstant(name: "w", data: TensorData([Float](repeating: 1, count: 8), shape: [2, 4]))
/// let y = try graph.addNode(.fullyConnected(activation: .relu), inputs: [x, w], name: "fc")
/// graph.outputs = [y]
/// ```
public struct Graph: Hashable, Sendable {
    /// The model's name.
    public var name: String
    /// Every value, indexed by ``ValueID/index``.
    public var values: [Value]
    /// Constant values and where their contents come from.
    public var constants: [ValueID: ConstantSource]
    /// Nodes in a valid execution order.
    public var nodes: [Node]
    /// The model's inputs, in calling order.
    public var inputs: [ValueID]
    /// The model's outputs, in calling order.
    public var outputs: [ValueID]
    /// Where intermediates live, once memory has been planned.
    public var memoryPlan: MemoryPlan?
    /// What the kernel plan favors where a kernel trades weight bytes for speed.
    public var optimizationGoal: OptimizationGoal = .speed
    /// Layers that run together band by band (`band-depthwise-chains`); the memory plan gives
    /// their intermediates only the slots the bands use.
    public var bandedChains: [BandedChain] = []

    /// Creates an empty graph.
    public init(name: String) {
        self.name = name
        self.values = []
        self.constants = [:]
        self.nodes = []
        self.inputs = []
        self.outputs = []
        self.memoryPlan = nil
    }

    /// The value with id `id`.
    public subscript(id: ValueID) -> Value {
        get { values[id.index] }
        set { values[id.index] = newValue }
    }

    /// The type of value `id`.
    public func type(of id: ValueID) -> TensorType { values[id.index].type }

    /// Adds a new value without a producer; callers make it an input, constant or node result.
    public mutating func addValue(name: String, type: TensorType) -> ValueID {
        values.append(Value(name: name, type: type))
        return ValueID(values.count - 1)
    }

    /// Adds a model input.
    @discardableResult
    public mutating func addInput(name: String, type: TensorType) -> ValueID {
        let id = addValue(name: name, type: type)
        inputs.append(id)
        return id
    }

    /// Adds a constant whose contents are known now.
    public mutating func addConstant(name: String, data: TensorData, quantization: QuantizationParameters? = nil)
        -> ValueID
    {
        let id = addValue(name: name, type: TensorType(data.dtype, data.shape, quantization: quantization))
        constants[id] = .data(data)
        return id
    }

    /// Adds a constant whose contents are resolved later (from a file or an initializer).
    public mutating func addConstant(name: String, type: TensorType, source: ConstantSource) -> ValueID {
        let id = addValue(name: name, type: type)
        constants[id] = source
        return id
    }

    /// Appends a node, inferring its result type from its operands.
    ///
    /// Quantized results take their parameters from `quantization`, since
    /// they are chosen by calibration, not implied by the operands.
    ///
    /// - Throws: ``DiagnosticError`` naming the layer and `location` when the
    ///   operands do not fit the op.
    @discardableResult
    public mutating func addNode(
        _ op: Op, inputs: [ValueID], name: String, location: SourceLocation? = nil,
        quantization: QuantizationParameters? = nil
    ) throws(DiagnosticError) -> ValueID {
        let operandTypes = inputs.map { type(of: $0) }
        var resultType: TensorType
        do throws(ShapeError) {
            resultType = try op.inferResultType(operands: operandTypes)
            if let quantization { resultType.quantization = quantization }
            if let problem = resultType.problem { throw ShapeError("its result: \(problem)") }
        } catch {
            throw DiagnosticError("layer '\(name)' (\(op.kindName)): \(error.message)", at: location)
        }
        let output = addValue(name: name, type: resultType)
        nodes.append(Node(op: op, inputs: inputs, outputs: [output], name: name, location: location))
        return output
    }

    /// Whether `id` is a constant.
    public func isConstant(_ id: ValueID) -> Bool { constants[id] != nil }

    /// The contents of constant `id`, if it is a constant with known data.
    public func constantData(_ id: ValueID) -> TensorData? {
        if case .data(let data)? = constants[id] { return data }
        return nil
    }

    /// For each value, the indices of the nodes that read it.
    public func consumers() -> [ValueID: [Int]] {
        var result: [ValueID: [Int]] = [:]
        for (index, node) in nodes.enumerated() {
            for input in node.inputs { result[input, default: []].append(index) }
        }
        return result
    }

    /// For each node result, the index of the node that produces it.
    public func producers() -> [ValueID: Int] {
        var result: [ValueID: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for output in node.outputs { result[output] = index }
        }
        return result
    }

    /// The graph with unused constants and values removed and ids renumbered densely.
    public func compacted() -> Graph {
        var used = Set(inputs).union(outputs)
        for node in nodes {
            used.formUnion(node.inputs)
            used.formUnion(node.outputs)
        }
        let kept = used.sorted()
        var newID: [ValueID: ValueID] = [:]
        for (index, id) in kept.enumerated() { newID[id] = ValueID(index) }
        func map(_ id: ValueID) -> ValueID { newID[id] ?? id }

        var result = Graph(name: name)
        result.values = kept.map { values[$0.index] }
        for (id, source) in constants where newID[id] != nil { result.constants[map(id)] = source }
        result.nodes = nodes.map { node in
            var node = node
            node.inputs = node.inputs.map(map)
            node.outputs = node.outputs.map(map)
            return node
        }
        result.inputs = inputs.map(map)
        result.outputs = outputs.map(map)
        // Renumbering invalidates the plan's keys; plan memory after compacting.
        result.memoryPlan = nil
        result.bandedChains = []
        return result
    }

    /// Elements held in constants that feed nodes (parameters, after any pass that changed them).
    public var parameterCount: Int {
        constants.keys.reduce(0) { $0 + type(of: $1).elementCount }
    }

    /// Bytes held in constants.
    public var constantByteCount: Int {
        constants.keys.reduce(0) { $0 + type(of: $1).byteCount }
    }
}
