import Testing

@testable import KilnIR

/// Which residual adds code generation fuses into the layer before them, and
/// the lifetimes that let the layer write the add's result.
@Suite struct ResidualAddTests {
    /// `x → conv → add(conv, x)`, optionally with a second reader of the conv
    /// result or a residual that broadcasts.
    static func network(secondReader: Bool = false, broadcastResidual: Bool = false) throws -> Graph {
        var graph = Graph(name: "residual")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 6, 6, 8]))
        let filter = graph.addConstant(
            name: "w", data: TensorData([Float](repeating: 0.1, count: 8 * 9 * 8), shape: [8, 3, 3, 8]))
        let conv = try graph.addNode(.conv2D(Conv2DAttributes(padding: .same)), inputs: [x, filter], name: "conv")
        let residual = broadcastResidual ? graph.addInput(name: "r", type: TensorType(.float32, [1, 1, 1, 8])) : x
        let sum = try graph.addNode(.add(activation: .relu), inputs: [conv, residual], name: "add")
        graph.outputs = [sum]
        if secondReader { graph.outputs.append(try graph.addNode(.activation(.relu), inputs: [conv], name: "relu")) }
        return graph
    }

    @Test func addRightAfterItsOnlyReaderIsFused() throws {
        let graph = try Self.network()
        let fusions = graph.residualAdds()
        #expect(fusions.count == 1)
        #expect(fusions[1]?.layer == 0)
        #expect(fusions[1]?.residual == graph.inputs[0])
    }

    @Test func sharedOrBroadcastOperandsAreNotFused() throws {
        #expect(try Self.network(secondReader: true).residualAdds().isEmpty)
        #expect(try Self.network(broadcastResidual: true).residualAdds().isEmpty)
    }

    /// The add's result is written while the layer runs, so it must not share
    /// bytes with the layer's input: its lifetime starts at the layer.
    @Test func fusedResultIsLiveFromTheLayer() throws {
        // x → copy → conv → add(conv, copy) → after: every value but x lives in the arena.
        var graph = Graph(name: "residual")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 6, 6, 8]))
        let filter = graph.addConstant(
            name: "w", data: TensorData([Float](repeating: 0.1, count: 8 * 9 * 8), shape: [8, 3, 3, 8]))
        let copy = try graph.addNode(.activation(.relu), inputs: [x], name: "copy")
        let conv = try graph.addNode(.conv2D(Conv2DAttributes(padding: .same)), inputs: [copy, filter], name: "conv")
        let sum = try graph.addNode(.add(activation: nil), inputs: [conv, copy], name: "add")
        graph.outputs = [try graph.addNode(.activation(.relu), inputs: [sum], name: "after")]
        #expect(graph.residualAdds()[2]?.layer == 1)
        let lifetimes = graph.lifetimes()
        #expect(lifetimes[sum] == 1...3)
        #expect(lifetimes[copy] == 0...2)
    }
}
