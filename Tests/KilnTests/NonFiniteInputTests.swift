import Foundation
import KilnCompiler
import KilnIR
import KilnImport
import KilnReference
import KilnRuntime
import Testing

/// NaN and infinite inputs through the shared float models give NaN wherever
/// LiteRT gives NaN, in native code and in the reference interpreter.
///
/// LiteRT's outputs for eight cases per model (one NaN, all NaN, ±Inf, ±1e38)
/// are in `Fixtures/NonFinite`, written by `make_nonfinite_fixtures.py`.
// Enabled only where ../shared/models exists: the models are not in the repository.
@Suite(.enabled(if: MLPerfTinyModels.available, MLPerfTinyModels.skipReason))
struct NonFiniteInputTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/NonFinite")
    static let cases = ["nan_one", "nan_all", "posinf_one", "neginf_one", "posinf_all", "big_all", "big_one", "neg_big_one"]

    @Test(arguments: ["ad01_fp32", "kws_ref_model_float32"])
    func nanWhereLiteRTGivesNaN(name: String) throws {
        let inputs = try NumPyArray.read(contentsOf: Self.fixtures.appendingPathComponent("\(name).nonfinite.inputs.npy"))
        let liteRT = try NumPyArray.read(contentsOf: Self.fixtures.appendingPathComponent("\(name).nonfinite.outputs.npy"))
        #expect(inputs.shape[0] == Self.cases.count && liteRT.shape[0] == Self.cases.count)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Compiler().compile(
            ModelSource(url: MLPerfTinyModels.url(name, "tflite")), outputDirectory: directory, overrides: .init(target: .host))[0]
        let model = try CompiledModel(contentsOf: result.artifact)
        let native = TensorData(
            dtype: .float32, shape: liteRT.shape, bytes: try MLPerfTinyModels.run(model, inputs)
        ).floats()
        let interpreter = try ReferenceInterpreter(result.graph)
        let inputShape = result.graph.type(of: result.graph.inputs[0]).shape
        let width = liteRT.elementCount / Self.cases.count
        let expected = liteRT.floats()
        for (index, caseName) in Self.cases.enumerated() {
            let rows = (index * width)..<((index + 1) * width)
            let input = TensorData(dtype: .float32, shape: inputShape, bytes: MLPerfTinyModels.entry(inputs, index))
            let reference = try interpreter.run([input])[0].floats()
            func missing(_ values: [Float]) -> Int { zip(values, expected[rows]).filter { $1.isNaN && !$0.isNaN }.count }
            #expect(missing(Array(native[rows])) == 0, "\(name) \(caseName), native: outputs are not NaN where LiteRT's are")
            #expect(missing(reference) == 0, "\(name) \(caseName), reference: outputs are not NaN where LiteRT's are")
        }
    }

    /// The anomaly detector (fully-connected layers only) matches LiteRT exactly, NaN for NaN.
    @Test func anomalyDetectorMatchesLiteRTExactly() throws {
        let inputs = try NumPyArray.read(contentsOf: Self.fixtures.appendingPathComponent("ad01_fp32.nonfinite.inputs.npy"))
        let liteRT = try NumPyArray.read(contentsOf: Self.fixtures.appendingPathComponent("ad01_fp32.nonfinite.outputs.npy"))
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Compiler().compile(
            ModelSource(url: MLPerfTinyModels.url("ad01_fp32", "tflite")), outputDirectory: directory, overrides: .init(target: .host))[0]
        let native = try MLPerfTinyModels.run(try CompiledModel(contentsOf: result.artifact), inputs)
        let actual = TensorData(dtype: .float32, shape: liteRT.shape, bytes: native).floats()
        let differing = zip(actual, liteRT.floats()).filter { a, e in a.isNaN != e.isNaN || (!a.isNaN && abs(a - e) > max(1e-4 * abs(e), 1e-5)) }
        #expect(differing.isEmpty, "\(differing.count) outputs differ from LiteRT's, e.g. \(differing.prefix(3))")
    }
}
