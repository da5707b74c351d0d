import Foundation

extension TensorData: Codable {
    private enum CodingKeys: String, CodingKey { case dtype, shape, base64 }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let dtype = try container.decode(DType.self, forKey: .dtype)
        let shape = try container.decode(Shape.self, forKey: .shape)
        let text = try container.decode(String.self, forKey: .base64)
        guard let data = Data(base64Encoded: text), data.count == shape.elementCount * dtype.byteSize else {
            throw DecodingError.dataCorruptedError(
                forKey: .base64, in: container, debugDescription: "tensor bytes do not match \(dtype)\(shape)")
        }
        self.init(dtype: dtype, shape: shape, bytes: [UInt8](data))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dtype, forKey: .dtype)
        try container.encode(shape, forKey: .shape)
        try container.encode(Data(bytes).base64EncodedString(), forKey: .base64)
    }
}

extension Graph: Codable {
    private enum CodingKeys: String, CodingKey { case name, values, constants, nodes, inputs, outputs, memoryPlan, optimizationGoal, bandedChains }

    private struct ConstantEntry: Codable {
        var id: ValueID
        var source: ConstantSource
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try container.decode(String.self, forKey: .name))
        values = try container.decode([Value].self, forKey: .values)
        nodes = try container.decode([Node].self, forKey: .nodes)
        inputs = try container.decode([ValueID].self, forKey: .inputs)
        outputs = try container.decode([ValueID].self, forKey: .outputs)
        memoryPlan = try container.decodeIfPresent(MemoryPlan.self, forKey: .memoryPlan)
        optimizationGoal = try container.decodeIfPresent(OptimizationGoal.self, forKey: .optimizationGoal) ?? .speed
        bandedChains = try container.decodeIfPresent([BandedChain].self, forKey: .bandedChains) ?? []
        for entry in try container.decode([ConstantEntry].self, forKey: .constants) {
            constants[entry.id] = entry.source
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(values, forKey: .values)
        let entries = constants.sorted { $0.key < $1.key }.map { ConstantEntry(id: $0.key, source: $0.value) }
        try container.encode(entries, forKey: .constants)
        try container.encode(nodes, forKey: .nodes)
        try container.encode(inputs, forKey: .inputs)
        try container.encode(outputs, forKey: .outputs)
        try container.encodeIfPresent(memoryPlan, forKey: .memoryPlan)
        try container.encode(optimizationGoal, forKey: .optimizationGoal)
        if !bandedChains.isEmpty { try container.encode(bandedChains, forKey: .bandedChains) }
    }

    /// The graph as JSON, the form the tracer prints and tools read.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    /// Reads a graph from ``jsonData()``'s output.
    public init(jsonData: Data) throws {
        self = try JSONDecoder().decode(Graph.self, from: jsonData)
    }
}
