import Foundation
import KilnCompiler
import KilnIR
import Testing

/// `kiln inspect` on a DSL model lists the weights its file must hold, before loading them, and
/// its tables start with the model's inputs.
@Suite struct ExpectedWeightsTests {
    static func graph() throws -> Graph {
        var graph = Graph(name: "needs_weights")
        let x = graph.addInput(name: "image", type: TensorType(.float32, [1, 4]))
        func file(_ key: String) -> ConstantSource {
            .file(WeightReference(path: "/models/weights.safetensors", format: .safetensors, key: key, location: nil))
        }
        let weight = graph.addConstant(name: "dense_0.weight", type: TensorType(.float32, [3, 4]), source: file("dense_0.weight"))
        let bias = graph.addConstant(name: "dense_0.bias", type: TensorType(.float32, [3]), source: file("dense_0.bias"))
        graph.outputs = [try graph.addNode(.fullyConnected(activation: nil), inputs: [x, weight, bias], name: "dense_0")]
        return graph
    }

    @Test func keysAndShapesComeFromTheTracedGraph() throws {
        let expected = ExpectedWeights(try Self.graph())
        #expect(expected.entries.map(\.key) == ["dense_0.bias", "dense_0.weight"])
        #expect(expected.entries.map(\.shape) == [[3], [3, 4]])
        let lines = expected.table.split(separator: "\n").map(String.init)
        #expect(lines.count == 3 && lines[2].hasPrefix("weights.safetensors  dense_0.weight  [3x4]"), "\(expected.table)")
    }

    @Test func theLayerTableStartsWithTheInputs() throws {
        let table = ModelReport(try Self.graph()).table.split(separator: "\n").map(String.init)
        #expect(table[1].hasPrefix("image") && table[1].contains("input f32") && table[1].contains("[1x4]"), "\(table)")
        #expect(table[2].hasPrefix("dense_0"))
    }
}
