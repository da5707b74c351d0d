import Foundation
import KilnRuntime
import Testing

@testable import KilnCompiler

/// The Swift API KilnPlugin generates, pinned by golden files in `Fixtures/GeneratedAPI`
/// (rewrite them with `KILN_UPDATE_GOLDEN=1 swift test --filter GeneratedAPITests` and review the
/// diff); `PluginTests` compiles and runs the generated source in an app under Swift 6.
@Suite struct GeneratedAPITests {
    static let goldens = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/GeneratedAPI")

    static func metadata(_ name: String, inputs: [TensorSignature], outputs: [TensorSignature]) -> ArtifactMetadata {
        ArtifactMetadata(
            modelName: name, entryPoint: "kiln_run", inputs: inputs, outputs: outputs, arenaByteCount: 64,
            requiredCPUFeatures: [], targetTriple: "x86_64-unknown-linux-gnu", targetCPU: "x86-64-v3", weightByteCount: 0)
    }

    /// A float classifier, a full-integer model with int8 inputs and outputs, and one with several
    /// tensors whose names are TensorFlow's, a keyword, a number and a repeat.
    static let cases: [(file: String, source: String)] = [
        (
            "Classifier.swift",
            SwiftAPIGenerator.source(
                for: [
                    metadata(
                        "DigitClassifier", inputs: [TensorSignature(name: "image", elementType: .float32, shape: [1, 8, 8, 1])],
                        outputs: [TensorSignature(name: "softmax_0", elementType: .float32, shape: [1, 10])])
                ], modelFile: "DigitClassifier.swift", resource: "DigitClassifier")
        ),
        (
            "FullInteger.swift",
            SwiftAPIGenerator.source(
                for: [
                    metadata(
                        "KeywordSpotter",
                        inputs: [
                            TensorSignature(name: "mfcc", elementType: .int8, shape: [1, 49, 10, 1], scale: 0.5, zeroPoint: -3)
                        ],
                        outputs: [
                            TensorSignature(name: "Identity", elementType: .int8, shape: [1, 12], scale: 0.00390625, zeroPoint: -128)
                        ])
                ], modelFile: "KeywordSpotter.swift", resource: "KeywordSpotter", accessLevels: ["KeywordSpotter": .public])
        ),
        (
            "SeveralTensors.swift",
            SwiftAPIGenerator.source(
                for: [
                    metadata(
                        "Segmenter",
                        inputs: [
                            TensorSignature(name: "serving_default_input_1:0", elementType: .float32, shape: [1, 32, 32, 3]),
                            TensorSignature(name: "default", elementType: .float32, shape: [1, 32, 32, 1]),
                            TensorSignature(name: "7", elementType: .int32, shape: [1]),
                        ],
                        outputs: [
                            TensorSignature(name: "mask", elementType: .float32, shape: [1, 32, 32, 1]),
                            TensorSignature(name: "mask", elementType: .float32, shape: [1, 4]),
                        ])
                ], modelFile: "Segmenter.swift", resource: "Segmenter", accessLevels: ["Segmenter": .package])
        ),
    ]

    @Test(arguments: cases.map(\.file))
    func generatedSourceMatchesItsGolden(_ file: String) throws {
        let source = try #require(Self.cases.first { $0.file == file }).source
        let golden = Self.goldens.appendingPathComponent(file)
        if ProcessInfo.processInfo.environment["KILN_UPDATE_GOLDEN"] != nil {
            try source.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(source == expected, "the generated API changed: review it, then KILN_UPDATE_GOLDEN=1 to update \(golden.path)")
    }

    @Test func tensorNamesBecomeSwiftNames() {
        #expect(
            SwiftIdentifier.names(for: ["serving_default_input_1:0", "StatefulPartitionedCall:0", "image", "IMAGE", "7", "in", "image"], fallback: "input")
                == ["servingDefaultInput1", "statefulPartitionedCall", "image", "image2", "input4", "inTensor", "image3"])
    }

    @Test func accessLevelsFollowTheModelsDeclaration() {
        let source = """
            import Kiln
            public struct A: Model { var body: some Layer { Input(shape: [1]) } }
            package final class B: Model {}
            struct C: Model {}
            """
        #expect(SwiftAPIGenerator.accessLevels(in: source, models: ["A", "B", "C"]) == ["A": .public, "B": .package, "C": .internal])
    }

    @Test func rankingPutsTheLargestFirstAndNaNLast() {
        let top = Ranking.top(3, of: [0.1, .nan, 0.7, 0.7, 0.05])
        #expect(top.map(\.index) == [2, 3, 0])
        #expect(Ranking.top(9, of: [.nan, 1]).map(\.index) == [1, 0])
        #expect(Ranking.top(0, of: [1]).isEmpty)
    }
}
