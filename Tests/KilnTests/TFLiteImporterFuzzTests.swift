import Foundation
import Kiln
import KilnCompiler
import KilnFuzzing
import KilnIR
import KilnImport
import Testing

/// Damaged copies of a real model through the whole front end (read, import,
/// passes) throw or succeed, never trap or hang; and an operator Kiln cannot
/// import is named, with its position, in the error.
@Suite struct TFLiteImporterFuzzTests {
    enum Outcome { case unreadable, notImported, rejectedByPasses, accepted }

    /// Reads, imports and optimizes `bytes`; every failure must be a thrown error with a message.
    static func frontEnd(_ bytes: [UInt8], _ label: String) -> Outcome {
        let model: TFLiteModel
        do {
            model = try TFLiteModel(bytes: bytes, source: "damaged.tflite")
        } catch {
            #expect("\(error)".hasPrefix("damaged.tflite: "), "\(label): read error \(error) does not name the file")
            return .unreadable
        }
        let graph: Graph
        do {
            graph = try TFLiteImporter.importGraph(model, name: "damaged", source: "damaged.tflite")
        } catch {
            #expect(!"\(error)".isEmpty, "\(label): import error without a message")
            return .notImported
        }
        do {
            _ = try Compiler().optimize(graph, options: CompileOptions())
        } catch {
            #expect(!"\(error)".isEmpty, "\(label): pass error without a message")
            return .rejectedByPasses
        }
        return .accepted
    }

    static let modelURL = MLPerfTinyModels.url("kws_ref_model", "tflite")

    // Enabled only where ../shared/models exists: the model is not in the repository.
    @Test(.enabled(if: MLPerfTinyModels.available, MLPerfTinyModels.skipReason))
    func truncatedCopiesThrow() throws {
        let original = [UInt8](try Data(contentsOf: Self.modelURL))
        #expect(Self.frontEnd(original, "intact") == .accepted)
        // Every length up to 96 (header, root table, vtables), then 160 lengths across the file.
        let lengths = Set(Array(0..<96) + (1..<160).map { original.count * $0 / 160 } + [original.count - 1])
        let start = ContinuousClock.now
        for length in lengths.sorted() {
            let outcome = Self.frontEnd(Array(original.prefix(length)), "cut to \(length) bytes")
            // The weights lie near the end; a file cut anywhere before its last byte loses something the tables point at.
            #expect(outcome == .unreadable, "kws_ref_model cut to \(length) of \(original.count) bytes: \(outcome)")
        }
        #expect(ContinuousClock.now - start < crawlLimit(10), "reading truncated files must not crawl")
    }

    // Enabled only where ../shared/models exists: the model is not in the repository.
    @Test(.enabled(if: MLPerfTinyModels.available, MLPerfTinyModels.skipReason))
    func damagedCopiesThrowOrCompile() throws {
        let original = [UInt8](try Data(contentsOf: Self.modelURL))
        // Most of the file is weights, where any byte is valid, so most flips go
        // to the first and last 2 kB, where the tables, vtables and shapes lie.
        let edge = min(2048, original.count / 2)
        var generator = SplitMix64(state: 0x4B49_4C4E)
        var outcomes: [String: Int] = [:]
        let start = ContinuousClock.now
        for trial in 0..<400 {
            let random = generator.next()
            var bytes = original
            let positions: [Int]
            switch trial % 5 {
            case 0, 1: positions = [Int(random % UInt64(edge))]
            case 2: positions = [original.count - 1 - Int(random % UInt64(edge))]
            case 3: positions = [Int(random % UInt64(original.count))]
            default:
                // Several bytes at once reach states one flip cannot.
                positions = (0..<4).map { _ in Int(generator.next() % UInt64(edge)) }
            }
            for position in positions {
                // Alternate single-bit flips with whole-byte replacements, which make large offsets and counts.
                bytes[position] ^=
                    trial % 2 == 0 ? UInt8(1) << (random >> 32 & 7) : UInt8(truncatingIfNeeded: random >> 40) | 0x80
            }
            let outcome = Self.frontEnd(bytes, "trial \(trial), bytes \(positions)")
            outcomes["\(outcome)", default: 0] += 1
        }
        // The damage must reach every stage, or the test proves less than it claims.
        #expect((outcomes["unreadable"] ?? 0) >= 20, "\(outcomes)")
        #expect((outcomes["accepted"] ?? 0) >= 20, "\(outcomes)")
        #expect(ContinuousClock.now - start < crawlLimit(20), "damaged files must not crawl: \(outcomes)")
    }

