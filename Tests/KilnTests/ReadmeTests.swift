import Foundation
import KilnImport
import Testing

/// The README's lists that come from Kiln's own tables stay true.
@Suite struct ReadmeTests {
    static let readme = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("README.md")

    /// The names between `<!-- marker -->` and `<!-- /marker -->`.
    static func list(_ marker: String) throws -> [String] {
        let text = try String(contentsOf: readme, encoding: .utf8)
        let start = try #require(text.range(of: "<!-- \(marker) -->\n"))
        let end = try #require(text.range(of: "<!-- /\(marker) -->", range: start.upperBound..<text.endIndex))
        return text[start.upperBound..<end.lowerBound].split { ", \n".contains($0) }.map(String.init)
    }

    @Test(arguments: [
        ("operators", TFLiteImporter.supportedOperators), ("shape-arithmetic", TFLiteImporter.shapeArithmeticOperators),
    ])
    func operatorListsMatchTheImporter(marker: String, operators: [TFLiteBuiltinOperator]) throws {
        let expected = operators.map(\.name).sorted()
        #expect(try Self.list(marker) == expected, "README.md's \(marker) list should read: \(expected.joined(separator: ", "))")
    }

    @Test func onnxOperatorListMatchesTheImporter() throws {
        let expected = ONNXImporter.supportedOperators
        #expect(try Self.list("onnx-operators") == expected, "README.md's onnx-operators list should read: \(expected.joined(separator: ", "))")
        let microsoft = ONNXImporter.supportedMicrosoftOperators
        #expect(
            try Self.list("onnx-microsoft-operators") == microsoft,
            "README.md's onnx-microsoft-operators list should read: \(microsoft.joined(separator: ", "))")
    }
}
