import Kiln
import KilnCompiler
import KilnIR
import KilnImport

/// A reader (and what follows it) driven by fuzzer inputs: every input must end
/// in a clean result or a thrown error with a message, never a trap or a hang.
public struct FuzzTarget: Sendable {
    /// How far an input got.
    public enum Outcome: String, CaseIterable, Sendable {
        /// The reader rejected the file.
        case unreadable
        /// The file was read, but the importer or the validator rejected the model.
        case rejected
        /// The model imported but the compile options or passes rejected it.
        case rejectedByPasses
        /// Everything accepted the input.
        case accepted
    }

    /// The target's name on the command line.
    public let name: String
    /// Runs one input.
    public let run: @Sendable ([UInt8]) -> Outcome

    /// Every target, by name.
    public static func all(tfliteSeeds: [TFLiteModel] = SeedModels.all, onnxSeeds: [[UInt8]] = ONNXSeedModels.all) -> [FuzzTarget] {
        [tflite(seeds: tfliteSeeds), onnx(seeds: onnxSeeds), safetensors, numPy, numPyArchive]
    }

    /// TFLite reader, validator, importer and pass pipeline, on seed models with edited fields.
    public static func tflite(seeds: [TFLiteModel]) -> FuzzTarget {
        let mutator = TFLiteMutator(seeds: seeds)
        return FuzzTarget(name: "tflite") { data in
            let bytes = mutator.mutate(data)
            let model: TFLiteModel
            do {
                model = try TFLiteModel(bytes: bytes, source: "fuzz.tflite")
            } catch {
                expectMessage(error, prefix: "fuzz.tflite: ")
                return .unreadable
            }
            // What the reader accepts, the writer writes back the same (as bytes when NaN fields make `==` false).
            guard let reread = try? TFLiteModel(bytes: model.encoded(), source: "fuzz.tflite"),
                reread == model || reread.encoded() == model.encoded()
            else {
                fatalError("a model the reader accepted does not survive writing and reading back")
            }
            _ = model.summary
            return importedOutcome(data) { try TFLiteImporter.importGraph(model, name: "fuzz", source: "fuzz.tflite") }
        }
    }

    /// ONNX decoder, importer, validator and pass pipeline, on seed models with edited wire-format fields.
    public static func onnx(seeds: [[UInt8]]) -> FuzzTarget {
        let mutator = ONNXMutator(seeds: seeds)
        return FuzzTarget(name: "onnx") { data in
            let bytes = mutator.mutate(data)
            let model: ONNXModel
            do {
                model = try ONNXModel(bytes: bytes, source: "fuzz.onnx")
            } catch {
                expectMessage(error, prefix: "fuzz.onnx: ")
                return .unreadable
            }
            return importedOutcome(data) { try ONNXImporter.importGraph(model, name: "fuzz") }
        }
    }

    /// Imports and validates a model, then runs the pass pipeline on it with the options `data` picks.
    private static func importedOutcome(_ data: [UInt8], importGraph: () throws -> Graph) -> Outcome {
        let graph: Graph
        do {
            graph = try importGraph()
            try graph.validate()
        } catch {
            expectMessage(error, prefix: "")
            return .rejected
        }
        do {
            let optimized = try Compiler().optimize(graph, options: options(for: data))
            _ = ModelReport(optimized).table
        } catch {
            expectMessage(error, prefix: "")
            return .rejectedByPasses
        }
        return .accepted
    }

    /// Compile options chosen by the input's length, so each seed edit runs through every pipeline.
    private static func options(for data: [UInt8]) -> CompileOptions {
        switch data.count % 4 {
        case 1: CompileOptions(quantization: .int8Weights)
        case 2: CompileOptions(pruning: .magnitude(sparsity: 0.5))
        case 3: CompileOptions(quantization: .int8Weights, pruning: .magnitude(sparsity: 0.9, scope: .global))
        default: CompileOptions()
        }
    }

    /// The safetensors reader, and every tensor it lists read back.
    public static let safetensors = FuzzTarget(name: "safetensors") { data in
        var input = FuzzedBytes(data)
        let bytes = WeightFileGenerators.safetensors(&input)
        do {
            let file = try SafeTensors(bytes: bytes, source: "fuzz.safetensors")
            return readAll(file.keys, prefix: "fuzz.safetensors", file.tensor)
        } catch {
            expectMessage(error, prefix: "fuzz.safetensors")
            return .unreadable
        }
    }

    /// The `.npy` reader.
    public static let numPy = FuzzTarget(name: "npy") { data in
        var input = FuzzedBytes(data)
        do {
            _ = try NumPyArray.decode(WeightFileGenerators.numPy(&input), source: "fuzz.npy").floats()
            return .accepted
        } catch {
            expectMessage(error, prefix: "fuzz.npy")
            return .unreadable
        }
    }

    /// The `.npz` reader (zip directory, inflate, CRC, `.npy` members).
    public static let numPyArchive = FuzzTarget(name: "npz") { data in
        var input = FuzzedBytes(data)
        do {
            let archive = try NumPyArchive(bytes: WeightFileGenerators.numPyArchive(&input), source: "fuzz.npz")
            return readAll(archive.keys, prefix: "fuzz.npz", archive.tensor)
        } catch {
            expectMessage(error, prefix: "fuzz.npz")
            return .unreadable
        }
    }

    private static func readAll(_ keys: [String], prefix: String, _ tensor: (String) throws -> TensorData) -> Outcome {
        var outcome = Outcome.accepted
        for key in keys {
            do {
                _ = try tensor(key).floats()
            } catch {
                expectMessage(error, prefix: prefix)
                outcome = .rejected
            }
        }
        return outcome
    }

    /// Stops the run when an error would reach a user without a message or without the file's name.
    private static func expectMessage(_ error: any Error, prefix: String) {
        let message = "\(error)"
        guard !message.isEmpty, message.hasPrefix(prefix) else {
            fatalError("an error without a message naming the file: '\(message)'")
        }
    }
}
