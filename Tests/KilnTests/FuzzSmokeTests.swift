import Foundation
import KilnFuzzing
import KilnIR
import KilnImport
import Testing

/// A short run of every fuzz target: the committed corpus (`Fuzz/Corpus/*.hex`), then
/// seeded random edits of it. The long coverage-guided runs are `scripts/fuzz.sh`.
@Suite struct FuzzSmokeTests {
    static let corpusRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Corpus")

    static func corpus(_ target: String) throws -> [[UInt8]] {
        FuzzCorpus.decode(try String(contentsOf: corpusRoot.appendingPathComponent("\(target).hex"), encoding: .utf8))
    }

    @Test(arguments: FuzzTarget.all())
    func corpusAndRandomEditsEndInResultsOrErrors(_ target: FuzzTarget) throws {
        let corpus = try Self.corpus(target.name)
        #expect(corpus.count >= 20, "the committed corpus of \(target.name) is missing")
        // A trap or a hang fails the run; what is checked here is that the inputs reach every stage.
        let run = RandomFuzzRun(target, corpus: corpus, runs: 1500, seed: 7)
        #expect(run.executions == corpus.count + 1500)
        #expect((run.outcomes[.unreadable] ?? 0) > 0, "\(run.outcomes)")
        #expect((run.outcomes[.accepted] ?? 0) > 0, "\(run.outcomes)")
    }

    /// The seeds are valid models, so mutations start from graphs that reach the passes.
    @Test func everySeedModelImports() throws {
        for (index, seed) in SeedModels.all.enumerated() {
            let graph = try TFLiteImporter.importGraph(seed, name: "seed\(index)", source: "seed\(index).tflite")
            try graph.validate()
        }
        for (index, seed) in ONNXSeedModels.all.enumerated() {
            let graph = try ONNXImporter.importGraph(ONNXModel(bytes: seed, source: "seed\(index).onnx"), name: "seed\(index)")
            try graph.validate()
            let int8Layers = graph.nodes.filter { graph.type(of: $0.outputs[0]).dtype == .int8 }.map(\.op.kindName)
            #expect(index != 2 || Set(int8Layers).isSuperset(of: ["conv2d", "max_pool2d", "add", "fully_connected"]), "\(int8Layers)")
            // The wire-format view the mutator edits writes the file back byte for byte.
            #expect(ProtobufWireMessage(parsing: seed)?.encoded == seed, "ONNX seed \(index)")
        }
    }
}

extension FuzzTarget: CustomTestStringConvertible {
    public var testDescription: String { name }
}
