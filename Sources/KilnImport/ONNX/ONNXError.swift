import Foundation

/// An ONNX model file that is missing, unreadable, malformed or unsupported.
///
/// The message always starts with the file's path as it was given, then,
/// for problems in the graph, the node's position, operator and name:
/// `net.onnx: node #4 Conv 'conv1': grouped convolution with 4 groups is not supported`.
public struct ONNXError: LocalizedError, Hashable, Sendable, CustomStringConvertible {
    /// The full, user-facing explanation, starting with the file's path.
    public var message: String

    /// Creates an error with a full, user-facing message.
    public init(message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }

    /// The message, for `localizedDescription`.
    public var errorDescription: String? { description }
}

/// Why one node or tensor cannot be converted; ``ONNXConversion`` adds the file and node.
struct ONNXProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
