import Foundation
import KilnCompiler
import KilnIR
import KilnImport
import KilnRuntime
import Testing

/// NCHW models written with the `onnx` helper API (`Fixtures/ONNX`, made by
/// `scripts/make_onnx_models.sh`) import, compile and match ONNX Runtime
/// within 1e-4 relative, with their images converted to NHWC at import; their
/// QDQ int8 versions (ONNX Runtime's `quantize_static`) run int8 layers and
/// match within one step of the output's scale.
@Suite struct ONNXModelTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/ONNX")

    @Test(arguments: ["cnn", "residual", "depthwise", "encoder", "cnn_qdq", "residual_qdq", "depthwise_qdq"])
    func matchesONNXRuntime(_ name: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let results = try Compiler().compile(
            .onnxFile(Self.fixtures.appendingPathComponent("\(name).onnx")), outputDirectory: directory)
        let result = try #require(results.first)
        let isQuantized = name.hasSuffix("_qdq")
        let inputName = isQuantized ? String(name.dropLast(4)) : name
        var input = try NumPyArray.read(contentsOf: Self.fixtures.appendingPathComponent("\(inputName).inputs.npy"))
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
        if isQuantized {
            // Convolutions run as int8 layers, not dequantized floats.
            let int8Convolutions = result.graph.nodes.filter { node in
                if case .conv2D = node.op { result.graph.type(of: node.outputs[0]).dtype == .int8 } else { false }
            }
            #expect(!int8Convolutions.isEmpty, "\(name) has no int8 convolution")
            // The float output is dequantized from int8, so one step is the last quantized layer's scale.
            let step = try #require(result.graph.nodes.last { $0.op == .dequantize }.map {
                result.graph.type(of: $0.inputs[0]).quantization?.scales[0] ?? 0
            })
            let differences = zip(actual, expected.floats()).map { abs($0 - $1) }
            #expect(differences.allSatisfy { $0 <= step * 1.001 }, "\(name): \(actual) vs ONNX Runtime \(expected.floats())")
        } else {
            expectClose(actual, expected.floats(), tolerance: 1e-4, "\(name) against ONNX Runtime")
        }
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
