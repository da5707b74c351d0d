import Foundation

/// Why the compiler could not produce an artifact, in words a user can act on.
public struct CompilerError: LocalizedError, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong and what to do about it.
    public var message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }

    /// The message, for `localizedDescription`.
    public var errorDescription: String? { description }
}
