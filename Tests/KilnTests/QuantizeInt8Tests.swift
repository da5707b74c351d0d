import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnImport
import KilnPasses
import KilnReference
import KilnRuntime
import Testing

/// Post-training full-integer quantization (`CompileOptions(quantization: .int8(calibration:))`,
/// `kiln compile --quantize int8`): float graphs become int8 between a quantize and a dequantize,
/// run on the int8 kernels bit for bit as the integer reference computes them, and stay close to
/// the float model.
@Suite struct QuantizeInt8Tests {
    /// `count` calibration samples of `shape` around `input` (or uniform in −1…1), stacked in a `.npy` file.
    static func writeCalibration(
        to directory: URL, shape: Shape, count: Int, around input: [Float]? = nil
    ) throws -> URL {
        let size = shape.elementCount
        var values: [Float] = []
        for sample in 0..<count {
            let noise = uniformValues(size, in: -1...1, seed: UInt64(100 + sample))
            if let input {
                values += zip(input, noise).map { $0 + (sample == 0 ? 0 : 0.1 * $1) }
            } else {
                values += noise
            }
        }
        let url = directory.appendingPathComponent("calibration.npy")
        try NumPyArray.write(TensorData(values, shape: Shape([count] + shape.dimensions.dropFirst())), to: url)
        return url
    }

