import Foundation
import KilnCompiler
import KilnIR
import KilnImport
import Testing

/// `kiln import` writes each shared model as Swift source and weights; a
/// package compiles them through KilnPlugin like hand-written models, and its
/// outputs must reproduce LiteRT's stored outputs.
// Skipped where ../shared/models is absent (it is not part of the repository).
@Suite(.serialized, .enabled(if: MLPerfTinyModels.available, MLPerfTinyModels.skipReason))
struct ImportedModelPluginTests {
    static let package = PluginTests.repository.appendingPathComponent(".build-imported/Package")
    static let scratch = PluginTests.repository.appendingPathComponent(".build-imported/scratch")

    /// Writes the package: the imported models plus a `main.swift` that runs one of them on raw input bytes.
    static func writePackage() throws -> [String: String] {
        let sources = package.appendingPathComponent("Sources/ImportedModels")
        try FileManager.default.createDirectory(at: sources, withIntermediateDirectories: true)
        var typeNames: [String: String] = [:]
        for name in MLPerfTinyModels.names {
            let typeName = ModelSourceWriter.typeName(for: name)
            let graph = try TFLiteImporter.importGraph(contentsOf: MLPerfTinyModels.url(name, "tflite"))
            let (source, weights) = try ModelSourceWriter(typeName: typeName).write(graph, weightFileName: "\(typeName).safetensors")
            try writeIfChanged(Data(source.utf8), to: sources.appendingPathComponent("\(typeName).swift"))
            try writeIfChanged(Data(SafeTensors.encode(weights)), to: sources.appendingPathComponent("\(typeName).safetensors"))
            typeNames[name] = typeName
        }
        let cases = typeNames.values.sorted().map { "case \"\($0)\": model = try \($0).compiled().model" }
        let main = """
            // Runs one imported model over a file of raw inputs: NAME INPUT.bin OUTPUT.bin
            import Foundation
            import KilnRuntime

            let arguments = CommandLine.arguments
            let model: CompiledModel
            switch arguments[1] {
            \(cases.joined(separator: "\n"))
            default: fatalError("unknown model \\(arguments[1])")
            }
            let input = try Data(contentsOf: URL(fileURLWithPath: arguments[2]))
            let (inputSize, outputSize) = (model.metadata.inputs[0].byteCount, model.metadata.outputs[0].byteCount)
            var output = Data(count: input.count / inputSize * outputSize)
            try input.withUnsafeBytes { source in
                try output.withUnsafeMutableBytes { destination in
                    for index in 0..<(input.count / inputSize) {
                        try model.run(
                            input: UnsafeRawBufferPointer(rebasing: source[(index * inputSize)..<((index + 1) * inputSize)]),
                            output: UnsafeMutableRawBufferPointer(
                                rebasing: destination[(index * outputSize)..<((index + 1) * outputSize)]))
                    }
                }
            }
            try output.write(to: URL(fileURLWithPath: arguments[3]))

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
        for name in MLPerfTinyModels.names {
            let inputs = try NumPyArray.read(contentsOf: MLPerfTinyModels.url(name, "inputs.npy"))
            let expected = try NumPyArray.read(contentsOf: MLPerfTinyModels.url(name, "outputs.npy"))
            let inputFile = Self.scratch.appendingPathComponent("\(name).in")
            let outputFile = Self.scratch.appendingPathComponent("\(name).out")
            try Data(inputs.bytes).write(to: inputFile)
            let run = try CommandLineTool.run(executable, [try #require(typeNames[name]), inputFile.path, outputFile.path])
            try #require(run.status == 0, "\(name): \(run.output)")
            let actual = TensorData(dtype: expected.dtype, shape: expected.shape, bytes: [UInt8](try Data(contentsOf: outputFile)))
            LiteRTComparison.expectReproduces(actual, expected, model: name)
        }
    }
}

/// The acceptance rule for reproducing LiteRT's stored outputs.
enum LiteRTComparison {
    /// Float: every element within 1e-4 relative or 1e-5 absolute; int8: within ±1 and ≥ 99 % exact.
    static func expectReproduces(
        _ actual: TensorData, _ expected: TensorData, model: String,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        let (a, e) = (actual.floats(), expected.floats())
        #expect(a.count == e.count, "\(model): element count", sourceLocation: sourceLocation)
        let exact = zip(a, e).filter { $0 == $1 }.count
        switch expected.dtype {
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
