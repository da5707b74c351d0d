import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnImport
import KilnRuntime
import Testing

/// Models exported by today's TensorFlow converter (TensorFlow 2.21, Keras 3;
/// `Fixtures/Keras`, made by `scripts/make_tf_models.sh`) import, compile and
/// match LiteRT: float32 within 1e-4 relative, int8 within one step of the
/// output's scale.
@Suite struct KerasModelTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/Keras")

    /// A model file and the input LiteRT ran it on.
    struct Case: CustomTestStringConvertible, Sendable {
        var model: String
        var input: String
        var testDescription: String { model }
    }

    static let importable = [
        Case(model: "keras_cnn", input: "keras_cnn"),
        Case(model: "keras_cnn_int8", input: "keras_cnn"),
        Case(model: "keras_cnn_int8io", input: "keras_cnn_int8io"),
        Case(model: "efficientnet_b0", input: "efficientnet_b0"),
        Case(model: "efficientnet_b0_int8", input: "efficientnet_b0"),
        Case(model: "mobilenet_v3_small", input: "mobilenet_v3_small"),
        Case(model: "mobilenet_v3_small_int8", input: "mobilenet_v3_small"),
        Case(model: "lstm_kws", input: "lstm_kws"),
        Case(model: "lstm_kws_int8", input: "lstm_kws"),
        Case(model: "gru_kws", input: "gru_kws"),
        Case(model: "gru_kws_int8", input: "gru_kws"),
        Case(model: "gru_while", input: "gru_while"),
        Case(model: "rnn_stack_while", input: "rnn_stack_while"),
        Case(model: "transformer_block", input: "transformer_block"),
        Case(model: "transformer_block_int8", input: "transformer_block"),
        Case(model: "decoder_net", input: "decoder_net"),
        Case(model: "decoder_net_int8", input: "decoder_net"),
        Case(model: "reductions_net", input: "reductions_net"),
        Case(model: "reductions_net_int8", input: "reductions_net"),
        Case(model: "embedding_text", input: "embedding_text"),
        Case(model: "embedding_text_int8", input: "embedding_text"),
        Case(model: "lstm_fused", input: "lstm_fused"),
        Case(model: "lstm_fused_int8", input: "lstm_fused"),
        Case(model: "fusion_net", input: "fusion_net"),
        Case(model: "fusion_net_int8", input: "fusion_net"),
    ]

    @Test(arguments: importable)
    func matchesLiteRT(_ case: Case) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = Self.fixtures.appendingPathComponent("\(`case`.model).tflite")
        // This machine's variant only: the importer is under test here, the variants in PortableArtifactTests.
        let result = try Compiler().compile(ModelSource(url: file), outputDirectory: directory, overrides: .init(target: .host))[0]
        // Every shape computation folded away: no node works on int32 shape tensors.
        #expect(
            result.graph.nodes.allSatisfy { node in
                if case .argExtremum = node.op { return true }
                return node.outputs.allSatisfy { result.graph.type(of: $0).dtype != .int32 }
            })
        let inputs = try ModelFixtures.arrays(`case`.input, "inputs", in: Self.fixtures)
        let model = try CompiledModel(contentsOf: result.artifact)
        try #require(inputs.count == model.metadata.inputs.count)
        let outputCount = model.metadata.outputs.count
        let expectedFiles = outputCount == 1 ? ["\(`case`.model).outputs.npy"] : (0..<outputCount).map { "\(`case`.model).outputs.\($0).npy" }
        let buffers = model.metadata.outputs.map { UnsafeMutableRawBufferPointer.allocate(byteCount: $0.byteCount, alignment: 64) }
        defer { buffers.forEach { $0.deallocate() } }
        try inputs.map(\.bytes).withUnsafeBufferPointers { sources in
            try buffers.withUnsafeBufferPointer { try model.run(inputs: sources, outputs: $0) }
        }
        let outputs = buffers.map { Array($0) }
        for (position, file) in expectedFiles.enumerated() {
            let expected = try NumPyArray.read(contentsOf: Self.fixtures.appendingPathComponent(file))
            let outputValue = result.graph.outputs[position]
            let actual = TensorData(dtype: expected.dtype, shape: expected.shape, bytes: outputs[position])
            let outputType = result.graph.type(of: outputValue)
            if expected.dtype == .int32 {
                // Positions (arg-max): an int8 model may pick another of two values within a step; float must agree.
                let differing = zip(actual.int32s(), expected.int32s()).filter { $0 != $1 }.count
                #expect(differing <= (`case`.model.hasSuffix("int8") ? expected.shape.elementCount / 20 : 0), "\(file): \(differing) positions differ")
            } else if expected.dtype == .int8 {
                let differences = zip(actual.floats(), expected.floats()).map { abs($0 - $1) }
                #expect(differences.allSatisfy { $0 <= 1 }, "\(file): \(actual.floats()) vs LiteRT \(expected.floats())")
            } else if `case`.model.hasSuffix("int8") {
                // Float outputs of an int8 model: dequantized, so one step is the last layer's scale.
                let step = try #require(Self.outputStep(result.graph, output: position))
                let differences = zip(actual.floats(), expected.floats()).map { abs($0 - $1) }
                #expect(differences.allSatisfy { $0 <= step * 1.001 }, "\(file): \(actual.floats()) vs LiteRT \(expected.floats())")
            } else {
                let scale = expected.floats().map(abs).max() ?? 1
                let worst = zip(actual.floats(), expected.floats()).map { abs($0 - $1) / max(abs($1), scale) }.max() ?? 0
                #expect(worst <= 1e-4, "\(file): relative difference \(worst)")
            }
            #expect(outputType.shape == expected.shape, "\(file)")
        }
    }

    /// One step of the int8 value a float output of an int8 graph dequantizes (through any reshapes), or `nil`.
    static func outputStep(_ graph: Graph, output position: Int) -> Float? {
        var value = graph.outputs[position]
        while let producer = graph.nodes.first(where: { $0.outputs.contains(value) }) {
            if case .reshape = producer.op {
                value = producer.inputs[0]
                continue
            }
            return producer.op == .dequantize ? graph.type(of: producer.inputs[0]).quantization?.scales[0] : nil
        }
        return nil
    }

    /// A rolled GRU (a WHILE loop with condition and body subgraphs) unrolls into its 49 steps, which
    /// share the body's weights; the sequences of a stack of loops pass from one to the next.
    @Test func whileLoopsUnrollIntoTheirSteps() throws {
        let gru = try TFLiteImporter.importGraph(contentsOf: Self.fixtures.appendingPathComponent("gru_while.tflite"))
        let steps = Set(gru.nodes.compactMap { $0.name.split(separator: "@").last.flatMap { Int($0) } })
        #expect(steps == Set(0..<49))
        let filters = gru.nodes.filter { if case .fullyConnected = $0.op { true } else { false } }.map { $0.inputs[1] }
        // Two matrix products a step (input and recurrent) and the classifier, over three weight constants.
        #expect(filters.count == 2 * 49 + 1 && Set(filters).count == 3, "\(filters.count) products over \(Set(filters).count) filters")
        let stack = try TFLiteImporter.importGraph(contentsOf: Self.fixtures.appendingPathComponent("rnn_stack_while.tflite"))
        #expect(stack.nodes.contains { $0.name.hasSuffix("@19") })
    }

    /// A loop Kiln cannot unroll is reported at the WHILE operator, with the reason: a condition
    /// that reads the model's data, or more steps than the importer unrolls.
    @Test func loopsThatCannotUnrollAreNamed() throws {
        let file = Self.fixtures.appendingPathComponent("gru_while.tflite")
        func message(_ model: TFLiteModel) -> String {
            let error = #expect(throws: TFLiteError.self) {
                try TFLiteImporter.importGraph(model, name: "gru_while", source: "gru_while.tflite")
            }
            return error?.message ?? ""
        }
        var dataDependent = try TFLiteModel(contentsOf: file)
        let main = dataDependent.subgraphs[0]
        let loop = try #require(main.operators.firstIndex { dataDependent.operatorCodes[$0.opcodeIndex].builtinCode == .while })
        // The first counter replaced by the loop's sequence: the condition then compares data.
        dataDependent.subgraphs[0].operators[loop].inputs[0] = main.operators[loop].inputs[4]
        let unknown = message(dataDependent)
        #expect(unknown.hasPrefix("gru_while.tflite: operator #\(loop) WHILE: "), "\(unknown)")
        #expect(unknown.contains("not known at import"), "\(unknown)")

        var endless = try TFLiteModel(contentsOf: file)
        let condition = endless.subgraphs[1]
        // The step count the condition compares with: its one stored int32 constant.
        let limit = try #require(
            condition.tensors.indices.first { index in
                let tensor = condition.tensors[index]
                return !condition.inputs.contains(index) && tensor.type == .int32 && !endless.buffers[tensor.buffer].isEmpty
            })
        endless.buffers[condition.tensors[limit].buffer] = withUnsafeBytes(of: Int32(100_000).littleEndian, Array.init)
        let long = message(endless)
        #expect(long.contains("the loop runs more than 4096 steps"), "\(long)")
    }

    /// An operator Kiln does not import fails with the operator, its position and the file.
    @Test func unsupportedConstructsAreNamed() throws {
        var model = try TFLiteModel(contentsOf: Self.fixtures.appendingPathComponent("transformer_block.tflite"))
        let transpose = try #require(model.operatorCodes.firstIndex { $0.builtinCode == .transpose })
        model.operatorCodes[transpose] = TFLiteOperatorCode(builtinCode: .cumsum)
        let error = #expect(throws: TFLiteError.self) {
            try TFLiteImporter.importGraph(model, name: "transformer_block", source: "transformer_block.tflite")
        }
        let message = error?.message ?? ""
        #expect(message.hasPrefix("transformer_block.tflite: operator #6 CUMSUM: "), "\(message)")
        #expect(message.contains("not supported"), "\(message)")
    }

    /// Shuffled FULLY_CONNECTED weights (TensorFlow Lite's legacy uint8-input, int16-output kernel)
    /// are an error that says what they are, at the operator.
    @Test func shuffledWeightsAreNamed() throws {
        var model = try TFLiteModel(contentsOf: Self.fixtures.appendingPathComponent("keras_cnn.tflite"))
        let main = model.subgraphs[0]
        let dense = try #require(
            main.operators.firstIndex { if case .fullyConnected = $0.options { true } else { false } })
        guard case .fullyConnected(var options) = main.operators[dense].options else {
            Issue.record("operator #\(dense) has no fully-connected options")
            return
        }
        options.weightsFormat = .shuffled4x16Int8
        model.subgraphs[0].operators[dense].options = .fullyConnected(options)
        let error = #expect(throws: TFLiteError.self) {
            try TFLiteImporter.importGraph(model, name: "keras_cnn", source: "keras_cnn.tflite")
        }
        let message = error?.message ?? ""
        #expect(message.hasPrefix("keras_cnn.tflite: operator #\(dense) FULLY_CONNECTED: "), "\(message)")
        #expect(message.contains("SHUFFLED4x16INT8 weights"), "\(message)")
    }
}
