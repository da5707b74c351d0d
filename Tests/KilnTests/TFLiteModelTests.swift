import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnImport
import KilnReference
import KilnRuntime
import Testing

/// The MLPerf Tiny models in `../shared/models`.
///
/// They are not part of the repository (see that folder's README), so the
/// tests that need them are enabled only where the folder exists.
enum MLPerfTinyModels {
    /// `<repository root>/../shared/models`; this file is `<root>/Tests/KilnTests/TFLiteModelTests.swift`.
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // KilnTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // repository root
        .appendingPathComponent("../shared/models").standardizedFileURL

    static let names = ["ad01_fp32", "ad01_int8", "kws_ref_model", "kws_ref_model_float32"]

    /// Whether every model, its inputs and LiteRT's outputs are there to read.
    static let available: Bool = names.allSatisfy { name in
        ["tflite", "inputs.npy", "outputs.npy"].allSatisfy {
            FileManager.default.fileExists(atPath: directory.appendingPathComponent("\(name).\($0)").path)
        }
    }

    static let skipReason: Comment = "MLPerf Tiny models not found in ../shared/models beside the repository root"

    static func url(_ name: String, _ suffix: String) -> URL { directory.appendingPathComponent("\(name).\(suffix)") }

    /// LiteRT's 16 inputs and outputs for model `name`, batch first.
    static func samples(_ name: String) throws -> (inputs: TensorData, outputs: TensorData) {
        (try NumPyArray.read(contentsOf: url(name, "inputs.npy")), try NumPyArray.read(contentsOf: url(name, "outputs.npy")))
    }

    /// Entry `index` of a batch-first tensor, as raw bytes.
    static func entry(_ batch: TensorData, _ index: Int) -> [UInt8] {
        let size = batch.bytes.count / batch.shape[0]
        return Array(batch.bytes[(index * size)..<((index + 1) * size)])
    }

    /// Runs the compiled model on every entry of `inputs` and returns the outputs' bytes, concatenated.
    static func run(_ model: CompiledModel, _ inputs: TensorData) throws -> [UInt8] {
        let outputBytes = model.metadata.outputs[0].byteCount
        var outputs: [UInt8] = []
        for index in 0..<inputs.shape[0] {
            let input = entry(inputs, index)
            var output = [UInt8](repeating: 0, count: outputBytes)
            try input.withUnsafeBytes { source in
                try output.withUnsafeMutableBytes { try model.run(input: source, output: $0) }
            }
            outputs += output
        }
        return outputs
    }
}

/// Kiln's import, compile and native run of the MLPerf Tiny models agree with
/// LiteRT's recorded outputs (and the int8 ones with Kiln's reference
/// interpreter bit for bit), through the API and the `kiln` command line.
// Enabled only where ../shared/models exists: the models are not in the repository.
@Suite(.enabled(if: MLPerfTinyModels.available, MLPerfTinyModels.skipReason))
struct TFLiteModelTests {
    /// What one model gave: the compile result, and Kiln's output bytes for LiteRT's 16 inputs.
    struct Run {
        var result: Compiler.Result
        var inputs: TensorData
        var expected: TensorData
        var actual: TensorData
    }

    /// Imports, compiles and runs model `name` on its 16 recorded inputs.
    static func compileAndRun(_ name: String) throws -> Run {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let imported = try TFLiteImporter.importGraph(contentsOf: MLPerfTinyModels.url(name, "tflite"))
        #expect(imported.name == name)
        let result = try Compiler().compile(
            ModelSource(url: MLPerfTinyModels.url(name, "tflite")), outputDirectory: directory, overrides: .init(target: .host))[0]
        #expect(result.artifact.lastPathComponent == "\(name).kiln")
        #expect(result.metadata.inputs.map(\.shape) == [imported.type(of: imported.inputs[0]).shape.dimensions])
        let model = try CompiledModel(contentsOf: result.artifact)
        let (inputs, expected) = try MLPerfTinyModels.samples(name)
        #expect(inputs.shape[0] == 16 && expected.shape[0] == 16, "\(name): 16 recorded samples")
        #expect(inputs.elementCount == 16 * model.metadata.inputs[0].elementCount, "\(name): input size")
        let bytes = try MLPerfTinyModels.run(model, inputs)
        return Run(
            result: result, inputs: inputs, expected: expected,
            actual: TensorData(dtype: expected.dtype, shape: expected.shape, bytes: bytes))
    }

