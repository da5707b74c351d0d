import Foundation

/// A TensorFlow Lite model file that is missing, unreadable, malformed or unsupported.
///
/// The message always starts with the file's path as it was given, so it
/// can be shown to the user as is:
/// `model.tflite: subgraph 0, tensor 3: shape: vector … runs past the end of the file`.
public struct TFLiteError: LocalizedError, Hashable, Sendable, CustomStringConvertible {
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

extension TFLiteError {
    /// An error about `source`: the message is `source: problem`.
    init(_ source: String, _ problem: String) {
        self.init(message: "\(source): \(problem)")
    }
}
