import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnImport
import KilnPasses
import KilnReference
import KilnRuntime
import Testing

/// The options of full-integer quantization beyond the defaults: int8 inputs and outputs, bias
/// correction, KL-divergence ranges and calibration samples computed in Swift.
@Suite struct QuantizeInt8OptionsTests {
    static let inputShape: Shape = [1, 12, 12, 3]

    /// The network's calibration file in `directory`, and its samples as Swift arrays.
    static func calibration(in directory: URL) throws -> (file: URL, samples: [[Float]]) {
        let file = try QuantizeInt8Tests.writeCalibration(to: directory, shape: inputShape, count: 8)
        let values = try NumPyArray.read(contentsOf: file).floats()
        let size = inputShape.elementCount
        return (file, (0..<8).map { Array(values[($0 * size)..<(($0 + 1) * size)]) })
    }

    /// `.int8IO`: the model takes and returns int8 with the parameters the float32-boundary
    /// version quantizes and dequantizes with, and computes exactly what that version does
    /// between them, natively as in the reference.
    @Test func int8InputsAndOutputsDropTheBoundaryConversions() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let graph = try QuantizeInt8Tests.network()
        let file = try Self.calibration(in: directory).file
        let floatIO = try Compiler().optimize(graph, options: CompileOptions(quantization: .int8(calibration: .npy(file.path))))
        let options = CompileOptions(quantization: .int8(calibration: .npy(file.path), inputsAndOutputs: .int8))
        let int8IO = try Compiler().optimize(graph, options: options)
        #expect(!int8IO.nodes.contains { $0.op == .quantize(to: .int8) || $0.op == .dequantize }, "\(int8IO.textDump)")
        let inputParameters = try #require(floatIO.nodes.first { $0.op == .quantize(to: .int8) }).outputs[0]
        #expect(int8IO.type(of: int8IO.inputs[0]) == floatIO.type(of: inputParameters))
        let dequantize = try #require(floatIO.nodes.last { $0.op == .dequantize })
        #expect(int8IO.type(of: int8IO.outputs[0]) == floatIO.type(of: dequantize.inputs[0]))

        let x = TensorData(uniformValues(Self.inputShape.elementCount, in: -1...1, seed: 21), shape: Self.inputShape)
        let parameters = try #require(int8IO.type(of: int8IO.inputs[0]).quantization)
        let q = TensorData(
            int8: x.floats().map { Int8(max(-128, min(127, ($0 / parameters.scales[0]).rounded() + Float(parameters.zeroPoints[0])))) },
            shape: Self.inputShape)
        let integer = try ReferenceInterpreter(int8IO).run([q])[0]
        let outputParameters = try #require(int8IO.type(of: int8IO.outputs[0]).quantization)
        #expect(outputParameters.dequantize(integer) == (try ReferenceInterpreter(floatIO).run([x])[0].floats()))
        let native = try NativeRunner(graph, options: options, directory: directory).run([q], outputByteCounts: [integer.bytes.count])
        #expect(native[0] == integer.bytes)

