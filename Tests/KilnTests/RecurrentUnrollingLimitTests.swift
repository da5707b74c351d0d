import Foundation
import KilnFuzzing
import KilnIR
import KilnImport
import Testing

/// Recurrent layers unroll at import, at most 4,096 steps in a model (every layer, loop and
/// direction together): a longer sequence, from a real model or a damaged file, is an error
/// naming the layer, never a graph too large to compile (a fuzzed LSTM with a long sequence
/// made the importer time out).
@Suite struct RecurrentUnrollingLimitTests {
    /// `lstm_fused.tflite` with its sequence `steps` long (the weights do not depend on it).
    static func lstm(steps: Int) throws -> TFLiteModel {
        var model = try TFLiteModel(contentsOf: KerasModelTests.fixtures.appendingPathComponent("lstm_fused.tflite"))
        let input = model.subgraphs[0].inputs[0]
        model.subgraphs[0].tensors[input].shape[1] = steps
        return model
    }

    /// (The ONNX test checks that the layers' steps add up; a stacked TFLite model would need every
    /// stored shape edited.)
    @Test func longTFLiteSequencesAreNamed() throws {
        func message(steps: Int) -> String {
            let error = #expect(throws: TFLiteError.self) {
                try TFLiteImporter.importGraph(try Self.lstm(steps: steps), name: "lstm_fused", source: "lstm_fused.tflite")
            }
            return error?.message ?? ""
        }
        let long = message(steps: 5000)
        #expect(long.hasPrefix("lstm_fused.tflite: operator #0 UNIDIRECTIONAL_SEQUENCE_LSTM: "), "\(long)")
        #expect(long.contains("the LSTM runs 5000 steps, more than the 4096 Kiln unrolls"), "\(long)")
    }

    @Test func longONNXSequencesAreNamed() throws {
        func message(steps: Int) -> String {
            let error = #expect(throws: (any Error).self) {
                try ONNXImporter.importGraph(
                    ONNXModel(bytes: ONNXSeedModels.recurrentNetworkBytes(steps: steps), source: "recurrent.onnx"), name: "recurrent")
            }
            return error.map { "\($0)" } ?? ""
        }
        #expect(message(steps: 2100).contains("2100 steps in 2 direction(s), more than the 4096 Kiln unrolls"))
        // The bidirectional LSTM takes 3,000 steps; the GRU's 1,500 more pass the limit.
        let stacked = message(steps: 1500)
        #expect(stacked.contains("GRU") && stacked.contains("1500 steps in 1 direction(s)"), "\(stacked)")
        let graph = try ONNXImporter.importGraph(
            ONNXModel(bytes: ONNXSeedModels.recurrentNetworkBytes(steps: 1000), source: "recurrent.onnx"), name: "recurrent")
        #expect(graph.outputs.map { graph.type(of: $0).shape } == [[1000, 2, 1, 4], [1000, 1, 1, 4]])
    }
}
