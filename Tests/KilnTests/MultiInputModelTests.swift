import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnImport
import Testing

/// A keyword model with side information: a spectrogram through convolutions, a context
/// vector gating its feature maps and joining its features; two outputs.
struct GatedKeywordModel: Model {
    var body: some Layer {
        Input(shape: [1, 12, 8, 1]).named("spectrogram")
        Input(shape: [1, 4]).named("context")
        Network { inputs in
            let features = inputs[0].applying(Conv2D(6, kernel: 3, activation: .relu)).applying(MaxPool2D(2))
            let gate = inputs[1].applying(Dense(6, activation: .sigmoid)).applying(Reshape([1, 1, 1, 6]))
            let gated = (features * gate).applying(Flatten())
            let context = inputs[1].applying(Dense(8, activation: .relu))
            let joined = concatenate([gated, context])
            return [joined.applying(Dense(5)).applying(Softmax()), context.applying(Dense(1))]
        }
    }
}

/// Models with several inputs: declared by consecutive `Input` layers and read by a
/// `Network` block, in the DSL, in `kiln import`'s Swift and through the compiler.
@Suite struct MultiInputModelTests {
    @Test func networkReadsTheInputsInDeclarationOrder() throws {
        let graph = try GatedKeywordModel.graph()
        #expect(graph.inputs.map { graph[$0].name } == ["spectrogram", "context"])
        #expect(graph.inputs.map { graph.type(of: $0).shape } == [[1, 12, 8, 1], [1, 4]])
        #expect(graph.outputs.map { graph.type(of: $0).shape } == [[1, 5], [1, 1]])
    }

    @Test func compiledNetworkMatchesTheReference() throws {
        try expectCompiledMatchesReference(try GatedKeywordModel.graph(), tolerance: 1e-5, "GatedKeywordModel")
    }

    @Test func layerAfterSeveralInputsAsksForANetwork() {
        struct Ambiguous: Model {
            var body: some Layer {
                Input(shape: [1, 4]).named("a")
                Input(shape: [1, 4]).named("b")
                Dense(3)
            }
        }
        let result = Ambiguous.trace()
        let message = result.diagnostics.first?.message ?? ""
        #expect(message.contains("cannot tell which of the model's 2 inputs"), "\(message)")
        #expect(message.contains("Network { inputs in"), "\(message)")
        #expect(result.diagnostics.first?.location?.line == #line - 7)
    }

    @Test func functionalAfterSeveralInputsAsksForANetwork() {
        struct Ambiguous: Model {
            var body: some Layer {
                Input(shape: [1, 4]).named("a")
                Input(shape: [1, 4]).named("b")
                Functional { x in x }
            }
        }
        let message = Ambiguous.trace().diagnostics.first?.message ?? ""
        #expect(message.hasPrefix("Functional cannot tell which"), "\(message)")
    }

    @Test func inputsWithoutANetworkHaveNoOutputs() {
        struct Unread: Model {
            var body: some Layer {
                Input(shape: [1, 4]).named("a")
                Input(shape: [1, 4]).named("b")
            }
        }
        let message = Unread.trace().diagnostics.first?.message ?? ""
        #expect(message.contains("2 inputs and no outputs"), "\(message)")
    }

    @Test func inputsNeedDistinctNames() {
        struct SameNames: Model {
            var body: some Layer {
                Input(shape: [1, 4])
                Input(shape: [1, 4])
                Network { inputs in [inputs[0] + inputs[1]] }
            }
        }
        let result = SameNames.trace()
        #expect(result.diagnostics.first?.message.contains("two inputs are named 'input'") == true)
        #expect(result.graph == nil)
    }

    @Test func inputAfterALayerIsAnError() {
        struct Late: Model {
            var body: some Layer {
                Input(shape: [1, 4]).named("a")
                Dense(4)
                Input(shape: [1, 4]).named("b")
            }
        }
        let message = Late.trace().diagnostics.first?.message ?? ""
        #expect(message.contains("must come before every other layer"), "\(message)")
    }

    @Test func networkMustFollowTheInputs() {
        struct Misplaced: Model {
            var body: some Layer {
                Input(shape: [1, 4]).named("a")
                Dense(4)
                Network { inputs in inputs }
            }
        }
        let message = Misplaced.trace().diagnostics.first?.message ?? ""
        #expect(message.contains("Network must follow the Input layers directly"), "\(message)")
    }

