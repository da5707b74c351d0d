import Foundation
import KilnCompiler
import KilnIR
import KilnReference
import KilnRuntime
import Testing

/// `Compiler.compileBundle`: every model of a file in one artifact (what KilnPlugin ships), each
/// loaded by name and run, split layers included, as its graph computes.
@Suite struct BundleTests {
    @Test func everyModelOfAFileRunsFromOneArtifact() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("Models.swift")
        try """
            import Kiln

            struct Wide: Model {
                var body: some Layer {
                    Input(shape: [1, 40, 40, 8])
                    Conv2D(32, kernel: 3, padding: .same, activation: .relu)
                }
                var weights: WeightSource { .seeded(3) }
            }

            struct Small: Model {
                var body: some Layer {
                    Input(shape: [1, 4])
                    Dense(3, activation: .tanh)
                }
                var weights: WeightSource { .seeded(4) }
            }
            """.write(to: file, atomically: true, encoding: .utf8)
        let artifact = directory.appendingPathComponent("Models.kiln")
        let results = try Compiler().compileBundle(ModelSource(url: file), to: artifact)
        #expect(results.map(\.metadata.modelName) == ["Wide", "Small"])
        #expect(results.allSatisfy { $0.artifact == artifact })
        // The best of the default target's variants first, its ISA level appended (`kiln_Wide_run_avx512vnni`).
        let level = try #require(results[0].metadata.isaLevel)
        #expect(results.map(\.metadata.entryPoint) == ["kiln_Wide_run_\(level)", "kiln_Small_run_\(level)"])
        #expect(results[0].metadata.parallelEntryPoint == "kiln_Wide_run_\(level)_parallel")
        #expect(try ArtifactFile.readModels(contentsOf: artifact).map(\.modelName) == ["Wide", "Small"])
        for result in results {
            let graph = result.graph
            let input = uniformValues(graph.type(of: graph.inputs[0]).elementCount, seed: 5)
            let expected = try ReferenceInterpreter(graph).run([TensorData(input, shape: graph.type(of: graph.inputs[0]).shape)])
            for threads in [1, 2] {
                let model = try CompiledModel(contentsOf: artifact, model: result.metadata.modelName, threads: threads)
                expectClose(
                    try model.predict(input), expected[0].floats(), tolerance: 1e-5,
                    "\(result.metadata.modelName) on \(threads) threads")
            }
        }
    }
}
