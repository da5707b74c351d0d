import Foundation
import KilnCompiler
import KilnIR
import KilnImport
import KilnRuntime
import Testing

/// Bad input gets a clear, located error, and nothing crashes.
@Suite struct CompileErrorTests {
    func compile(_ fixture: String, weights: (URL) throws -> Void = { _ in }) throws -> any Error {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let modelFile = try ModelFixtures.copy(fixture, to: directory)
        try weights(directory)
        do {
            _ = try Compiler().compile(ModelSource(url: modelFile), outputDirectory: directory)
        } catch {
            return error
        }
        Issue.record("compiling \(fixture) should have failed")
        return CompilerError("no error")
    }

    @Test func shapeMismatchIsAnErrorAtTheModelsFileAndLine() throws {
        let error = try #require(try compile("ShapeError.swift") as? DiagnosticError)
        let diagnostic = try #require(error.diagnostics.first)
        #expect(diagnostic.location?.file.hasSuffix("/ShapeError.swift") == true)
        #expect(diagnostic.location?.line == 6)
        #expect(error.description.contains("ShapeError.swift:6:15: error: layer 'conv2d_0' (conv2d): the window does not fit"))
    }

    @Test func modelUsingAppCodeIsToldToBeSelfContained() throws {
        let error = try compile("UsesAppCode.swift")
        let message = String(describing: error)
        #expect(message.contains("UsesAppCode.swift:5:"))
        #expect(message.contains("cannot find 'AppConfiguration' in scope"))
        #expect(message.contains("must be self-contained"))
    }

    @Test func missingWeightFileIsReportedAtTheWeightsDeclaration() throws {
        let error = try #require(try compile("Models.swift") as? DiagnosticError)
        #expect(error.diagnostics.contains { $0.message.contains("mlp.safetensors: no such file") })
        #expect(error.diagnostics.allSatisfy { $0.location?.file.hasSuffix("/Models.swift") == true })
        #expect(error.diagnostics.contains { $0.location?.line == 13 })
    }

    @Test func corruptWeightFileIsAnError() throws {
        let error = try #require(
            try compile("Models.swift") { directory in
                try Data("not a safetensors file at all".utf8).write(to: directory.appendingPathComponent("mlp.safetensors"))
                try SafeTensors.write(
                    ModelFixtures.weights(ModelFixtures.cnnShapes, seed: 1),
                    to: directory.appendingPathComponent("cnn.safetensors"))
            } as? DiagnosticError)
        #expect(error.diagnostics.count == 1)
        #expect(error.diagnostics[0].message.contains("mlp.safetensors"))
    }

    @Test func wrongShapedWeightNamesLayerShapesAndLayout() throws {
        let error = try #require(
            try compile("Models.swift") { directory in
                var mlp = ModelFixtures.weights(ModelFixtures.mlpShapes, seed: 1)
                mlp["dense_1.weight"] = TensorData([Float](repeating: 0, count: 32 * 16), shape: [32, 16])
                try SafeTensors.write(mlp, to: directory.appendingPathComponent("mlp.safetensors"))
                var cnn = ModelFixtures.weights(ModelFixtures.cnnShapes, seed: 1)
                cnn.removeValue(forKey: "dense_0.bias")
                try SafeTensors.write(cnn, to: directory.appendingPathComponent("cnn.safetensors"))
            } as? DiagnosticError)
        let messages = error.diagnostics.map(\.description)
        #expect(
            messages.contains {
                $0.contains("Models.swift:9:14: error: layer 'dense_1'") && $0.contains("has shape [32x16]")
                    && $0.contains("needs [16x32]") && $0.contains("[units, inputs]")
            }, "\(messages)")
        #expect(messages.contains { $0.contains("Models.swift:24:14: error: layer 'dense_0'") && $0.contains("dense_0.bias") })
    }

    @Test func truncatedOrTamperedArtifactsAreRejected() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var graph = Graph(name: "tiny")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [4]))
        graph.outputs = [try graph.addNode(.activation(.relu), inputs: [x], name: "relu")]
        let artifact = try Compiler().compile(graph, options: .init(), outputDirectory: directory).artifact
        let bytes = try Data(contentsOf: artifact)
        let truncated = directory.appendingPathComponent("truncated.kiln")
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        #expect(throws: RuntimeError.self) { try CompiledModel(contentsOf: truncated) }
        var flipped = bytes
        flipped[flipped.count / 3] ^= 0x40
        let tampered = directory.appendingPathComponent("tampered.kiln")
        try flipped.write(to: tampered)
        #expect {
            try CompiledModel(contentsOf: tampered)
        } throws: { error in
            String(describing: error).contains("checksum")
        }
    }

    @Test func wrongSizedInputThrowsAtRunTime() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var graph = Graph(name: "tiny")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 4]))
        graph.outputs = [try graph.addNode(.softmax, inputs: [x], name: "softmax")]
        let artifact = try Compiler().compile(graph, options: .init(), outputDirectory: directory).artifact
        let model = try CompiledModel(contentsOf: artifact)
        #expect {
            try model.predict([1, 2, 3])
        } throws: { error in
            String(describing: error).contains("input 'x'") && String(describing: error).contains("4")
        }
        #expect(try model.predict([0, 0, 0, 0]) == [0.25, 0.25, 0.25, 0.25])
    }
}
