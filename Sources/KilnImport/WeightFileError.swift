import Foundation

/// A weight file that is missing, unreadable, malformed or unsupported.
///
/// The message always starts with the file's path as it was given, so it
/// can be shown to the user as is:
/// `weights.safetensors: header length 9999 exceeds the file size 120; …`.
public struct WeightFileError: LocalizedError, Hashable, Sendable, CustomStringConvertible {
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

extension WeightFileError {
    /// An error about `source`: the message is `source: problem`.
    init(_ source: String, _ problem: String) {
        self.init(message: "\(source): \(problem)")
    }

    /// The file ended before a structure that should be there.
    static func truncated(_ source: String, reading what: String, at offset: Int) -> WeightFileError
    {
        WeightFileError(
            source,
            "the file ends inside the \(what) at byte \(offset); the file is truncated or corrupt")
    }

    /// A key that is not in the file; lists a few keys that are, so typos are easy to spot.
    static func missingKey(_ key: String, in source: String, available: [String]) -> WeightFileError
    {
        if available.isEmpty {
            return WeightFileError(source, "no tensor named '\(key)'; the file holds no tensors")
        }
        let shown = available.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
        let more = available.count > 5 ? ", … (\(available.count) in all)" : ""
        return WeightFileError(source, "no tensor named '\(key)'; available keys: \(shown)\(more)")
    }
}
