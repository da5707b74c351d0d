import Foundation
import KilnCompiler
import KilnIR
import KilnImport
import Testing

/// `kiln import` writes each shared model, Keras fixtures that need explicit
/// padding, constants, index inputs, several inputs and several outputs, and ONNX models (a
/// transformer block, a QOperator CNN, bicubic resizing) as Swift source and weights; a package compiles them through KilnPlugin like
/// hand-written models, and its outputs must reproduce LiteRT's (or ONNX Runtime's) stored outputs.
// Skipped where ../shared/models is absent (it is not part of the repository).
@Suite(.serialized, .enabled(if: MLPerfTinyModels.available, MLPerfTinyModels.skipReason))
struct ImportedModelPluginTests {
    static let package = PluginTests.repository.appendingPathComponent(".build-imported/Package")
    static let scratch = PluginTests.repository.appendingPathComponent(".build-imported/scratch")

    /// A model to import: its file, the input to run it on and the outputs to reproduce.
    struct ImportedCase {
        var name: String
        var model: URL
        var inputs: [URL]
        var outputs: [URL]
        /// Whether the stored input is an NCHW image the imported model takes as NHWC.
        var isNCHW = false
    }

    /// The MLPerf Tiny models, and Keras fixtures that need the DSL's explicit
    /// padding, constants, index inputs, several inputs and several outputs.
    static var cases: [ImportedCase] {
        let keras = KerasModelTests.fixtures
        func fixture(_ model: String, input: String) -> ImportedCase {
            ImportedCase(
                name: model, model: keras.appendingPathComponent("\(model).tflite"),
                inputs: ModelFixtures.arrayFiles(input, "inputs", in: keras),
                outputs: ModelFixtures.arrayFiles(model, "outputs", in: keras))
        }
        return MLPerfTinyModels.names.map { name in
            ImportedCase(
                name: name, model: MLPerfTinyModels.url(name, "tflite"), inputs: [MLPerfTinyModels.url(name, "inputs.npy")],
                outputs: [MLPerfTinyModels.url(name, "outputs.npy")])
        } + [
            fixture("decoder_net", input: "decoder_net"), fixture("decoder_net_int8", input: "decoder_net"),
            fixture("embedding_text_int8", input: "embedding_text"),
            fixture("reductions_net", input: "reductions_net"),
            fixture("fusion_net", input: "fusion_net"), fixture("fusion_net_int8", input: "fusion_net"),
        ] + ["encoder", "cnn_qop", "resampled"].map { name in
            let onnx = ONNXModelTests.fixtures.appendingPathComponent("ONNX")
            let base = name.replacingOccurrences(of: "_qop", with: "")
            return ImportedCase(
                name: name, model: onnx.appendingPathComponent("\(name).onnx"),
                inputs: [onnx.appendingPathComponent("\(base).inputs.npy")],
                outputs: [onnx.appendingPathComponent("\(name).outputs.npy")], isNCHW: name != "encoder")
        }
    }

    /// Writes the package: the imported models plus a `main.swift` that runs one of them on raw input bytes.
    static func writePackage() throws -> [String: String] {
        let sources = package.appendingPathComponent("Sources/ImportedModels")
        try FileManager.default.createDirectory(at: sources, withIntermediateDirectories: true)
        var typeNames: [String: String] = [:]
        for model in cases {
            let typeName = ModelSourceWriter.typeName(for: model.name)
            let graph = try ModelSource(url: model.model).load()[0].graph
            let (source, weights) = try ModelSourceWriter(typeName: typeName).write(graph, weightFileName: "\(typeName).safetensors")
            try writeIfChanged(Data(source.utf8), to: sources.appendingPathComponent("\(typeName).swift"))
            try writeIfChanged(Data(SafeTensors.encode(weights)), to: sources.appendingPathComponent("\(typeName).safetensors"))
            typeNames[model.name] = typeName
        }
        let cases = typeNames.values.sorted().map { "case \"\($0)\": model = try \($0).compiled().model" }
        let main = """
            // Runs one imported model over files of raw inputs: NAME OUTPUT.bin INPUT0.bin [INPUT1.bin …]
            import Foundation
            import KilnRuntime

            let arguments = CommandLine.arguments
            let model: CompiledModel
            switch arguments[1] {
            \(cases.joined(separator: "\n"))
            default: fatalError("unknown model \\(arguments[1])")
            }
            // Each input file holds that input's values for every run back to back; each run's outputs
            // are written one after another.
            let inputs = try arguments.dropFirst(3).map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
            let sizes = model.metadata.inputs.map(\\.byteCount)
            var output = Data()
            for index in 0..<(inputs[0].count / sizes[0]) {
                let sources = zip(inputs, sizes).map { input, size in
                    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
                    buffer.copyBytes(from: input[(index * size)..<((index + 1) * size)])
                    return UnsafeRawBufferPointer(buffer)
                }
                let buffers = model.metadata.outputs.map { UnsafeMutableRawBufferPointer.allocate(byteCount: $0.byteCount, alignment: 64) }
                defer {
                    sources.forEach { $0.deallocate() }
                    buffers.forEach { $0.deallocate() }
                }
                try sources.withUnsafeBufferPointer { inputs in
                    try buffers.withUnsafeBufferPointer { try model.run(inputs: inputs, outputs: $0) }
                }
                for buffer in buffers { output.append(contentsOf: buffer) }
            }
            try output.write(to: URL(fileURLWithPath: arguments[2]))

            """
        try writeIfChanged(Data(main.utf8), to: sources.appendingPathComponent("main.swift"))
        let manifest = """
            // swift-tools-version: 6.0
            // Written by KilnTests/ImportedModelPluginTests: imported models compiled by KilnPlugin.
            import PackageDescription

            let package = Package(
                name: "ImportedModels",
                dependencies: [.package(name: "kiln", path: "\(PluginTests.repository.path)")],
                targets: [
                    .executableTarget(
                        name: "ImportedModels",
                        dependencies: [.product(name: "Kiln", package: "kiln")],
                        exclude: [\(typeNames.values.sorted().map { "\"\($0).safetensors\"" }.joined(separator: ", "))],
                        plugins: [.plugin(name: "KilnPlugin", package: "kiln")])
                ],
                swiftLanguageModes: [.v6]
            )

            """
        try writeIfChanged(Data(manifest.utf8), to: package.appendingPathComponent("Package.swift"))
        return typeNames
    }

