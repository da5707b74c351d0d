import Foundation
import KilnCompiler
import KilnIR
import KilnReference
import Testing

/// Builds `Tests/PluginFixture`, a package that applies KilnPlugin by path,
/// the way an app would, and checks what the build produces.
@Suite(.serialized) struct PluginTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixture = repository.appendingPathComponent("Tests/PluginFixture")
    static let scratch = repository.appendingPathComponent(".build-fixture")

    static var swift: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = path.split(separator: ":").map { "\($0)/swift" } + ["/opt/swift/usr/bin/swift"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }.map(URL.init(fileURLWithPath:))
    }

    func build(product: String) throws -> (status: Int32, output: String) {
        let swift = try #require(Self.swift, "swift must be on PATH")
        return try Self.swiftBuild(
            swift, ["--package-path", Self.fixture.path, "--scratch-path", Self.scratch.path, "--product", product])
    }

    /// Runs `swift build`, once more if Kiln's own sources failed to compile.
    ///
    /// An incremental build of a package that depends on Kiln by path can
    /// reuse a stale build plan after files are added to Kiln, and fail with
    /// "cannot find … in scope" inside Kiln; the next build plans afresh.
    /// Fresh checkouts (CI) never hit this, developers' reruns did.
    static func swiftBuild(_ swift: URL, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let first = try CommandLineTool.run(swift, ["build"] + arguments)
        let failedInKiln = first.output.contains("\(repository.path)/Sources/") && first.output.contains("error:")
        guard first.status != 0, failedInKiln else { return first }
        return try CommandLineTool.run(swift, ["build"] + arguments)
    }

    @Test func appUsingThePluginMatchesTheReferenceInterpreter() throws {
        let build = try build(product: "Classifier")
        try #require(build.status == 0, "\(build.output)")
        let run = try CommandLineTool.run(Self.scratch.appendingPathComponent("debug/Classifier"), [])
        #expect(run.status == 0, "\(run.output)")
        try Self.expectOutputsMatchReference(
            run.output, modelFile: Self.fixture.appendingPathComponent("Sources/Classifier/TinyNet.swift"),
            tolerance: 1e-4, "plugin-built TinyNet")
    }

    /// Checks a fixture program's printed outputs (one line of float bit patterns per
    /// sample, inputs `sin(0.37 · i · (sample + 1))`) against the reference
    /// interpreter run on the traced model file.
    static func expectOutputsMatchReference(
        _ printed: String, modelFile: URL, tolerance: Float, _ context: String,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        let outputs = printed.split(separator: "\n").map { line in
            line.split(separator: " ").compactMap { UInt32($0) }.map(Float.init(bitPattern:))
        }
        #expect(outputs.count == 3, sourceLocation: sourceLocation)
        let trace = try #require(try ModelSourceTracer().trace(modelFile: modelFile).first)
        let graph = try Compiler().optimize(try #require(trace.graph), options: trace.options)
        let interpreter = try ReferenceInterpreter(graph)
        let shape = graph.type(of: graph.inputs[0]).shape
        for (sample, output) in outputs.enumerated() {
            let input = (0..<shape.elementCount).map { Float(sin(Double($0 * (sample + 1)) * 0.37)) }
            let expected = try interpreter.run([TensorData(input, shape: shape)])[0].floats()
            expectClose(output, expected, tolerance: tolerance, "\(context) sample \(sample)", sourceLocation: sourceLocation)
        }
    }

    @Test func shapeErrorFailsTheBuildAtTheModelsLine() throws {
        let build = try build(product: "ShapeErrorApp")
        #expect(build.status != 0)
        #expect(
            build.output.contains("Sources/ShapeErrorApp/BadModel.swift:7:")
                && build.output.contains("error: layer 'reshape_0' (reshape): cannot reshape [1x4]"), "\(build.output)")
    }

    /// A model added to an existing model file, saved in place as an editor does, is compiled by
    /// the next build and reaches the app's resources. SwiftPM may keep a plugin's planned outputs
    /// after a file's contents change: with one artifact per model, the new model's was missing at
    /// run time on a fresh scratch directory ("Second.kiln is missing from the app's resources").
    /// KilnPlugin now writes one artifact per model file, holding all its models.
    @Test func addingAModelToAFileRebuildsIt() throws {
        let directory = Self.fixture.appendingPathComponent("Sources/GrowingApp")
        let (models, main) = (directory.appendingPathComponent("Models.swift"), directory.appendingPathComponent("main.swift"))
        let original = try (String(contentsOf: models, encoding: .utf8), String(contentsOf: main, encoding: .utf8))
        defer {
            try? original.0.write(to: models, atomically: false, encoding: .utf8)
            try? original.1.write(to: main, atomically: false, encoding: .utf8)
        }
        let first = try build(product: "GrowingApp")
        try #require(first.status == 0, "\(first.output)")
        let second = """

            struct Second: Model {
                var body: some Layer {
                    Input(shape: [1, 2])
                    Dense(5)
                }
                var weights: WeightSource { .seeded(2) }
            }

            """
        // Written in place, as an editor saves: an atomic write (a new file renamed over the old)
        // changes the directory, which alone makes SwiftPM plan afresh.
        try (original.0 + second).write(to: models, atomically: false, encoding: .utf8)
        try (original.1 + "print(try Second.compiled().metadata.modelName)\n").write(to: main, atomically: false, encoding: .utf8)
        let rebuilt = try build(product: "GrowingApp")
        try #require(rebuilt.status == 0, "\(rebuilt.output)")
        // The build log says what the plugin compiled, and how long each phase took.
        #expect(rebuilt.output.contains("Models.swift: Second [trace "), "\(rebuilt.output)")
        let run = try CommandLineTool.run(Self.scratch.appendingPathComponent("debug/GrowingApp"), [])
        #expect(run.status == 0 && run.output.contains("First") && run.output.contains("Second"), "\(run.output)")
    }

    /// A weight file that does not exist is Kiln's error at the model's `weights` line, not
    /// SwiftPM's "missing inputs".
    @Test func missingWeightFileFailsAtTheModelsLine() throws {
        let build = try build(product: "MissingWeightsApp")
        #expect(build.status != 0)
        #expect(build.output.contains("Sources/MissingWeightsApp/Model.swift:8:"), "\(build.output)")
        #expect(build.output.contains("absent.safetensors"), "\(build.output)")
        #expect(!build.output.contains("missing input"), "\(build.output)")
    }

    @Test func modelUsingAppCodeFailsWithTheSelfContainedRule() throws {
        let build = try build(product: "AppCodeApp")
        #expect(build.status != 0)
        #expect(build.output.contains("WideModel.swift:5:"), "\(build.output)")
        #expect(build.output.contains("must be self-contained"), "\(build.output)")
    }
}