    /// A small CNN with every kind of layer the pass makes int8: convolutions with fused ReLU6 and
    /// (separated) hard-swish, a depthwise layer, a batch normalization's multiply and add by
    /// constants, a residual add, pooling, a mean, reshape, a fully-connected layer and softmax.
    static func network() throws -> Graph {
        var graph = Graph(name: "ptq_net")
        var seed: UInt64 = 1
        func constant(_ name: String, _ shape: Shape, range: ClosedRange<Float> = -0.5...0.5) -> ValueID {
            seed += 1
            return graph.addConstant(name: name, data: TensorData(uniformValues(shape.elementCount, in: range, seed: seed), shape: shape))
        }
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 12, 12, 3]))
        let stem = try graph.addNode(
            .conv2D(Conv2DAttributes(strides: [1, 1], padding: .same, activation: .relu6)),
            inputs: [x, constant("w0", [16, 3, 3, 3]), constant("b0", [16])], name: "stem")
        let depthwise = try graph.addNode(
            .depthwiseConv2D(Conv2DAttributes(strides: [2, 2], padding: .same, activation: .hardSwish)),
            inputs: [stem, constant("w1", [1, 3, 3, 16]), constant("b1", [16])], name: "depthwise")
        let scaled = try graph.addNode(
            .multiply(activation: nil), inputs: [depthwise, constant("gamma", [16], range: 0.5...1.5)], name: "bn_scale")
        let shifted = try graph.addNode(.add(activation: nil), inputs: [scaled, constant("beta", [16])], name: "bn_shift")
        let project = try graph.addNode(
            .conv2D(Conv2DAttributes(padding: .valid)), inputs: [shifted, constant("w2", [16, 1, 1, 16])], name: "project")
        let residual = try graph.addNode(.add(activation: .relu), inputs: [project, shifted], name: "residual")
        let pooled = try graph.addNode(
            .averagePool2D(Pool2DAttributes(window: [2, 2], strides: [2, 2], padding: .valid)), inputs: [residual],
            name: "pool")
        let mean = try graph.addNode(.mean(axes: [1, 2], keepDimensions: false), inputs: [pooled], name: "mean")
        let logits = try graph.addNode(
            .fullyConnected(activation: nil), inputs: [mean, constant("w3", [10, 16], range: -2...2), constant("b3", [10])],
            name: "logits")
        let flat = try graph.addNode(.reshape([1, 10]), inputs: [logits], name: "flatten")
        graph.outputs = [try graph.addNode(.softmax, inputs: [flat], name: "probabilities")]
        return graph
    }

    @Test func everyLayerBecomesInt8AndMatchesTheIntegerReferenceExactly() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let graph = try Self.network()
        let calibration = try Self.writeCalibration(to: directory, shape: [1, 12, 12, 3], count: 8)
        let options = CompileOptions(quantization: .int8(calibration: .npy(calibration.path)))
        let optimized = try Compiler().optimize(graph, options: options)
        // Float only at the boundary: the input's quantize reads f32, the output's dequantize writes it.
        let floatResults = optimized.nodes.filter { optimized.type(of: $0.outputs[0]).dtype == .float32 }
        #expect(floatResults.map(\.op) == [.dequantize], "\(optimized.textDump)")
        #expect(optimized.nodes.first?.op == .quantize(to: .int8))
        #expect(optimized.nodes.contains { $0.op == .activation(.hardSwish) }, "hard-swish runs as its own int8 lookup")
        try expectCompiledMatchesReference(graph, options: options, tolerance: 0, "int8 network")

        // Close to the float model on an input from the calibrated distribution.
        let input = TensorData(uniformValues(12 * 12 * 3, in: -1...1, seed: 7), shape: [1, 12, 12, 3])
        let float = try ReferenceInterpreter(Compiler().optimize(graph, options: CompileOptions())).run([input])[0].floats()
        let int8 = try ReferenceInterpreter(optimized).run([input])[0].floats()
        let largest = zip(float, int8).map { abs($0 - $1) }.max() ?? .infinity
        #expect(largest <= 0.03, "float \(float)\nint8 \(int8)")
    }

    /// Min/max keeps an outlier, a percentile drops it; on a long-tailed (Laplace) tensor the
    /// least-squared-error range clips the rare largest values, where a lone far outlier stays.
    @Test func rangeMethodsClipOutliers() throws {
        func upper(_ values: [Float], _ method: ActivationRanges.Method) throws -> Float {
            var graph = Graph(name: "ranges")
            let x = graph.addInput(name: "x", type: TensorType(.float32, [1, values.count]))
            graph.outputs = [try graph.addNode(.reshape([values.count]), inputs: [x], name: "flat")]
            let samples = [[TensorData(values, shape: [1, values.count])]]
            return try #require(ActivationRanges(graph, samples: samples, method: method).ranges[x]).upperBound
        }
        let outlier = uniformValues(999, in: -1...1, seed: 9) + [100]
        #expect(try upper(outlier, .minMax) == 100)
        let percentile = try upper(outlier, .percentile(99.8))
        #expect(percentile > 0.9 && percentile < 1.1, "\(percentile)")
        #expect(try upper(outlier, .meanSquaredError) == 100, "clipping one far value costs more than it saves")
        let laplace = uniformValues(100_000, in: -1...1, seed: 5).map { u in
            (u < 0 ? -1 : 1) * -log(max(Float.leastNormalMagnitude, 1 - abs(u)))
        }
        let largest = try upper(laplace, .minMax)
        let clipped = try upper(laplace, .meanSquaredError)
        #expect(clipped < 0.95 * largest && clipped > 0.3 * largest, "\(clipped) of \(largest)")
    }

    /// A concatenation's int8 result covers every input's range: joining a narrow branch with a
    /// wide one must not clip the wide one to the first input's parameters.
    @Test func concatenationCoversEveryInputsRange() throws {
        var graph = Graph(name: "join")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 6]))
        func scaled(_ factor: Float, _ name: String) throws -> ValueID {
            let constant = graph.addConstant(name: "\(name).factor", data: TensorData([Float](repeating: factor, count: 6), shape: [1, 6]))
            return try graph.addNode(.multiply(activation: nil), inputs: [x, constant], name: name)
        }
        let narrow = try scaled(0.1, "narrow")
        let wide = try scaled(10, "wide")
        graph.outputs = [try graph.addNode(.concatenation(axis: -1, activation: nil), inputs: [narrow, wide], name: "join")]
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let calibration = try Self.writeCalibration(to: directory, shape: [1, 6], count: 8)
        let options = CompileOptions(quantization: .int8(calibration: .npy(calibration.path)))
        let optimized = try Compiler().optimize(graph, options: options)
        let join = try #require(optimized.nodes.first { $0.op.kindName == "concatenation" })
        let scale = try #require(optimized.type(of: join.outputs[0]).quantization?.scales.first)
        // The wide branch spans about [-10, 10]: 255 steps of at least 18 / 255.
        #expect(scale > 18 / 255, "concatenation scale \(scale)")
        try expectCompiledMatchesReference(graph, options: options, tolerance: 0, "int8 concatenation")
    }

    /// Every range method quantizes the network bit for bit as the integer reference runs it.
    @Test(arguments: [CompileOptions.RangeMethod.percentile(99.99), .meanSquaredError])
    func everyRangeMethodMatchesTheIntegerReference(_ ranges: CompileOptions.RangeMethod) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let calibration = try Self.writeCalibration(to: directory, shape: [1, 12, 12, 3], count: 8)
        let options = CompileOptions(quantization: .int8(calibration: .npy(calibration.path), ranges: ranges))
        try expectCompiledMatchesReference(Self.network(), options: options, tolerance: 0, "int8 network, \(ranges)")
    }

    /// Mixed precision: with a budget the all-int8 network misses, the most sensitive layers stay
    /// float32 until the output error on the calibration samples is within it; a budget the
    /// all-int8 network meets keeps every layer int8. Either way the result runs as the reference.
    @Test func mixedPrecisionKeepsTheMostSensitiveLayersFloat() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let graph = try Self.network()
        let calibration = try Self.writeCalibration(to: directory, shape: [1, 12, 12, 3], count: 8)
        func optimized(budget: Double?) throws -> (graph: Graph, error: Double, float: [String]) {
            let options = CompileOptions(quantization: .int8(calibration: .npy(calibration.path), outputErrorBudget: budget))
            let result = try Compiler().optimize(graph, options: options)
            let float = try Compiler().optimize(graph, options: CompileOptions())
            let samples = try NumPyArray.read(contentsOf: calibration)
            var actual: [[Float]] = []
            var expected: [[Float]] = []
            for index in 0..<8 {
                let bytes = Array(samples.bytes[(index * 432 * 4)..<((index + 1) * 432 * 4)])
                let input = TensorData(dtype: .float32, shape: [1, 12, 12, 3], bytes: bytes)
                actual.append(try ReferenceInterpreter(result).run([input])[0].floats())
                expected.append(try ReferenceInterpreter(float).run([input])[0].floats())
            }
            let layers = result.nodes.filter {
                ["conv2d", "depthwise_conv2d", "fully_connected"].contains($0.op.kindName)
                    && result.type(of: $0.outputs[0]).dtype == .float32
            }
            return (result, QuantizeInt8Pass.relativeError(actual, expected), layers.map(\.name))
        }
        let allInt8 = try optimized(budget: nil)
        #expect(allInt8.float.isEmpty && allInt8.error > 0)
        #expect(try optimized(budget: allInt8.error * 1.01).float.isEmpty)
        let mixed = try optimized(budget: allInt8.error / 2)
        #expect(!mixed.float.isEmpty, "no layer kept float")
        #expect(mixed.error <= allInt8.error / 2 || mixed.float.count == 4, "\(mixed.float): \(mixed.error)")
        let options = CompileOptions(quantization: .int8(calibration: .npy(calibration.path), outputErrorBudget: allInt8.error / 2))
        try expectCompiledMatchesReference(graph, options: options, tolerance: 1e-5, "mixed precision")
    }

    /// An op without an int8 kernel stays float32 between a dequantize and a quantize.
    @Test func layersWithoutInt8KernelsStayFloat() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var graph = Graph(name: "mixed")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 6, 6, 4]))
        let w0 = graph.addConstant(name: "w0", data: TensorData(uniformValues(4 * 9 * 4, seed: 3), shape: [4, 3, 3, 4]))
        let w1 = graph.addConstant(name: "w1", data: TensorData(uniformValues(8 * 4, seed: 4), shape: [8, 1, 1, 4]))
        let first = try graph.addNode(.conv2D(Conv2DAttributes(padding: .same)), inputs: [x, w0], name: "first")
        let odd = try graph.addNode(.activation(.erf), inputs: [first], name: "erf")
        let cube = try graph.addNode(.binary(.divide, activation: nil), inputs: [odd, first], name: "divide")
        graph.outputs = [try graph.addNode(.conv2D(Conv2DAttributes(padding: .valid)), inputs: [cube, w1], name: "second")]
        let calibration = try Self.writeCalibration(to: directory, shape: [1, 6, 6, 4], count: 4)
        let options = CompileOptions(quantization: .int8(calibration: .npy(calibration.path)))
        let optimized = try Compiler().optimize(graph, options: options)
        let dtypes = Dictionary(
            optimized.nodes.map { ($0.name, optimized.type(of: $0.outputs[0]).dtype) }, uniquingKeysWith: { first, _ in first })
        #expect(dtypes["first"] == .int8 && dtypes["erf"] == .int8 && dtypes["second"] == .int8, "\(optimized.textDump)")
        #expect(dtypes["divide"] == .float32, "\(optimized.textDump)")
        try expectCompiledMatchesReference(graph, options: options, tolerance: 0, "mixed network")
    }

    /// Models exported by TensorFlow 2.21 as float32 `.tflite`, quantized by Kiln: every layer int8,
    /// the class unchanged and each probability within two steps of 1/256 of the float model's.
    @Test(arguments: ["keras_cnn", "mobilenet_v3_small", "efficientnet_b0"])
    func floatTFLiteModelsQuantize(_ name: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fixtures = KerasModelTests.fixtures
        let input = try NumPyArray.read(contentsOf: fixtures.appendingPathComponent("\(name).inputs.npy"))
        let expected = try NumPyArray.read(contentsOf: fixtures.appendingPathComponent("\(name).outputs.npy")).floats()
        let calibration = try Self.writeCalibration(to: directory, shape: input.shape, count: 4, around: input.floats())
        let result = try Compiler().compile(
            ModelSource(url: fixtures.appendingPathComponent("\(name).tflite")), outputDirectory: directory,
            overrides: .init(quantization: .int8(calibration: .npy(calibration.path))))[0]
        let floatResults = result.graph.nodes.filter { result.graph.type(of: $0.outputs[0]).dtype == .float32 }
        #expect(floatResults.map(\.op) == [.dequantize])
        let model = try CompiledModel(contentsOf: result.artifact)
        let output = try model.run(inputs: [input.floats()])[0]
        let largest = zip(output, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(largest <= 2.0 / 256, "kiln int8 \(output)\nfloat \(expected)")
        #expect(output.indices.max { output[$0] < output[$1] } == expected.indices.max { expected[$0] < expected[$1] })
    }

    /// `kiln compile --quantize int8 --calibration FILE` on a float `.tflite`, then `kiln run`.
    @Test func commandLineQuantizesAFloatModel() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fixtures = KerasModelTests.fixtures
        let inputs = fixtures.appendingPathComponent("keras_cnn.inputs.npy")
        let input = try NumPyArray.read(contentsOf: inputs)
        let calibration = try Self.writeCalibration(to: directory, shape: input.shape, count: 4, around: input.floats())
        let model = fixtures.appendingPathComponent("keras_cnn.tflite").path
        let missing = try CommandLineTool.run(kiln, ["compile", model, "--quantize", "int8", "-o", directory.path])
        #expect(missing.status != 0 && missing.output.contains("--quantize int8 needs --calibration"), "\(missing.output)")
        let compile = try CommandLineTool.run(
            kiln, ["compile", model, "--quantize", "int8", "--calibration", calibration.path, "-o", directory.path])
        #expect(compile.status == 0, "\(compile.output)")
        let outputs = directory.appendingPathComponent("y.npy")
        let run = try CommandLineTool.run(
            kiln, ["run", directory.appendingPathComponent("keras_cnn.kiln").path, "--inputs", inputs.path, "--outputs", outputs.path])
        #expect(run.status == 0, "\(run.output)")
        let produced = try NumPyArray.read(contentsOf: outputs).floats()
        let expected = try NumPyArray.read(contentsOf: fixtures.appendingPathComponent("keras_cnn.outputs.npy")).floats()
        #expect(zip(produced, expected).allSatisfy { abs($0 - $1) <= 2.0 / 256 }, "\(produced) vs \(expected)")
    }

    /// A model file asking for full int8 with a calibration file next to it: traced, quantized, run
    /// natively bit for bit as the integer reference, near the float network; a missing calibration
    /// file is reported at the model's `options`.
    @Test func swiftModelFileQuantizesWithItsCalibrationFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let modelFile = try ModelFixtures.copy("QuantizedModels.swift", to: directory)
        try SafeTensors.write(
            ModelFixtures.weights(ModelFixtures.cnnShapes, seed: 200), to: directory.appendingPathComponent("cnn.safetensors"))
        let loaded = try ModelSource(url: modelFile).load()[0]
        let missing = try #require(throws: DiagnosticError.self) {
            _ = try Compiler().optimize(loaded.graph, options: loaded.options)
        }
        #expect(missing.description.contains("QuantizedModels.swift:18:"), "\(missing)")
        #expect(missing.description.contains("calibration.npy: no such file"), "\(missing)")

        let samples = (0..<16).flatMap { uniformValues(12 * 12 * 2, in: -2...2, seed: UInt64(300 + $0)) }
        try NumPyArray.write(TensorData(samples, shape: [16, 12, 12, 2]), to: directory.appendingPathComponent("calibration.npy"))
        let int8 = try Compiler().optimize(loaded.graph, options: loaded.options)
        #expect(int8.nodes.filter { int8.type(of: $0.outputs[0]).dtype == .float32 }.map(\.op) == [.dequantize])
        let float = try Compiler().optimize(loaded.graph, options: CompileOptions())
        let result = try Compiler().compile(loaded.graph, options: loaded.options, outputDirectory: directory)
        let model = try CompiledModel(contentsOf: result.artifact)
        for seed in 0..<8 {
            let input = TensorData(uniformValues(12 * 12 * 2, in: -2...2, seed: UInt64(50 + seed)), shape: [1, 12, 12, 2])
            let native = try model.predict(input.floats())
            #expect(native == (try ReferenceInterpreter(int8).run([input])[0].floats()))
            let expected = try ReferenceInterpreter(float).run([input])[0].floats()
            #expect(zip(native, expected).allSatisfy { abs($0 - $1) <= 0.03 }, "\(native) vs \(expected)")
        }
    }

    /// Calibration files that cannot calibrate the model: each error names the model and the file.
    @Test(arguments: [
        ("wrong shape", "has shape [2x12x12]"), ("no samples", "holds no samples"), ("int32", "holds i32 values"),
        ("NaN", "sample 1 holds nan at element 431"),
    ])
    func badCalibrationIsAClearError(name: String, message: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let data =
            switch name {
            case "wrong shape": TensorData([Float](repeating: 0, count: 2 * 12 * 12), shape: [2, 12, 12])
            case "no samples": TensorData([Float](), shape: [0, 12, 12, 3])
            case "int32": TensorData(int32: [Int32](repeating: 0, count: 432), shape: [1, 12, 12, 3])
            default: TensorData([Float](repeating: 0, count: 863) + [.nan], shape: [2, 12, 12, 3])
            }
        let file = directory.appendingPathComponent("calibration.npy")
        try NumPyArray.write(data, to: file)
        let options = CompileOptions(quantization: .int8(calibration: .npy(file.path)))
        let error = try #require(throws: DiagnosticError.self) {
            _ = try Compiler().compile(Self.network(), options: options, outputDirectory: directory)
        }
        #expect(error.description.contains("model 'ptq_net': calibration file \(file.path)"), "\(error)")
        #expect(error.description.contains(message), "\(error)")
    }

    @Test func aMissingCalibrationFileIsAClearError() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("absent.npy")
        let options = CompileOptions(quantization: .int8(calibration: .npy(file.path)))
        let error = try #require(throws: DiagnosticError.self) {
            _ = try Compiler().compile(Self.network(), options: options, outputDirectory: directory)
        }
        #expect(error.description.contains("model 'ptq_net': calibration file \(file.path)"), "\(error)")
        #expect(error.description.contains("no such file"), "\(error)")
    }
}