    /// Leaves unchanged files untouched so rebuilds stay incremental.
    static func writeIfChanged(_ data: Data, to url: URL) throws {
        if (try? Data(contentsOf: url)) == data { return }
        try data.write(to: url)
    }

    @Test func importedSwiftModelsReproduceLiteRT() throws {
        let typeNames = try Self.writePackage()
        let swift = try #require(PluginTests.swift)
        let build = try PluginTests.swiftBuild(swift, ["--package-path", Self.package.path, "--scratch-path", Self.scratch.path])
        try #require(build.status == 0, "\(build.output)")
        let executable = Self.scratch.appendingPathComponent("debug/ImportedModels")
        for model in Self.cases {
            let inputs = try model.inputs.map { url in
                let input = try NumPyArray.read(contentsOf: url)
                return model.isNCHW ? ONNXOperatorModelTests.channelsLast(input) : input
            }
            // An NCHW image output comes out of the imported (NHWC) model channels-last.
            let expected = try model.outputs.map { url in
                let output = try NumPyArray.read(contentsOf: url)
                return model.isNCHW && output.shape.rank == 4 ? ONNXOperatorModelTests.channelsLast(output) : output
            }
            let inputFiles = inputs.indices.map { Self.scratch.appendingPathComponent("\(model.name).\($0).in") }
            let outputFile = Self.scratch.appendingPathComponent("\(model.name).out")
            for (input, file) in zip(inputs, inputFiles) { try Data(input.bytes).write(to: file) }
            let run = try CommandLineTool.run(
                executable, [try #require(typeNames[model.name]), outputFile.path] + inputFiles.map(\.path))
            try #require(run.status == 0, "\(model.name): \(run.output)")
            let produced = [UInt8](try Data(contentsOf: outputFile))
            // Outputs come per run, one after another: split them by each output's share of a run.
            let runBytes = expected.reduce(0) { $0 + $1.bytes.count / max($1.shape.first ?? 1, 1) }
            let runs = max(expected.first?.shape.first ?? 1, 1)
            var offsets = Array(repeating: [UInt8](), count: expected.count)
            for run in 0..<runs {
                var start = run * runBytes
                for (position, output) in expected.enumerated() {
                    let size = output.bytes.count / runs
                    offsets[position] += produced[start..<min(start + size, produced.count)]
                    start += size
                }
            }
            let graph = try ModelSource(url: model.model).load()[0].graph
            for (position, output) in expected.enumerated() {
                let actual = TensorData(dtype: output.dtype, shape: output.shape, bytes: offsets[position])
                LiteRTComparison.expectReproduces(
                    actual, output, model: "\(model.name) output \(position)", step: KerasModelTests.outputStep(graph, output: position))
            }
        }
    }
}

/// The acceptance rule for reproducing LiteRT's stored outputs.
enum LiteRTComparison {
    /// Float: every element within 1e-4 relative or 1e-5 absolute (one step of
    /// `step` for the dequantized outputs of an int8 model); int8: within ±1 and
    /// ≥ 99 % exact; int32 positions: equal.
    static func expectReproduces(
        _ actual: TensorData, _ expected: TensorData, model: String, step: Float? = nil,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        let (a, e) = (actual.floats(), expected.floats())
        #expect(a.count == e.count, "\(model): element count", sourceLocation: sourceLocation)
        let exact = zip(a, e).filter { $0 == $1 }.count
        switch expected.dtype {
        case .float32 where step != nil:
            // Dequantized outputs of an int8 model: within one step of the int8 value.
            let step = (step ?? 0) * 1.001
            let far = zip(a, e).enumerated().filter { abs($0.element.0 - $0.element.1) > step }
            #expect(far.isEmpty, "\(model): \(far.count) elements differ by more than \(step), first \(far.prefix(3))", sourceLocation: sourceLocation)
        case .int32:
            #expect(a == e, "\(model): positions differ", sourceLocation: sourceLocation)
        case .int8:
            let far = zip(a, e).enumerated().filter { abs($0.element.0 - $0.element.1) > 1 }
            #expect(far.isEmpty, "\(model): \(far.count) elements differ by more than 1, first \(far.prefix(3))", sourceLocation: sourceLocation)
            #expect(Double(exact) >= 0.99 * Double(e.count), "\(model): \(exact)/\(e.count) exact", sourceLocation: sourceLocation)
        default:
            let far = zip(a, e).enumerated().filter { abs($0.element.0 - $0.element.1) > max(1e-4 * abs($0.element.1), 1e-5) }
            #expect(far.isEmpty, "\(model): \(far.count) elements outside tolerance, first \(far.prefix(3))", sourceLocation: sourceLocation)
        }
    }
}
