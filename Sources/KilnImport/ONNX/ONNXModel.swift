import Foundation
import KilnRuntime

/// An ONNX model file, decoded: its main graph, the default-domain opset it
/// was written for, and where its external weight files live.
///
/// ```swift
/// let model = try ONNXModel(contentsOf: url)
/// ```
public struct ONNXModel: Sendable {
    /// The opsets of the default (`ai.onnx`) domain whose operators Kiln imports.
    public static let supportedOpsets = 13...28

    /// The file's path as given, starting every error message.
    public let source: String
    /// The default domain's opset version.
    public let opset: Int
    /// The folder external tensor data is read from, or `nil` when there is none (bytes given directly).
    let directory: URL?
    /// The main graph.
    let graph: ONNXProto.Graph

    /// Reads the model at `url`; external weights are read relative to its folder.
    public init(contentsOf url: URL) throws {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readBytes(of: url)
        } catch let error as WeightFileError {
            throw ONNXError(message: error.message)
        }
        try self.init(bytes: bytes, source: InputFile.displayPath(of: url), directory: url.deletingLastPathComponent())
    }

    /// Decodes a model's bytes; `directory` is where external data files are, if any.
    public init(bytes: [UInt8], source: String, directory: URL? = nil) throws {
        self.source = source
        self.directory = directory
        let proto: ONNXProto.Model
        do {
            proto = try ONNXProto.Model(serializedBytes: bytes)
        } catch {
            throw ONNXError(message: "\(source): not an ONNX model: the protobuf does not decode (\(error))")
        }
        guard let graph = proto.graph, proto.irVersion > 0 else {
            throw ONNXError(message: "\(source): not an ONNX model: it has no graph or IR version")
        }
        let defaultDomain = proto.opsetImport.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }
        guard let version = defaultDomain.map(\.version).max() else {
            throw ONNXError(message: "\(source): the model imports no opset of the default ONNX domain")
        }
        guard Self.supportedOpsets.contains(Int(version)) else {
            throw ONNXError(
                message: "\(source): opset \(version) is not supported; Kiln imports opsets "
                    + "\(Self.supportedOpsets.lowerBound) to \(Self.supportedOpsets.upperBound) (re-export with one of them)")
        }
        opset = Int(version)
        self.graph = graph
    }

    /// The name of the main graph, or `nil` when it has none.
    public var graphName: String? { graph.name.isEmpty ? nil : graph.name }
}