    /// `kiln import` writes a two-input Keras model as `Input` lines and a `Network` block calling the
    /// model's `layers` function.
    @Test func importedTwoInputModelIsWrittenAsANetwork() throws {
        let file = KerasModelTests.fixtures.appendingPathComponent("fusion_net.tflite")
        let graph = try ModelSource(url: file).load()[0].graph
        let (source, _) = try ModelSourceWriter(typeName: "FusionNet").write(graph, weightFileName: "FusionNet.safetensors")
        let inputs = source.split(separator: "\n").filter { $0.contains("Input(shape:") }
        #expect(inputs.count == 2, "\(source)")
        #expect(source.contains("Network(Self.layers)"), "\(source)")
        #expect(source.contains("static func layers(_ inputs: [SymbolicTensor]) -> [SymbolicTensor] {"), "\(source)")
        #expect(source.contains("inputs[1]"), "\(source)")
    }

    /// `kiln run` takes `--inputs` and `--outputs` once per tensor, in the model's order, and names
    /// the model's tensors when the counts or a file's shape do not fit; `kiln bench` times the model.
    @Test func commandLineRunsATwoInputModel() throws {
        let kiln = try #require(
            CommandLineTool.kiln, "the kiln executable is built next to the tests by `swift build --build-tests`")
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fixtures = KerasModelTests.fixtures
        let compile = try CommandLineTool.run(kiln, ["compile", fixtures.appendingPathComponent("fusion_net.tflite").path, "-o", directory.path])
        try #require(compile.status == 0, "\(compile.output)")
        let artifact = directory.appendingPathComponent("fusion_net.kiln").path
        let inputs = ModelFixtures.arrayFiles("fusion_net", "inputs", in: fixtures).map(\.path)
        let output = directory.appendingPathComponent("outputs.npy")
        let run = try CommandLineTool.run(
            kiln, ["run", artifact, "--inputs", inputs[0], "--inputs", inputs[1], "--outputs", output.path])
        try #require(run.status == 0, "\(run.output)")
        let expected = try NumPyArray.read(contentsOf: fixtures.appendingPathComponent("fusion_net.outputs.npy"))
        LiteRTComparison.expectReproduces(try NumPyArray.read(contentsOf: output), expected, model: "kiln run fusion_net")

        let missing = try CommandLineTool.run(kiln, ["run", artifact, "--inputs", inputs[0], "--outputs", output.path])
        #expect(missing.status != 0)
        #expect(missing.output.contains("the model has 2 inputs ('serving_default_context:0', 'serving_default_spectrogram:0')"), "\(missing.output)")
        let bench = try CommandLineTool.run(kiln, ["bench", artifact, "--runs", "20", "--warmup", "2"])
        #expect(bench.status == 0 && bench.output.contains("fusion_net: median"), "\(bench.output)")
        let swapped = try CommandLineTool.run(
            kiln, ["run", artifact, "--inputs", inputs[1], "--inputs", inputs[0], "--outputs", output.path])
        #expect(swapped.status != 0)
        #expect(swapped.output.contains("for input 'serving_default_context:0' [1x4]"), "\(swapped.output)")
    }

    /// `kiln compile --quantize int8` calibrates a two-input model on one `--calibration` file per
    /// input, and says so when given one.
    @Test func commandLineQuantizesATwoInputModel() throws {
        let kiln = try #require(
            CommandLineTool.kiln, "the kiln executable is built next to the tests by `swift build --build-tests`")
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fixtures = KerasModelTests.fixtures
        let inputFiles = ModelFixtures.arrayFiles("fusion_net", "inputs", in: fixtures)
        let calibration = try inputFiles.enumerated().map { position, file in
            let input = try NumPyArray.read(contentsOf: file)
            let folder = directory.appendingPathComponent("calibration\(position)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            return try QuantizeInt8Tests.writeCalibration(to: folder, shape: input.shape, count: 8, around: input.floats()).path
        }
        let model = fixtures.appendingPathComponent("fusion_net.tflite").path
        let single = try CommandLineTool.run(
            kiln, ["compile", model, "--quantize", "int8", "--calibration", calibration[0], "-o", directory.path])
        #expect(single.status != 0)
        #expect(single.output.contains("give one .npy file per input, in that order"), "\(single.output)")
        let compile = try CommandLineTool.run(
            kiln,
            ["compile", model, "--quantize", "int8", "--calibration", calibration[0], "--calibration", calibration[1], "-o", directory.path])
        try #require(compile.status == 0, "\(compile.output)")
        let output = directory.appendingPathComponent("outputs.npy")
        let run = try CommandLineTool.run(
            kiln,
            ["run", directory.appendingPathComponent("fusion_net.kiln").path, "--inputs", inputFiles[0].path, "--inputs", inputFiles[1].path,
             "--outputs", output.path])
        try #require(run.status == 0, "\(run.output)")
        let produced = try NumPyArray.read(contentsOf: output).floats()
        let expected = try NumPyArray.read(contentsOf: fixtures.appendingPathComponent("fusion_net.outputs.npy")).floats()
        #expect(zip(produced, expected).allSatisfy { abs($0 - $1) <= 2.0 / 256 }, "\(produced) vs \(expected)")
    }
}
