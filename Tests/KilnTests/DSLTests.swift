import Foundation
import Kiln
import KilnIR
import Testing

struct TinyCNN: Model {
    var body: some Layer {
        Input(shape: [1, 8, 8, 1])
        Conv2D(4, kernel: 3, padding: .same, activation: .relu).named("conv")
        MaxPool2D(2)
        Flatten()
        Dense(10)
        Softmax()
    }
}

let mismatchLine = #line + 6
struct MismatchedModel: Model {
    var body: some Layer {
        Input(shape: [1, 8, 8, 1])
        Conv2D(4, kernel: 1)
        Conv2D(4, kernel: 3)
        Conv2D(4, kernel: 9)
    }
}

/// A Dense layer fed an image: legal, and warned about.
struct UnflattenedModel: Model {
    var body: some Layer {
        Input(shape: [1, 6, 6, 2])
        Conv2D(4, kernel: 3, padding: .same)
        Dense(10)
    }
}

let unflattenedLine = #line - 4

struct LoopModel: Model {
    var depth = 3
    var body: some Layer {
        Input(shape: [1, 16])
        for _ in 0..<depth { Dense(16, activation: .tanh) }
        if depth > 2 { ActivationLayer(.gelu) } else { ReLU() }
    }
}

@Suite struct DSLTests {
    @Test func tracesLayersIntoUnfusedGraph() throws {
        let graph = try TinyCNN.graph()
        #expect(graph.name == "TinyCNN")
        #expect(
            graph.nodes.map(\.op.kindName) == [
                "conv2d", "add", "relu", "max_pool2d", "reshape", "fully_connected", "add", "softmax",
            ])
        #expect(graph.type(of: graph.outputs[0]) == TensorType(.float32, [1, 10]))
        #expect(graph.nodes[0].name == "conv")
        #expect(graph.values.contains { $0.name == "conv.weight" && $0.type.shape == [4, 3, 3, 1] })
        #expect(graph.values.contains { $0.name == "dense_0.weight" && $0.type.shape == [10, 64] })
        #expect(graph.nodes[0].location?.file.hasSuffix("DSLTests.swift") == true)
        try graph.verify()
    }

    /// A fully-connected layer on a rank-4 tensor works per pixel, as in Keras; the trace keeps the
    /// graph and warns at the layer's line that Flatten() is probably missing.
    @Test func denseOnAnImageWarnsAboutFlatten() throws {
        let result = UnflattenedModel.trace()
        let graph = try #require(result.graph)
        #expect(graph.type(of: graph.outputs[0]).shape == [1, 6, 6, 10])
        #expect(result.diagnostics.count == 1)
        let warning = try #require(result.diagnostics.first)
        #expect(warning.severity == .warning && warning.location?.line == unflattenedLine)
        #expect(warning.description.contains("DSLTests.swift:\(unflattenedLine):14: warning: Dense(10) applies to the last axis of its [1x6x6x4] input, giving [1x6x6x10]; did you forget Flatten() before it?"), "\(warning)")
    }

    @Test func shapeMismatchNamesLayerFileAndLine() {
        let result = MismatchedModel.trace()
        #expect(result.graph == nil)
        #expect(result.diagnostics.count == 1)
        let diagnostic = result.diagnostics[0]
        #expect(diagnostic.location?.line == mismatchLine)
        #expect(diagnostic.location?.file.hasSuffix("Tests/KilnTests/DSLTests.swift") == true)
        #expect(diagnostic.message.contains("conv2d_2") && diagnostic.message.contains("window does not fit"))
        #expect(diagnostic.description.contains("DSLTests.swift:\(mismatchLine):15: error:"))
    }

    @Test func loopsAndConditionalsBuildLayers() throws {
        let graph = try LoopModel.graph()
        #expect(graph.nodes.filter { $0.op == .activation(.tanh) }.count == 3)
        #expect(graph.nodes.last?.op == .activation(.gelu))
        #expect(Set(graph.nodes.map(\.name)).isSuperset(of: ["dense_0", "dense_1", "dense_2"]))
    }

    @Test func seededWeightsDifferPerLayerButNotPerTrace() throws {
        let first = try LoopModel.graph()
        let second = try LoopModel.graph()
        #expect(first.constants == second.constants)
        let seeds = first.constants.values.compactMap { source -> UInt64? in
            if case .initializer(let initializer) = source { return initializer.seed }
            return nil
        }
        #expect(Set(seeds).count == seeds.count)
    }

    @Test func fileWeightsResolveRelativeToTheModelFile() throws {
        struct FileModel: Model {
            var body: some Layer {
                Input(shape: [1, 2])
                Dense(1)
            }
            var weights: WeightSource { .safetensors("weights/m.safetensors") }
        }
        let graph = try FileModel.graph()
        let references = graph.constants.values.compactMap { source -> WeightReference? in
            if case .file(let reference) = source { return reference }
            return nil
        }
        #expect(references.count == 2)
        #expect(references.allSatisfy { $0.path.hasSuffix("Tests/KilnTests/weights/m.safetensors") })
        #expect(Set(references.map(\.key)) == ["dense_0.weight", "dense_0.bias"])
    }

    @Test func bodyWithoutInputIsDiagnosed() {
        struct NoInput: Model {
            var body: some Layer { Dense(3) }
        }
        #expect(NoInput.trace().diagnostics.first?.message.contains("start the body with Input") == true)
    }

    /// A model whose options ask for pruning sparsity `sparsity`, written on `optionsLine`.
    struct PrunedModel: Model {
        nonisolated(unsafe) static var sparsity = 0.5
        static let optionsLine = #line + 2
        var options: CompileOptions {
            CompileOptions(pruning: .magnitude(sparsity: Self.sparsity))
        }
        var body: some Layer {
            Input(shape: [1, 4])
            Dense(2)
        }
    }

    @Test(.serialized, arguments: [1.5, -0.1, .nan, .infinity])
    func badSparsityIsAnErrorAtTheOptionsLine(_ sparsity: Double) throws {
        PrunedModel.sparsity = sparsity
        defer { PrunedModel.sparsity = 0.5 }
        let result = PrunedModel.trace()
        let diagnostic = try #require(result.diagnostics.first)
        #expect(result.graph == nil)
        #expect(diagnostic.message == "pruning sparsity must be a number from 0 to 1, got \(sparsity)")
        #expect(diagnostic.location?.file == #filePath)
        #expect(diagnostic.location?.line == PrunedModel.optionsLine)
        // The result still reaches the compiler: JSON cannot hold the NaN itself.
        _ = try JSONEncoder().encode(result)
    }
}
