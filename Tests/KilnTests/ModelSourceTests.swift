import Foundation
import Kiln
import KilnCompiler
import KilnIR
import Testing

/// Every model enters through `ModelSource`, and what it cannot read is named with the kinds it can.
@Suite struct ModelSourceTests {
    static let keras = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/Keras")

    @Test func unknownKindsAreAnErrorNamingTheFileAndTheKinds() {
        let error = #expect(throws: CompilerError.self) { try ModelSource(url: URL(fileURLWithPath: "/models/net.mlmodel")) }
        #expect(error?.message == "/models/net.mlmodel: Kiln cannot read this kind of file; give \(ModelSource.fileKinds)")
    }

    /// An app's main.swift cannot be a model file: the error says where the model is and what to do.
    @Test func aModelInMainSwiftIsRejectedAtItsLine() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let main = directory.appendingPathComponent("main.swift")
        try "import Kiln\n\nstruct Tiny: Model {\n    var body: some Layer { Input(shape: [1, 2]) }\n}\nprint(1)\n"
            .write(to: main, atomically: true, encoding: .utf8)
        let error = #expect(throws: CompilerError.self) { try ModelSourceTracer().trace(modelFile: main) }
        #expect(error?.message.contains("main.swift:3:1: error: model 'Tiny' is declared in main.swift") == true, "\(String(describing: error))")
        #expect(error?.message.contains("such as Tiny.swift") == true)
    }

    @Test func onnxFilesLoadOneModelNamedAfterTheFile() throws {
        let source = try ModelSource(url: Self.keras.deletingLastPathComponent().appendingPathComponent("ONNX/cnn.onnx"))
        let models = try source.load()
        #expect(models.map(\.name) == ["cnn"])
        #expect(models[0].graph.type(of: models[0].graph.inputs[0]).shape == [1, 32, 32, 3])
    }

    @Test func tfliteFilesLoadOneModelNamedAfterTheFile() throws {
        let source = try ModelSource(url: Self.keras.appendingPathComponent("keras_cnn.tflite"))
        let models = try source.load()
        #expect(models.map(\.name) == ["keras_cnn"])
        #expect(models[0].options == CompileOptions())
    }

    /// `--emit-llvm` writes IR for the model's own target, not the build machine's.
    @Test func llvmIRFollowsTheModelsTarget() throws {
        let model = try ModelSource(url: Self.keras.appendingPathComponent("keras_cnn.tflite")).load()[0]
        let options = CompileOptions(target: .custom(triple: "aarch64-unknown-linux-gnu", cpu: "cortex-a53", features: "+neon"))
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Compiler().compile(model.graph, options: options, as: .llvmIR, outputDirectory: directory)
        let ir = try String(contentsOf: result.artifact, encoding: .utf8)
        #expect(ir.contains("target triple = \"aarch64-unknown-linux-gnu\""))
    }
}