    @Test func anomalyDetectionFloatMatchesLiteRT() throws {
        let run = try Self.compileAndRun("ad01_fp32")
        let (actual, expected) = (run.actual.floats(), run.expected.floats())
        var exact = 0
        var failures = 0
        for (index, (a, e)) in zip(actual, expected).enumerated() {
            if a == e { exact += 1 }
            if !(abs(a - e) <= max(1e-4 * abs(e), 1e-5)) {
                failures += 1
                if failures <= 3 {
                    Issue.record("ad01_fp32: sample \(index / 640), element \(index % 640) is \(a), LiteRT gave \(e)")
                }
            }
        }
        let fraction = Double(exact) / Double(expected.count)
        // Bias-first float accumulation makes Kiln bit-exact with LiteRT (XNNPACK) today.
        #expect(fraction >= 0.99, "ad01_fp32: only \(fraction * 100)% of elements equal LiteRT's exactly")
    }

    /// Full-integer models: every element within one step of LiteRT's, and at least 99% identical.
    @Test(arguments: ["ad01_int8", "kws_ref_model"])
    func int8ModelMatchesLiteRT(name: String) throws {
        let run = try Self.compileAndRun(name)
        let (actual, expected) = (run.actual.int8s(), run.expected.int8s())
        let width = expected.count / 16
        var exact = 0
        var failures = 0
        for (index, (a, e)) in zip(actual, expected).enumerated() {
            if a == e { exact += 1 }
            if abs(Int(a) - Int(e)) > 1 {
                failures += 1
                if failures <= 3 {
                    Issue.record("\(name): sample \(index / width), element \(index % width) is \(a), LiteRT gave \(e)")
                }
            }
        }
        let fraction = Double(exact) / Double(expected.count)
        #expect(fraction >= 0.99, "\(name): \(fraction * 100)% of \(expected.count) elements equal LiteRT's exactly")
        // The outputs carry information: not one value repeated.
        #expect(Set(expected).count > 4, "\(name): LiteRT's outputs are degenerate")

        // And the native code equals Kiln's own reference interpreter bit for bit (a few samples: it is slow).
        let interpreter = try ReferenceInterpreter(run.result.graph)
        let inputShape = run.result.graph.type(of: run.result.graph.inputs[0]).shape
        for sample in 0..<4 {
            let input = TensorData(dtype: .int8, shape: inputShape, bytes: MLPerfTinyModels.entry(run.inputs, sample))
            let reference = try interpreter.run([input])[0].int8s()
            let native = Array(actual[(sample * width)..<((sample + 1) * width)])
            if let mismatch = firstMismatches(native, reference) {
                Issue.record("\(name) sample \(sample), native against the reference interpreter: \(mismatch)")
            }
        }
    }

