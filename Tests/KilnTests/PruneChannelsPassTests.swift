import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnPasses
import KilnReference
import Testing

/// `prune-channels`: whole output channels go with the next layer's matching inputs, through the
/// channel-keeping ops between them; branches keep theirs; calibration repairs the mean.
@Suite struct PruneChannelsPassTests {
    static func weights(_ shape: Shape, seed: UInt64) -> TensorData {
        TensorData(uniformValues(shape.elementCount, in: -0.5...0.5, seed: seed), shape: shape)
    }

    /// conv 3×3 (16) → depthwise 3×3 → max pool → conv 1×1 (8) → mean → fully connected (4).
    static func network() throws -> Graph {
        var graph = Graph(name: "channels")
        var x = graph.addInput(name: "x", type: TensorType(.float32, [1, 8, 8, 3]))
        func constant(_ shape: Shape, _ seed: UInt64) -> ValueID { graph.addConstant(name: "c\(seed)", data: weights(shape, seed: seed)) }
        x = try graph.addNode(
            .conv2D(Conv2DAttributes(padding: .same, activation: .relu)), inputs: [x, constant([16, 3, 3, 3], 1), constant([16], 2)],
            name: "conv1")
        x = try graph.addNode(
            .depthwiseConv2D(Conv2DAttributes(padding: .same, activation: .relu6)),
            inputs: [x, constant([1, 3, 3, 16], 3), constant([16], 4)], name: "depthwise")
        x = try graph.addNode(.maxPool2D(Pool2DAttributes(window: [2, 2], strides: [2, 2])), inputs: [x], name: "pool")
        x = try graph.addNode(
            .conv2D(Conv2DAttributes(activation: .relu)), inputs: [x, constant([8, 1, 1, 16], 5), constant([8], 6)], name: "conv2")
        x = try graph.addNode(.mean(axes: [1, 2], keepDimensions: false), inputs: [x], name: "mean")
        graph.outputs = [
            try graph.addNode(.fullyConnected(activation: nil), inputs: [x, constant([4, 8], 7), constant([4], 8)], name: "fc")
        ]
        return graph
    }

    @Test func chainsShrinkAndStillMatchTheReference() throws {
        var graph = try Self.network()
        try PruneChannelsPass(.init(fraction: 0.5)).run(on: &graph)
        func filter(_ name: String) -> [Int] {
            graph.type(of: graph.nodes.first { $0.name == name }!.inputs[1]).shape.dimensions
        }
        #expect(filter("conv1") == [8, 3, 3, 3])
        #expect(filter("depthwise") == [1, 3, 3, 8])
        #expect(filter("conv2") == [4, 1, 1, 8])
        #expect(filter("fc") == [4, 4])
        #expect(graph.type(of: graph.outputs[0]).shape == [1, 4])
        let options = CompileOptions(target: .host, pruning: .magnitude(sparsity: 0.5, pattern: .channels))
        try expectCompiledMatchesReference(try Self.network(), options: options, "channel-pruned network")
    }

    /// A layer whose result also feeds a residual add keeps its channels.
    @Test func branchesKeepTheirChannels() throws {
        var graph = Graph(name: "residual")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 6, 6, 8]))
        let filter = graph.addConstant(name: "w", data: Self.weights([8, 3, 3, 8], seed: 1))
        let other = graph.addConstant(name: "v", data: Self.weights([8, 3, 3, 8], seed: 2))
        let convolution = Op.conv2D(Conv2DAttributes(padding: .same, activation: .relu))
        let first = try graph.addNode(convolution, inputs: [x, filter], name: "first")
        let sum = try graph.addNode(.add(activation: nil), inputs: [first, x], name: "add")
        graph.outputs = [try graph.addNode(convolution, inputs: [sum, other], name: "second")]
        let before = graph
        try PruneChannelsPass(.init(fraction: 0.5)).run(on: &graph)
        #expect(graph == before)
    }

    /// With calibration samples, ranking by each channel's variance and moving the removed
    /// channels' means into the next bias keeps the output closer than magnitude alone.
    @Test func calibrationKeepsTheOutputCloser() throws {
        var graph = Graph(name: "mlp")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 32]))
        let w1 = graph.addConstant(name: "w1", data: Self.weights([64, 32], seed: 1))
        let b1 = graph.addConstant(name: "b1", data: TensorData(uniformValues(64, in: 0...0.6, seed: 2), shape: [64]))
        let hidden = try graph.addNode(.fullyConnected(activation: .relu), inputs: [x, w1, b1], name: "hidden")
        let w2 = graph.addConstant(name: "w2", data: Self.weights([10, 64], seed: 3))
        graph.outputs = [try graph.addNode(.fullyConnected(activation: nil), inputs: [hidden, w2], name: "out")]
        let samples = (0..<64).map { [TensorData(uniformValues(32, in: -1...1, seed: UInt64(100 + $0)), shape: [1, 32])] }
        let reference = try ReferenceInterpreter(graph)
        func error(_ pass: PruneChannelsPass) throws -> Float {
            var pruned = graph
            try pass.run(on: &pruned)
            #expect(pruned.type(of: pruned.nodes[1].inputs[1]).shape == [10, 32])
            let interpreter = try ReferenceInterpreter(pruned)
            var squared: Float = 0
            for sample in samples {
                let (a, b) = (try reference.run(sample)[0].floats(), try interpreter.run(sample)[0].floats())
                squared += zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            }
            return squared
        }
        let magnitude = try error(PruneChannelsPass(.init(fraction: 0.5)))
        let calibrated = try error(PruneChannelsPass(.init(fraction: 0.5, calibration: samples)))
        #expect(calibrated < 0.5 * magnitude, "calibrated \(calibrated), magnitude \(magnitude)")
    }
}
