import Foundation

/// An error from loading or running a compiled model, worded so the user can act on it.
public struct RuntimeError: LocalizedError, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, naming the artifact or tensor involved and, where possible, the fix.
    public var message: String

    /// Creates an error with the given message.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }

    /// The message, for `localizedDescription`.
    public var errorDescription: String? { description }
}
