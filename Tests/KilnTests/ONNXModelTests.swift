import Foundation
import KilnCompiler
import KilnIR
import KilnImport
import KilnRuntime
import Testing

/// ONNX models import, compile and match ONNX Runtime: float32 within 1e-4
/// relative, their QDQ int8 versions (ONNX Runtime's `quantize_static`)
/// within one step of the output's scale, with int8 layers and no
/// transposes left at run time.
///
/// Two sets of fixtures: NCHW models written with the `onnx` helper API
/// (`Fixtures/ONNX`, `scripts/make_onnx_models.sh`), and the Keras models of
/// `Fixtures/Keras` converted by tf2onnx (`Fixtures/ONNX/tf2onnx`,
/// `scripts/make_tf_models.sh --onnx`), whose inputs stay NHWC.
@Suite struct ONNXModelTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// A model, the input ONNX Runtime ran it on, and whether that input is an NCHW image.
    struct Case: CustomTestStringConvertible, Sendable {
        var model: String
        var input: String
        var isNCHW: Bool
        var testDescription: String { model }
        var isQuantized: Bool { model.hasSuffix("_qdq") }
    }

    static let cases: [Case] =
        ["cnn", "residual", "depthwise"].flatMap { name in
            [Case(model: "ONNX/\(name)", input: "ONNX/\(name)", isNCHW: true), Case(model: "ONNX/\(name)_qdq", input: "ONNX/\(name)", isNCHW: true)]
        } + [Case(model: "ONNX/encoder", input: "ONNX/encoder", isNCHW: false)]
        + ["keras_cnn", "mobilenet_v3_small", "efficientnet_b0", "lstm_kws", "gru_kws"].flatMap { name in
            [
                Case(model: "ONNX/tf2onnx/\(name)", input: "Keras/\(name)", isNCHW: false),
                Case(model: "ONNX/tf2onnx/\(name)_qdq", input: "Keras/\(name)", isNCHW: false),
            ]
        }

    @Test(arguments: cases)
    func matchesONNXRuntime(_ case: Case) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let results = try Compiler().compile(
            .onnxFile(Self.fixtures.appendingPathComponent("\(`case`.model).onnx")), outputDirectory: directory)
        let result = try #require(results.first)
        let graph = result.graph
        var input = try NumPyArray.read(contentsOf: Self.fixtures.appendingPathComponent("\(`case`.input).inputs.npy"))
        if `case`.isNCHW {
            // ONNX Runtime reads NCHW; the imported model takes the same image as NHWC.
            let dimensions = input.shape.dimensions
            input = TensorData(
                Self.transposed(input.floats(), shape: dimensions, [0, 2, 3, 1]),
                shape: [dimensions[0], dimensions[2], dimensions[3], dimensions[1]])
        }
        if input.shape.rank == 4 {
            // Image models run with no transposes: the layout was converted at import.
            #expect(!graph.nodes.contains { if case .transpose = $0.op { true } else { false } }, "\(`case`.model)")
        }
        let expected = try NumPyArray.read(contentsOf: Self.fixtures.appendingPathComponent("\(`case`.model).outputs.npy"))
        let actual = try CompiledModel(contentsOf: result.artifact).run(inputs: [input.floats()])[0]
        #expect(graph.type(of: graph.outputs[0]).shape == expected.shape)
        guard `case`.isQuantized else {
            return expectClose(actual, expected.floats(), tolerance: 1e-4, "\(`case`.model) against ONNX Runtime")
        }
        // Convolutions and matrix products run as int8 layers, not on dequantized floats.
        #expect(
            graph.nodes.contains { node in
                switch node.op {
                case .conv2D, .fullyConnected: graph.type(of: node.outputs[0]).dtype == .int8
                default: false
                }
            }, "\(`case`.model) has no int8 convolution or matrix product")
        // The float output is dequantized from int8, so one step is the last quantized layer's scale.
        let step = try #require(graph.nodes.last { $0.op == .dequantize }.map { graph.type(of: $0.inputs[0]).quantization?.scales[0] ?? 0 })
        let differences = zip(actual, expected.floats()).map { abs($0 - $1) }
        #expect(differences.allSatisfy { $0 <= step * 1.001 }, "\(`case`.model): \(actual) vs ONNX Runtime \(expected.floats())")
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