    /// The float keyword-spotting model's convolutions are dynamic-range ("hybrid")
    /// layers; with their inputs rounded as LiteRT's kernels round them, every
    /// probability is within 1e-4 relative or 1e-5 absolute of LiteRT's.
    @Test func keywordSpottingHybridFloatMatchesLiteRT() throws {
        let run = try Self.compileAndRun("kws_ref_model_float32")
        let (actual, expected) = (run.actual.floats(), run.expected.floats())
        let classes = 12
        #expect(expected.count == 16 * classes)
        for sample in 0..<16 {
            let kiln = Array(actual[(sample * classes)..<((sample + 1) * classes)])
            let liteRT = Array(expected[(sample * classes)..<((sample + 1) * classes)])
            #expect(
                kiln.indices.max { kiln[$0] < kiln[$1] } == liteRT.indices.max { liteRT[$0] < liteRT[$1] },
                "kws_ref_model_float32 sample \(sample): predicted class differs")
            for (index, (a, e)) in zip(kiln, liteRT).enumerated() {
                #expect(
                    abs(a - e) <= max(1e-4 * abs(e), 1e-5),
                    "kws_ref_model_float32 sample \(sample), class \(index): \(a), LiteRT \(e)")
            }
        }
    }

    /// `kiln compile` then `kiln run` on int8 .npy files writes what the API computes, byte for byte.
    @Test func commandLineCompilesAndRunsInt8Model() throws {
        let kiln = try #require(
            CommandLineTool.kiln, "the kiln executable is built next to the tests by `swift build --build-tests`")
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let compile = try CommandLineTool.run(
            kiln, ["compile", MLPerfTinyModels.url("ad01_int8", "tflite").path, "-o", directory.path])
        #expect(compile.status == 0, "kiln compile: \(compile.output)")
        let artifact = directory.appendingPathComponent("ad01_int8.kiln")
        #expect(FileManager.default.fileExists(atPath: artifact.path), "kiln compile wrote no \(artifact.lastPathComponent)")

        let outputFile = directory.appendingPathComponent("outputs.npy")
        let run = try CommandLineTool.run(
            kiln,
            [
                "run", artifact.path, "--inputs", MLPerfTinyModels.url("ad01_int8", "inputs.npy").path, "--outputs",
                outputFile.path,
            ])
        #expect(run.status == 0, "kiln run: \(run.output)")
        let written = try NumPyArray.read(contentsOf: outputFile)
        #expect(written.dtype == .int8 && written.shape == [16, 640], "kiln run wrote \(written.dtype)\(written.shape)")

        let model = try CompiledModel(contentsOf: artifact)
        let (inputs, liteRT) = try MLPerfTinyModels.samples("ad01_int8")
        let api = try MLPerfTinyModels.run(model, inputs)
        if let mismatch = firstMismatches(written.int8s(), api.map { Int8(bitPattern: $0) }) {
            Issue.record("kiln run's .npy against CompiledModel.run: \(mismatch)")
        }
        let offByMore = zip(written.int8s(), liteRT.int8s()).filter { abs(Int($0) - Int($1)) > 1 }.count
        #expect(offByMore == 0, "kiln run: \(offByMore) elements differ from LiteRT's by more than one step")
    }

    /// `kiln bench --per-layer`: every layer of the model gets a row with its kernel, MACs, time and share.
    @Test func commandLineProfilesEachLayer() throws {
        let kiln = try #require(
            CommandLineTool.kiln, "the kiln executable is built next to the tests by `swift build --build-tests`")
        let model = MLPerfTinyModels.url("kws_ref_model", "tflite").path
        let bench = try CommandLineTool.run(kiln, ["bench", model, "--per-layer", "--runs", "20", "--warmup", "2"])
        #expect(bench.status == 0, "\(bench.output)")
        let lines = bench.output.split(separator: "\n").map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("layer ") }, "\(bench.output)")
        let rows = lines[(header + 1)...].map { $0.split(separator: " ") }
        #expect(rows.count == 14, "\(bench.output)")  // 13 layers and the total
        let layers = rows.dropLast()
        #expect(layers.filter { $0.count > 1 && $0[1].hasPrefix("qs8_qc8w_dwconv3x3s1_") }.count == 4, "\(bench.output)")
        let shares = layers.compactMap { $0.count >= 5 ? Double($0[4]) : nil }
        #expect(shares.count == 13 && abs(shares.reduce(0, +) - 100) < 0.5, "\(bench.output)")
        #expect(rows.last?.first == "total" && rows.last?.contains("2656768") == true, "\(bench.output)")
        // An artifact carries no counters unless compiled for profiling: the flag asks for the model file.
        let artifact = try CommandLineTool.run(kiln, ["bench", "missing.kiln", "--per-layer"])
        #expect(artifact.status != 0 && artifact.output.contains("give the model file"), "\(artifact.output)")
    }

    @Test func commandLineInspectsTFLiteModel() throws {
        let kiln = try #require(
            CommandLineTool.kiln, "the kiln executable is built next to the tests by `swift build --build-tests`")
        let inspect = try CommandLineTool.run(kiln, ["inspect", MLPerfTinyModels.url("kws_ref_model", "tflite").path])
        #expect(inspect.status == 0, "\(inspect.output)")
        let lines = inspect.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first?.hasPrefix("model kws_ref_model (kernels for ") == true, "\(lines.first ?? "")")
        let header = try #require(lines.dropFirst().first)
        #expect(header.split(separator: " ") == ["layer", "op", "output", "params", "zeros", "values", "filter", "bytes", "MACs", "kernel"], "header: \(header)")
        func rows(_ op: String) -> [[Substring]] {
            // Layers with a filter also show its zeros, distinct values and bytes.
            lines.map { $0.split(separator: " ") }.filter { ($0.count == 6 || $0.count == 9) && $0[1] == op }
        }
        // The plan's kernel names carry the element types and shape of each layer.
        #expect(rows("conv2d+relu").first?.last?.hasPrefix("qs8_qc8w_conv10x4s2_") == true, "\(inspect.output)")
        #expect(rows("depthwise_conv2d+relu").allSatisfy { $0.last?.hasPrefix("qs8_qc8w_dwconv3x3s1_") == true }, "\(inspect.output)")
        // DS-CNN: one 10×4 convolution, four depthwise/pointwise pairs, pooling, flatten, dense, softmax.
        #expect(rows("conv2d+relu").count == 5)
        #expect(rows("depthwise_conv2d+relu").count == 4)
        #expect(rows("average_pool2d").count == 1 && rows("fully_connected").count == 1 && rows("softmax").count == 1)
        #expect(rows("conv2d+relu").first?[2] == "[1x25x5x64]")
        // A 3×3 depthwise layer over 25×5×64 outputs: 72 000 MACs.
        #expect(rows("depthwise_conv2d+relu").allSatisfy { $0[7] == "72000" }, "\(rows("depthwise_conv2d+relu"))")
        #expect(rows("softmax").first?[2] == "[1x12]")
        #expect(lines.contains("MACs:         2656768"), "\(inspect.output)")
    }

    /// `kiln inspect --prune … --share-weights …` shows what compression does to each layer
    /// without writing an artifact: the autoencoder's dense layers, block-pruned, run on
    /// block-sparse kernels; shared, on 4-bit lookups with at most 16 distinct weights.
    @Test func commandLineInspectsCompression() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let model = MLPerfTinyModels.url("ad01_fp32", "tflite").path
        let pruned = try CommandLineTool.run(
            kiln, ["inspect", model, "--prune", "0.75", "--prune-method", "block", "--target", "x86-64-v3"])
        #expect(pruned.status == 0, "\(pruned.output)")
        #expect(pruned.output.contains("f32_spgemm_avx2_"), "\(pruned.output)")
        let shared = try CommandLineTool.run(kiln, ["inspect", model, "--share-weights", "16", "--target", "x86-64-v3"])
        #expect(shared.status == 0, "\(shared.output)")
        let rows = shared.output.split(separator: "\n").map { $0.split(separator: " ") }.filter { $0.count == 9 }
        let layers = rows.filter { $0[1].hasPrefix("fully_connected") }
        #expect(layers.count == 10)
        // Layers of at least 1,024 weights share 16 values; the smaller keep theirs.
        #expect(layers.filter { $0.last?.hasPrefix("f32_lut16w_gemm_avx2_") == true }.allSatisfy { Int($0[5]) ?? 99 <= 16 })
        #expect(layers.filter { $0.last?.hasPrefix("f32_lut16w_") == true }.count >= 8, "\(shared.output)")
    }
}