    /// A float model `input → RELU → operator → output` built in memory.
    static func model(with code: TFLiteBuiltinOperator, options: TFLiteBuiltinOptions = .none, inputs: Int = 1)
        -> TFLiteModel
    {
        let tensors = (0..<3).map { TFLiteTensor(name: "t\($0)", shape: [1, 8], type: .float32, buffer: 0) }
        return TFLiteModel(
            operatorCodes: [TFLiteOperatorCode(builtinCode: .relu), TFLiteOperatorCode(builtinCode: code)],
            subgraphs: [
                TFLiteSubgraph(
                    name: "main", tensors: tensors, inputs: [0], outputs: [2],
                    operators: [
                        TFLiteOperator(opcodeIndex: 0, inputs: [0], outputs: [1], options: .none),
                        TFLiteOperator(
                            opcodeIndex: 1, inputs: Array(repeating: 1, count: inputs), outputs: [2], options: options),
                    ])
            ],
            buffers: [[]])
    }

    @Test func supportedOperatorsInAModelImport() throws {
        let graph = try TFLiteImporter.importGraph(Self.model(with: .relu6), name: "ok", source: "ok.tflite")
        #expect(graph.nodes.map(\.op.kindName) == ["relu", "relu6"])
    }

    /// GELU imports in its exact form; the tanh approximation would not match, so it is an error.
    @Test func geluImportsOnlyInItsExactForm() throws {
        let exact = try TFLiteImporter.importGraph(
            Self.model(with: .gelu, options: .gelu(approximate: false)), name: "gelu", source: "gelu.tflite")
        #expect(exact.nodes.map(\.op.kindName) == ["relu", "gelu"])
        let error = #expect(throws: TFLiteError.self) {
            try TFLiteImporter.importGraph(
                Self.model(with: .gelu, options: .gelu(approximate: true)), name: "gelu", source: "gelu.tflite")
        }
        #expect(error?.message.contains("operator #1 GELU: the tanh approximation") == true, "\(error?.message ?? "")")
    }

    @Test(arguments: [TFLiteBuiltinOperator.transposeConv, .resizeBilinear, .cumsum, .custom])
    func unsupportedOperatorIsNamedWithItsPosition(_ code: TFLiteBuiltinOperator) throws {
        let error = #expect(throws: TFLiteError.self) {
            try TFLiteImporter.importGraph(Self.model(with: code, inputs: 2), name: "bad", source: "bad.tflite")
        }
        let message = error?.message ?? ""
        #expect(message.hasPrefix("bad.tflite: "), "\(message)")
        #expect(message.contains(code.name), "the error names the operator: \(message)")
        #expect(message.contains("#1"), "the error gives the operator's position: \(message)")
    }

    /// Operands an operator needs but lacks are errors, not traps.
    @Test(arguments: [TFLiteBuiltinOperator.pad, .padV2, .mean, .fullyConnected, .conv2D, .add])
    func operatorWithTooFewOperandsThrows(_ code: TFLiteBuiltinOperator) throws {
        let options: TFLiteBuiltinOptions =
            switch code {
            case .mean: .reducer(keepDims: false)
            case .add: .add(activation: .none)
            case .conv2D:
                .conv2D(
                    TFLiteConv2DOptions(
                        padding: .same, strideWidth: 1, strideHeight: 1, dilationWidthFactor: 1, dilationHeightFactor: 1,
                        activation: .none))
            default: .none
            }
        let error = #expect(throws: TFLiteError.self) {
            try TFLiteImporter.importGraph(Self.model(with: code, options: options), name: "short", source: "short.tflite")
        }
        #expect(error?.message.contains(code.name) ?? false, "\(error?.message ?? "")")
    }

    /// An operator whose output is the "absent" index -1 is an error, not a trap.
    @Test func operatorWithAbsentOutputThrows() throws {
        var model = Self.model(with: .relu6)
        model.subgraphs[0].operators[1].outputs = [-1]
        #expect(throws: TFLiteError.self) {
            try TFLiteImporter.importGraph(model, name: "absent", source: "absent.tflite")
        }
    }
}
