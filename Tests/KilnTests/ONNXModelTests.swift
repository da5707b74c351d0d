import Foundation
import KilnCompiler
import KilnIR
import KilnImport
import KilnRuntime
import Testing

/// NCHW models written with the `onnx` helper API (`Fixtures/ONNX`, made by
/// `scripts/make_onnx_models.sh`) import, compile and match ONNX Runtime
/// within 1e-4 relative, with their images converted to NHWC at import.
@Suite struct ONNXModelTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/ONNX")

    @Test(arguments: ["cnn", "residual", "depthwise", "encoder"])
    func matchesONNXRuntime(_ name: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let results = try Compiler().compile(
            .onnxFile(Self.fixtures.appendingPathComponent("\(name).onnx")), outputDirectory: directory)
        let result = try #require(results.first)
        var input = try NumPyArray.read(contentsOf: Self.fixtures.appendingPathComponent("\(name).inputs.npy"))
        if input.shape.rank == 4 {
            // ONNX Runtime reads NCHW; the imported model takes the same image as NHWC.
            let dimensions = input.shape.dimensions
            let nhwc = Shape([dimensions[0], dimensions[2], dimensions[3], dimensions[1]])
            input = TensorData(
                Self.transposed(input.floats(), shape: dimensions, [0, 2, 3, 1]), shape: nhwc)
            // Image models run with no transposes: the conversion happened at import.
            #expect(!result.graph.nodes.contains { if case .transpose = $0.op { true } else { false } }, "\(name)")
        }
        let expected = try NumPyArray.read(contentsOf: Self.fixtures.appendingPathComponent("\(name).outputs.npy"))
        let model = try CompiledModel(contentsOf: result.artifact)
        let actual = try model.run(inputs: [input.floats()])[0]
        expectClose(actual, expected.floats(), tolerance: 1e-4, "\(name) against ONNX Runtime")
        #expect(result.graph.type(of: result.graph.outputs[0]).shape == expected.shape)
    }

    static func transposed(_ values: [Float], shape: [Int], _ permutation: [Int]) -> [Float] {
        let strides = Shape(shape).strides
        let resultShape = Shape(permutation.map { shape[$0] })
        return (0..<values.count).map { index in
            var (rest, source) = (index, 0)
            for (axis, stride) in resultShape.strides.enumerated() {
                source += rest / stride * strides[permutation[axis]]
                rest %= stride
            }
            return values[source]
        }
    }
}
