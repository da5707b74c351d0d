import Foundation
import Kiln
import KilnCodegen
import KilnCompiler
import KilnIR
import KilnRuntime
import Testing

/// Layers split among threads (``KernelChoice/split``) give the same bytes on any number of
/// threads: each thread computes whole output rows exactly as one thread does.
@Suite struct ThreadedRunTests {
    /// Large convolutions (plain, strided, depthwise, pointwise) and a matrix product: every
    /// kernel family that splits its rows.
    static func network() throws -> Graph {
        var graph = Graph(name: "threaded")
        var seed: UInt64 = 40
        func constant(_ shape: Shape) -> ValueID {
            seed += 1
            return graph.addConstant(name: "c\(seed)", data: TensorData(uniformValues(shape.elementCount, in: -0.4...0.4, seed: seed), shape: shape))
        }
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 33, 29, 8]))
        let stem = try graph.addNode(
            .conv2D(Conv2DAttributes(strides: [1, 1], padding: .same, activation: .relu)),
            inputs: [x, constant([48, 3, 3, 8]), constant([48])], name: "stem")
        let depthwise = try graph.addNode(
            .depthwiseConv2D(Conv2DAttributes(strides: [1, 2], padding: .same, activation: .relu6)),
            inputs: [stem, constant([1, 3, 3, 48]), constant([48])], name: "depthwise")
        let pointwise = try graph.addNode(
            .conv2D(Conv2DAttributes(padding: .valid, activation: .relu)), inputs: [depthwise, constant([64, 1, 1, 48])],
            name: "pointwise")
        let merged = try graph.addNode(
            .depthwiseConv2D(Conv2DAttributes(padding: .same)), inputs: [pointwise, constant([1, 3, 3, 64])], name: "merged")
        let rows = try graph.addNode(.reshape([33 * 15, 64]), inputs: [merged], name: "rows")
        let dense = try graph.addNode(
            .fullyConnected(activation: .relu), inputs: [rows, constant([256, 64]), constant([256])], name: "dense")
        let pooled = try graph.addNode(.mean(axes: [0], keepDimensions: true), inputs: [dense], name: "pooled")
        // A matrix-vector product: one row, its 200 output channels split in register tiles.
        graph.outputs = [
            try graph.addNode(
                .fullyConnected(activation: nil), inputs: [pooled, constant([200, 256]), constant([200])], name: "classifier")
        ]
        return graph
    }

    @Test(arguments: ["float32", "int8"])
    func everyThreadCountGivesTheSameBytes(_ precision: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = CompileOptions()
        if precision == "int8" {
            let calibration = try QuantizeInt8Tests.writeCalibration(to: directory, shape: [1, 33, 29, 8], count: 4)
            options = CompileOptions(quantization: .int8(calibration: .npy(calibration.path)))
        }
        let graph = try Self.network()
        let result = try Compiler().compile(graph, options: options, outputDirectory: directory)
        let plan = KernelPlan(graph: result.graph, isa: try Compiler.isaLevelRunningHere(options.target))
        let split = zip(result.graph.nodes, plan.choices).filter { $0.1.split != nil }.map(\.0.name)
        #expect(Set(["stem", "depthwise", "pointwise", "merged", "dense"]).isSubset(of: split), "\(split)")
        let classifier = try #require(result.graph.nodes.firstIndex { $0.name == "classifier" })
        if precision == "float32" {
            #expect(plan.choices[classifier].split?.axis == .outputChannels, "\(plan.choices[classifier])")
        }
        let serialEntry = result.metadata.entryPoint
        #expect(result.metadata.parallelEntryPoint == serialEntry + "_parallel")

        let input = uniformValues(33 * 29 * 8, in: -1...1, seed: 9)
        let serial = try CompiledModel(contentsOf: result.artifact, threads: 1)
        #expect(serial.threadCount == 1)
        let expected = try serial.run(inputs: [input])
        for threads in [2, 3, 4] {
            let model = try CompiledModel(contentsOf: result.artifact, threads: threads)
            #expect(model.threadCount == threads)
            for _ in 0..<3 {
                let output = try model.run(inputs: [input])
                #expect(output[0].map(\.bitPattern) == expected[0].map(\.bitPattern), "\(threads) threads")
            }
        }
    }

    /// Models may share one pool; one runs on it at a time, the other's layers on its own thread.
    @Test func modelsShareAPool() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Compiler().compile(Self.network(), options: CompileOptions(), outputDirectory: directory)
        let pool = ThreadPool(threads: 2)
        let models = try (0..<2).map { _ in try CompiledModel(contentsOf: result.artifact, pool: pool) }
        let input = uniformValues(33 * 29 * 8, in: -1...1, seed: 10)
        let expected = try CompiledModel(contentsOf: result.artifact).run(inputs: [input])[0]
        let outputs = try models.map { try $0.run(inputs: [input])[0] }
        #expect(outputs.allSatisfy { $0.map(\.bitPattern) == expected.map(\.bitPattern) })
    }

    /// Small layers stay on one thread; a model with none to split has no parallel entry point.
    @Test func smallLayersAreNotSplit() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var graph = Graph(name: "small")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 8, 8, 4]))
        let filter = graph.addConstant(name: "w", data: TensorData(uniformValues(8 * 9 * 4, seed: 3), shape: [8, 3, 3, 4]))
        // 8·8·8 outputs of 36 MACs: 18 432, under KernelPlan.parallelMACs.
        graph.outputs = [try graph.addNode(.conv2D(Conv2DAttributes(padding: .same)), inputs: [x, filter], name: "conv")]
        let result = try Compiler().compile(graph, options: CompileOptions(), outputDirectory: directory)
        #expect(result.metadata.parallelEntryPoint == nil)
        let model = try CompiledModel(contentsOf: result.artifact, threads: 2)
        #expect(model.threadCount == 1)
    }
}
