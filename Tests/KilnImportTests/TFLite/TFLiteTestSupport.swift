import Foundation
import Testing

@testable import KilnImport

/// The MLPerf Tiny reference models in `../shared/models` beside the repository's root.
///
/// They are not part of the repository (see that folder's README), so tests
/// that need them are enabled only where the folder exists.
enum ReferenceModels {
    /// `<repository root>/../shared/models`, found from this file's path.
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // TFLite
        .deletingLastPathComponent()  // KilnImportTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // repository root
        .appendingPathComponent("../shared/models").standardizedFileURL

    static let names = [
        "kws_ref_model_float32.tflite", "kws_ref_model.tflite", "ad01_fp32.tflite",
        "ad01_int8.tflite",
    ]

    /// Whether every reference model is there to read.
    static let available: Bool = names.allSatisfy {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path)
    }

    /// Why the model tests did not run, shown by the test runner.
    static let skipReason: Comment =
        "reference models not found in ../shared/models beside the repository root"

    static func url(_ name: String) -> URL {
        directory.appendingPathComponent(name)
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url(name)))
    }

    static func model(_ name: String) throws -> TFLiteModel {
        try TFLiteModel(contentsOf: url(name))
    }
}

/// Runs `body`, which must fail with a ``TFLiteError`` whose message contains every fragment.
func expectTFLiteFailure(
    containing fragments: String..., sourceLocation: Testing.SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
    } catch let error as TFLiteError {
        for fragment in fragments {
            #expect(
                error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation
            )
        }
    } catch {
        Issue.record("expected a TFLiteError, got \(error)", sourceLocation: sourceLocation)
    }
}

extension TFLiteModel {
    /// The operator names of subgraph 0, in execution order.
    var operatorNames: [String] {
        subgraphs[0].operators.map { operatorCodes[$0.opcodeIndex].builtinCode.name }
    }

    /// The tensor `index` of subgraph 0.
    func tensor(_ index: Int) -> TFLiteTensor {
        subgraphs[0].tensors[index]
    }
}
