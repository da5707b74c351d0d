import Foundation
import KilnIR

/// The tensors a traced model reads from weight files, as `kiln inspect` lists them before
/// loading any: what a weight file must hold, key by key, even before it exists.
public struct ExpectedWeights: Sendable {
    /// One tensor to be read.
    public struct Entry: Sendable {
        /// The weight file, as the model names it.
        public var file: String
        /// The tensor's key in the file (`dense_0.weight`).
        public var key: String
        /// The shape it must have.
        public var shape: Shape
    }

    /// The tensors, by file then key.
    public var entries: [Entry]

    /// The file-backed constants of `graph` (a traced graph, before its weights are resolved).
    public init(_ graph: Graph) {
        entries = graph.constants.compactMap { id, source in
            guard case .file(let reference) = source else { return nil }
            return Entry(file: reference.path, key: reference.key, shape: graph.type(of: id).shape)
        }.sorted { ($0.file, $0.key) < ($1.file, $1.key) }
    }

    /// One row per tensor: file name, key and shape.
    public var table: String {
        let rows = entries.map { [URL(fileURLWithPath: $0.file).lastPathComponent, $0.key, $0.shape.description] }
        return TextTable.lines(header: ["weight file", "key", "shape"], rows: rows).joined(separator: "\n")
    }
}
