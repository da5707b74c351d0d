import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnImport
import KilnReference
import KilnRuntime
import Testing

/// Models written in the DSL, with weights from files, compiled by tracing
/// their source file, and run natively: outputs against the reference
/// interpreter, and the effect of int8 weights and pruning.
@Suite struct EndToEndTests {
    /// One compile of `Models.swift` shared by the tests (tracing is the slow part).
    static let compiled: Result<(directory: URL, results: [String: Compiler.Result]), any Error> = Result {
        let directory = try temporaryDirectory()
        let modelFile = try ModelFixtures.copy("Models.swift", to: directory)
        try SafeTensors.write(
            ModelFixtures.weights(ModelFixtures.mlpShapes, seed: 100), to: directory.appendingPathComponent("mlp.safetensors"))
        try SafeTensors.write(
            ModelFixtures.weights(ModelFixtures.cnnShapes, seed: 200), to: directory.appendingPathComponent("cnn.safetensors"))
        let results = try Compiler().compile(ModelSource(url: modelFile), outputDirectory: directory.appendingPathComponent("out"))
        return (directory, Dictionary(uniqueKeysWithValues: results.map { ($0.metadata.modelName, $0) }))
    }

    func result(_ name: String) throws -> Compiler.Result {
        try #require(try Self.compiled.get().results[name])
    }

    /// Reference outputs of `graph` for `batch` random inputs, and the inputs.
    func referenceRun(_ graph: Graph, batch: Int) throws -> (inputs: [[Float]], outputs: [[Float]]) {
        let shape = graph.type(of: graph.inputs[0]).shape
        let inputs = (0..<batch).map { uniformValues(shape.elementCount, in: -2...2, seed: UInt64(50 + $0)) }
        let interpreter = try ReferenceInterpreter(graph)
        let outputs = try inputs.map { try interpreter.run([TensorData($0, shape: shape)])[0].floats() }
        return (inputs, outputs)
    }

    @Test(arguments: ["MLP", "SmallCNN", "SmallCNNInt8", "SmallCNNPruned"])
    func compiledModelMatchesReference(name: String) throws {
        let result = try result(name)
        let model = try CompiledModel(contentsOf: result.artifact)
        let (inputs, expected) = try referenceRun(result.graph, batch: 8)
        for (input, output) in zip(inputs, expected) {
            expectClose(try model.predict(input), output, tolerance: 1e-5, "\(name)")
        }
    }

    @Test func int8WeightsStayCloseAndShrinkWeightsToAQuarter() throws {
        let float = try result("SmallCNN")
        let int8 = try result("SmallCNNInt8")
        let (inputs, expected) = try referenceRun(float.graph, batch: 8)
        let model = try CompiledModel(contentsOf: int8.artifact)
        for (input, output) in zip(inputs, expected) {
            // Stated tolerance for int8 weights: softmax probabilities within 0.02.
            let probabilities = try model.predict(input)
            for (a, b) in zip(probabilities, output) { #expect(abs(a - b) < 0.02) }
        }
        let ratio = Double(ModelReport(int8.graph).weightByteCount) / Double(ModelReport(float.graph).weightByteCount)
        #expect(ratio > 0.25 && ratio < 0.32, "int8 weight bytes are \(ratio) of float32")
    }

    @Test func pruningZeroesHalfTheWeights() throws {
        let pruned = try result("SmallCNNPruned")
        let filters = pruned.graph.nodes.filter { $0.op.kindName == "conv2d" || $0.op.kindName == "fully_connected" }
            .compactMap { pruned.graph.constantData($0.inputs[1])?.floats() }
        #expect(filters.count == 3)
        for filter in filters { #expect(filter.filter { $0 == 0 }.count == filter.count / 2) }
        let (inputs, expected) = try referenceRun(try result("SmallCNN").graph, batch: 8)
        let model = try CompiledModel(contentsOf: pruned.artifact)
        // Pruning changes the function; outputs stay valid distributions, near the original.
        for (input, output) in zip(inputs, expected) {
            let probabilities = try model.predict(input)
            #expect(abs(probabilities.reduce(0, +) - 1) < 1e-5)
            #expect(zip(probabilities, output).map { abs($0 - $1) }.max()! < 0.5)
        }
    }

    @Test func artifactMetadataDescribesTheModel() throws {
        let metadata = try result("SmallCNN").metadata
        #expect(metadata.inputs.map(\.shape) == [[1, 12, 12, 2]])
        #expect(metadata.outputs.map(\.shape) == [[1, 10]])
        #expect(metadata.arenaByteCount > 0)
        #expect(metadata.entryPoint == "kiln_run_\(metadata.isaLevel ?? "")")
        #expect(metadata.variants?.count ?? 1 > 1, "the default target holds a variant per ISA level")
    }

    @Test func cliCompilesInspectsAndRuns() throws {
        let kiln = try #require(
            CommandLineTool.kiln, "the kiln executable is built next to the tests by `swift build --build-tests`")
        let (directory, _) = try Self.compiled.get()
        let output = directory.appendingPathComponent("cli")
        let compile = try CommandLineTool.run(
            kiln, ["compile", directory.appendingPathComponent("Models.swift").path, "-o", output.path])
        #expect(compile.status == 0, "\(compile.output)")
        let artifact = output.appendingPathComponent("SmallCNN.kiln")

        let inspect = try CommandLineTool.run(kiln, ["inspect", directory.appendingPathComponent("Models.swift").path])
        #expect(inspect.output.contains("model SmallCNNInt8"))
        #expect(inspect.output.contains("conv2d+relu"))

        let graph = try result("SmallCNN").graph
        let (inputs, expected) = try referenceRun(graph, batch: 5)
        let inputFile = directory.appendingPathComponent("x.npy")
        let outputFile = directory.appendingPathComponent("y.npy")
        try NumPyArray.write(TensorData(inputs.flatMap { $0 }, shape: [5, 12, 12, 2]), to: inputFile)
        let run = try CommandLineTool.run(
            kiln, ["run", artifact.path, "--inputs", inputFile.path, "--outputs", outputFile.path])
        #expect(run.status == 0, "\(run.output)")
        let outputs = try NumPyArray.read(contentsOf: outputFile)
        #expect(outputs.shape == [5, 10])
        expectClose(outputs.floats(), expected.flatMap { $0 }, tolerance: 1e-5, "kiln run")
    }
}

/// Finds and runs the `kiln` executable built beside the test bundle.
enum CommandLineTool {
    static var kiln: URL? {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("kiln")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }

    /// Runs `tool` to completion; `environment` adds to or overrides this process's variables.
    ///
    /// `status` is the exit status, or 128 + the signal number when a signal ended it (as shells report it).
    static func run(_ tool: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> (
        status: Int32, output: String
    ) {
        let process = Process()
        process.executableURL = tool
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return (status, String(decoding: data, as: UTF8.self))
    }
}
