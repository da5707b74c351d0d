import Foundation
import Testing

@testable import KilnIR

@Suite struct GraphTests {
    static func smallGraph() throws -> Graph {
        var graph = Graph(name: "mlp")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 4]))
        let w = graph.addConstant(name: "fc.weight", data: TensorData((0..<12).map(Float.init), shape: [3, 4]))
        let b = graph.addConstant(
            name: "fc.bias", type: TensorType(.float32, [3]),
            source: .initializer(WeightInitializer(scheme: .zeros, seed: 1, fanIn: 4, fanOut: 3)))
        let y = try graph.addNode(
            .fullyConnected(activation: .relu), inputs: [x, w, b], name: "fc",
            location: SourceLocation(file: "Model.swift", line: 7))
        graph.outputs = [y]
        return graph
    }

    @Test func jsonRoundTripPreservesEverything() throws {
        var graph = try Self.smallGraph()
        graph.memoryPlan = MemoryPlan(offsets: [:], arenaByteCount: 0, alignment: 64)
        let decoded = try Graph(jsonData: graph.jsonData())
        #expect(decoded == graph)
    }

    @Test func corruptJSONIsAnError() throws {
        var text = String(decoding: try Self.smallGraph().jsonData(), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"base64\":\"", with: "\"base64\":\"AAA")
        #expect(throws: (any Error).self) { try Graph(jsonData: Data(text.utf8)) }
    }

    @Test func verifierAcceptsValidGraphAndFlagsUseBeforeDefinition() throws {
        var graph = try Self.smallGraph()
        #expect(graph.verificationDiagnostics().isEmpty)
        graph.nodes[0].inputs[0] = ValueID(99)
        #expect(!graph.verificationDiagnostics().isEmpty)
    }

    @Test func verifierFlagsWrongResultType() throws {
        var graph = try Self.smallGraph()
        graph[graph.outputs[0]].type = TensorType(.float32, [1, 5])
        let diagnostics = graph.verificationDiagnostics()
        #expect(diagnostics.contains { $0.message.contains("produces f32[1x3]") })
        #expect(diagnostics.first?.location?.line == 7)
    }

    @Test func verifierFlagsOverlappingMemoryPlan() throws {
        var graph = Graph(name: "chain")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [16]))
        let a = try graph.addNode(.activation(.relu), inputs: [x], name: "a")
        let b = try graph.addNode(.activation(.tanh), inputs: [a], name: "b")
        let c = try graph.addNode(.activation(.sigmoid), inputs: [b], name: "c")
        graph.outputs = [c]
        graph.memoryPlan = MemoryPlan(offsets: [a: 0, b: 32], arenaByteCount: 128, alignment: 32)
        #expect(graph.memoryPlanDiagnostics(graph.memoryPlan!).contains { $0.message.contains("share bytes") })
        graph.memoryPlan = MemoryPlan(offsets: [a: 0, b: 64], arenaByteCount: 128, alignment: 32)
        #expect(graph.verificationDiagnostics().isEmpty)
    }

    @Test func textDumpIsReadable() throws {
        let dump = try Self.smallGraph().textDump
        #expect(dump.contains("graph mlp(%0: f32[1x4]) -> (%3)"))
        #expect(dump.contains("%3 = fully_connected(%0, %1, %2) {activation: relu} : f32[1x3]  // fc @ Model.swift:7"))
    }

    @Test func initializerIsDeterministicAndBounded() {
        let initializer = WeightInitializer(scheme: .heUniform, seed: 42, fanIn: 6, fanOut: 2)
        let a = initializer.generate(shape: [2, 6]).floats()
        #expect(a == initializer.generate(shape: [2, 6]).floats())
        #expect(a.allSatisfy { abs($0) <= 1 })
        #expect(Set(a).count == a.count)
    }

    @Test func tensorDataConvertsEveryType() {
        #expect(TensorData(int8: [-128, 0, 127], shape: [3]).floats() == [-128, 0, 127])
        #expect(TensorData(int32: [-70000, 5], shape: [2]).int32s() == [-70000, 5])
        #expect(TensorData(float16: [0.5, -2, 1000], shape: [3]).floats() == [0.5, -2, 1000])
        #expect(TensorData([1.5, -0.25], shape: [2]).floats() == [1.5, -0.25])
    }
}
