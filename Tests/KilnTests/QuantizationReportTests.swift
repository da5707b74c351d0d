import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnImport
import Testing

/// `kiln inspect --quantization`: each layer's precision, parameters and SQNR against float32,
/// and the outputs' error and top-1 agreement on the samples.
@Suite struct QuantizationReportTests {
    @Test func int8ReportsEveryLayerAgainstFloat() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try QuantizeInt8OptionsTests.calibration(in: directory).file
        let options = CompileOptions(quantization: .int8(calibration: .npy(file.path)))
        let report = try Compiler().quantizationReport(QuantizeInt8Tests.network(), options: options)
        #expect(report.sampleCount == 8 && report.availableSampleCount == 8)
        #expect(report.layers.map(\.name) == [
            "stem", "depthwise", "bn_scale", "bn_shift", "project", "residual", "pool", "mean", "logits", "probabilities",
        ])
        #expect(report.layers.allSatisfy { $0.precision == .int8 }, "\(report.table)")
        let stem = try #require(report.layers.first)
        #expect(stem.output?.scales.count == 1 && stem.output?.zeroPoints == [-128], "ReLU6 starts at 0")
        #expect(stem.weightScales.map { $0.lowerBound > 0 && $0.lowerBound < $0.upperBound } == true)
        #expect(report.layers.last?.output == .perTensor(scale: 1.0 / 256, zeroPoint: -128), "softmax's fixed parameters")
        for layer in report.layers {
            let sqnr = try #require(layer.sqnr)
            #expect(sqnr > 20, "\(layer.name): \(sqnr) dB")
        }
        #expect(try #require(report.outputSQNR) > 20)
        #expect(try #require(report.outputError) < 0.1)
        #expect(report.topOneAgreement == 1)
        let table = report.table
        for text in ["layer", "SQNR dB", "stem", "conv2d", "int8", "-128", "samples:      8", "top-1 agreement with float32: 100.00 %"] {
            #expect(table.contains(text), "\(text) in\n\(table)")
        }
    }

    /// A layer kept float by mixed precision says so; its result has int8 parameters only when a
    /// separate int8 lookup activation (the depthwise layer's hard-swish) follows it.
    @Test func mixedPrecisionShowsTheLayersKeptFloat() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try QuantizeInt8OptionsTests.calibration(in: directory).file
        let options = CompileOptions(quantization: .int8(calibration: .npy(file.path), outputErrorBudget: 0))
        let report = try Compiler().quantizationReport(QuantizeInt8Tests.network(), options: options)
        let filters = report.layers.filter { ["conv2d", "depthwise_conv2d", "fully_connected"].contains($0.kind) }
        #expect(filters.count == 4 && filters.allSatisfy { $0.precision == .float32 }, "\(report.table)")
        #expect(filters.filter { $0.output == nil }.map(\.name) == ["stem", "project", "logits"], "\(report.table)")
    }

    /// Dynamic range and float16 report the weights' precision; errors are measured on the
    /// samples given, and without samples the report says how to get them.
    @Test func calibrationFreeModesReportTheirWeights() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try QuantizeInt8OptionsTests.calibration(in: directory).file
        let graph = try QuantizeInt8Tests.network()
        let dynamic = try Compiler().quantizationReport(
            graph, options: CompileOptions(quantization: .dynamicRange), samples: .npy(file.path))
        let precisions = Dictionary(uniqueKeysWithValues: dynamic.layers.map { ($0.name, $0.precision) })
        #expect(precisions["logits"] == .int8Weights && precisions["project"] == .int8Weights && precisions["stem"] == .int8Weights)
        #expect(precisions["depthwise"] == .float32)
        #expect(try #require(dynamic.outputSQNR) > 20)

        let half = try Compiler().quantizationReport(graph, options: CompileOptions(quantization: .float16Weights))
        #expect(half.layers.first { $0.name == "stem" }?.precision == .float16Weights)
        #expect(half.sampleCount == 0 && half.outputSQNR == nil && half.layers.allSatisfy { $0.sqnr == nil })
        #expect(half.table.contains("give samples (--calibration FILE.npy)"), "\(half.table)")
    }

    /// An imported int8 model is reported with its own parameters, and nothing to compare against.
    @Test func anAlreadyQuantizedModelShowsItsParameters() throws {
        let source = try ModelSource(url: KerasModelTests.fixtures.appendingPathComponent("keras_cnn_int8.tflite"))
        let model = try #require(try source.load().first)
        let report = try Compiler().quantizationReport(model.graph, options: model.options)
        #expect(report.layers.contains { $0.precision == .int8 && $0.output != nil && $0.weightScales != nil })
        #expect(report.sampleCount == 0)
    }

    /// `kiln inspect MODEL --quantization --quantize int8 --calibration FILE` on a float `.tflite`.
    @Test func commandLinePrintsTheReport() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fixtures = KerasModelTests.fixtures
        let input = try NumPyArray.read(contentsOf: fixtures.appendingPathComponent("keras_cnn.inputs.npy"))
        let calibration = try QuantizeInt8Tests.writeCalibration(to: directory, shape: input.shape, count: 4, around: input.floats())
        let model = fixtures.appendingPathComponent("keras_cnn.tflite").path
        let inspect = try CommandLineTool.run(
            kiln, ["inspect", model, "--quantization", "--quantize", "int8", "--calibration", calibration.path])
        #expect(inspect.status == 0, "\(inspect.output)")
        for text in ["quantization", "SQNR dB", "output SQNR:", "top-1 agreement with float32:", "qs8"] {
            #expect(inspect.output.contains(text), "\(text) in\n\(inspect.output)")
        }
    }
}