        // Loaded, the model is called with floats like the float-boundary one (it used to refuse them),
        // or with its raw int8 values.
        let model = try CompiledModel(
            contentsOf: try Compiler().compile(graph, options: options, outputDirectory: directory).artifact)
        #expect(try model.predict(x.floats()) == (try ReferenceInterpreter(floatIO).run([x])[0].floats()))
        #expect(try model.run(quantized: [q.int8s()]) == [integer.int8s()])
    }

    /// The shift bias correction removes is `Σ (ŵ − w) · E[x]` per output channel: on an input
    /// that holds the channel means at every pixel, exactly the difference the rounded filter
    /// makes to each output, for fully-connected, convolution and depthwise (multiplier 2) layers.
    @Test(arguments: ["fully_connected", "conv2d", "depthwise_conv2d"])
    func biasShiftIsTheOutputChangeOfRoundedWeights(_ kind: String) throws {
        let means: [Float] = [0.5, -1.25, 2, 0.75]
        let (op, filterShape, inputShape): (Op, Shape, Shape) =
            switch kind {
            case "fully_connected": (.fullyConnected(activation: nil), [5, 4], [1, 4])
            case "conv2d": (.conv2D(Conv2DAttributes(padding: .valid)), [5, 3, 3, 4], [1, 3, 3, 4])
            default: (.depthwiseConv2D(Conv2DAttributes(padding: .valid)), [1, 3, 3, 8], [1, 3, 3, 4])
            }
        let filter = TensorData(uniformValues(filterShape.elementCount, in: -0.7...0.7, seed: 5), shape: filterShape)
        let depthwise = kind == "depthwise_conv2d"
        let (quantized, parameters) = QuantizeWeightsInt8Pass.quantize(filter, axis: depthwise ? 3 : 0)
        let shift = try #require(
            QuantizeInt8Pass.biasShift(
                filter: filter, quantized: quantized, parameters: parameters, depthwise: depthwise, inputMeans: means.map(Double.init)))
        func output(_ weights: TensorData) throws -> [Float] {
            var graph = Graph(name: "layer")
            let x = graph.addInput(name: "x", type: TensorType(.float32, inputShape))
            let w = graph.addConstant(name: "w", data: weights)
            graph.outputs = [try graph.addNode(op, inputs: [x, w], name: "layer")]
            let input = (0..<inputShape.elementCount).map { means[$0 % means.count] }
            return try ReferenceInterpreter(graph).run([TensorData(input, shape: inputShape)])[0].floats()
        }
        let change = zip(try output(TensorData(parameters.dequantize(quantized), shape: filterShape)), try output(filter)).map { $0 - $1 }
        #expect(change.count == shift.count)
        for (measured, predicted) in zip(change, shift) { #expect(abs(Double(measured) - predicted) <= 1e-5, "\(change) vs \(shift)") }
    }

    /// With bias correction the int8 network still runs bit for bit as the integer reference.
    @Test func biasCorrectionKeepsTheIntegerPathExact() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let graph = try QuantizeInt8Tests.network()
        let file = try Self.calibration(in: directory).file
        let plain = try Compiler().optimize(graph, options: CompileOptions(quantization: .int8(calibration: .npy(file.path))))
        let options = CompileOptions(quantization: .int8(calibration: .npy(file.path), biasCorrection: true))
        let corrected = try Compiler().optimize(graph, options: options)
        func biases(_ graph: Graph) -> [[Float]] {
            graph.nodes.filter { $0.inputs.count > 2 }.compactMap { graph.constantData($0.inputs[2])?.floats() }
        }
        #expect(biases(plain) != biases(corrected))
        try expectCompiledMatchesReference(graph, options: options, tolerance: 0, "bias-corrected int8 network")
    }

    /// On a layer whose inputs' mean is far from 0, rounding the weights shifts every output
    /// channel's mean; bias correction removes most of that shift on the calibration samples.
    @Test func biasCorrectionCentresTheOutputError() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var graph = Graph(name: "dense")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 512]))
        let w = graph.addConstant(name: "w", data: TensorData(uniformValues(8 * 512, in: -0.5...0.5, seed: 8), shape: [8, 512]))
        graph.outputs = [try graph.addNode(.fullyConnected(activation: nil), inputs: [x, w], name: "dense")]
        let samples = (0..<32).map { uniformValues(512, in: 0.5...1.5, seed: UInt64(300 + $0)) }
        let float = try Compiler().optimize(graph, options: CompileOptions())
        func channelMeanError(biasCorrection: Bool) throws -> Double {
            let options = CompileOptions(quantization: .int8(calibration: .samples(samples), biasCorrection: biasCorrection))
            let quantized = try Compiler().optimize(graph, options: options)
            var sums = [Double](repeating: 0, count: 8)
            for sample in samples {
                let input = [TensorData(sample, shape: [1, 512])]
                let expected = try ReferenceInterpreter(float).run(input)[0].floats()
                let actual = try ReferenceInterpreter(quantized).run(input)[0].floats()
                for channel in 0..<8 { sums[channel] += Double(actual[channel] - expected[channel]) / Double(samples.count) }
            }
            return sums.map(abs).reduce(0, +)
        }
        let plain = try channelMeanError(biasCorrection: false)
        let corrected = try channelMeanError(biasCorrection: true)
        #expect(corrected < plain / 2, "mean error per channel \(corrected) with correction, \(plain) without")
    }

    /// KL divergence clips a few far, scattered outliers that would leave a bell-shaped bulk of
    /// values a handful of int8 levels, keeps the bulk, and the network quantized with it runs
    /// exactly as the integer reference.
    @Test func klDivergenceClipsScatteredOutliers() throws {
        var graph = Graph(name: "ranges")
        let uniform = uniformValues(80_000, in: -1...1, seed: 5)
        let bulk = (0..<20_000).map { uniform[(4 * $0)..<(4 * $0 + 4)].reduce(0, +) / 2 }
        let outliers = uniformValues(10, in: 5...50, seed: 6)
        let values = bulk + outliers
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, values.count]))
        graph.outputs = [try graph.addNode(.reshape([values.count]), inputs: [x], name: "flat")]
        let samples = [[TensorData(values, shape: [1, values.count])]]
        let largest = try #require(ActivationRanges(graph, samples: samples, method: .minMax).ranges[x]).upperBound
        let clipped = try #require(ActivationRanges(graph, samples: samples, method: .klDivergence).ranges[x])
        #expect(clipped.upperBound < 0.2 * largest && clipped.upperBound >= 1, "\(clipped) of \(largest)")
        #expect(clipped.lowerBound < -1, "the lower end has no outliers to clip")

        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try Self.calibration(in: directory).file
        let options = CompileOptions(quantization: .int8(calibration: .npy(file.path), ranges: .klDivergence))
        try expectCompiledMatchesReference(QuantizeInt8Tests.network(), options: options, tolerance: 0, "int8 network, KL")
    }

    /// Samples made by Swift code calibrate exactly as the same samples in a `.npy` file.
    @Test func swiftSamplesCalibrateLikeAFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let graph = try QuantizeInt8Tests.network()
        let (file, samples) = try Self.calibration(in: directory)
        let fromFile = try Compiler().optimize(graph, options: CompileOptions(quantization: .int8(calibration: .npy(file.path))))
        let generated = CompileOptions.Calibration.samples(count: samples.count) { samples[$0] }
        #expect(generated == .samples(samples))
        let fromSwift = try Compiler().optimize(graph, options: CompileOptions(quantization: .int8(calibration: generated)))
        #expect(fromSwift == fromFile)
    }

    /// Swift samples that cannot calibrate the model: each error names the model and the sample.
    @Test(arguments: [
        ("short", "calibration samples: sample 1 has 431 values; input 'x' f32[1x12x12x3] takes 432"),
        ("none", "calibration samples: holds no samples"), ("NaN", "calibration samples: sample 0 holds nan at element 3"),
    ])
    func badSwiftSamplesAreAClearError(name: String, message: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = [Float](repeating: 0, count: 432)
        let samples: [[Float]] =
            switch name {
            case "short": [good, Array(good.dropLast())]
            case "none": []
            default: [[0, 0, 0, .nan] + good.dropFirst(4)]
            }
        let options = CompileOptions(quantization: .int8(calibration: .samples(samples)))
        let error = try #require(throws: DiagnosticError.self) {
            _ = try Compiler().optimize(QuantizeInt8Tests.network(), options: options)
        }
        #expect(error.description.contains("model 'ptq_net': \(message)"), "\(error)")
        #expect(error.description.contains("QuantizeInt8OptionsTests.swift"), "located at the options: \(error)")
    }

    /// A model file whose options make its calibration samples in Swift: traced, the samples
    /// carried to the compiler, quantized to int8 and run natively as the integer reference.
    @Test func swiftModelFileCalibratesWithAClosure() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let modelFile = try ModelFixtures.copy("QuantizedModels.swift", to: directory)
        try SafeTensors.write(
            ModelFixtures.weights(ModelFixtures.cnnShapes, seed: 200), to: directory.appendingPathComponent("cnn.safetensors"))
        let loaded = try #require(try ModelSource(url: modelFile).load().first { $0.name == "SmallCNNSwiftCalibrated" })
        guard case .fullInteger(let int8) = loaded.options.quantization, case .samples(let samples) = int8.calibration else {
            Issue.record("expected Swift calibration samples, got \(loaded.options.quantization)")
            return
        }
        #expect(samples.count == 16 && samples[1][2] == Float((2 * 37 + 101) % 97) / 24 - 2)
        let quantized = try Compiler().optimize(loaded.graph, options: loaded.options)
        #expect(quantized.nodes.filter { quantized.type(of: $0.outputs[0]).dtype == .float32 }.map(\.op) == [.dequantize])
        try expectCompiledMatchesReference(loaded.graph, options: loaded.options, inputRange: -2...2, tolerance: 0, "Swift-calibrated CNN")
    }

    /// An imported dynamic-range ("hybrid") model, the shared keyword-spotting model, becomes full
    /// int8 under `--quantize int8`: its int8 filters are kept, its run-time input rounding gives
    /// way to calibrated parameters; it runs as the integer reference and picks LiteRT's classes.
    @Test(.enabled(if: MLPerfTinyModels.available, MLPerfTinyModels.skipReason))
    func hybridLayersBecomeInt8() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let name = "kws_ref_model_float32"
        let loaded = try ModelSource(url: MLPerfTinyModels.url(name, "tflite")).load()[0]
        #expect(loaded.graph.nodes.contains { $0.op.kindName == "dynamic_range_quantize" })
        let options = CompileOptions(quantization: .int8(calibration: .npy(MLPerfTinyModels.url(name, "inputs.npy").path)))
        let quantized = try Compiler().optimize(loaded.graph, options: options)
        #expect(!quantized.nodes.contains { $0.op.kindName == "dynamic_range_quantize" }, "\(quantized.textDump)")
        #expect(quantized.nodes.filter { quantized.type(of: $0.outputs[0]).dtype == .float32 }.map(\.op) == [.dequantize])
        try expectCompiledMatchesReference(loaded.graph, options: options, tolerance: 0, "\(name) in int8")

        let model = try CompiledModel(contentsOf: Compiler().compile(loaded.graph, options: options, outputDirectory: directory).artifact)
        let (inputs, outputs) = try MLPerfTinyModels.samples(name)
        let classes = outputs.shape.dimensions.last ?? 1
        let expected = outputs.floats()
        let perInput = inputs.shape.elementCount / inputs.shape[0]
        for index in 0..<inputs.shape[0] {
            let output = try model.predict(Array(inputs.floats()[(index * perInput)..<((index + 1) * perInput)]))
            let reference = Array(expected[(index * classes)..<((index + 1) * classes)])
            #expect(output.indices.max { output[$0] < output[$1] } == reference.indices.max { reference[$0] < reference[$1] })
        }
    }
}
