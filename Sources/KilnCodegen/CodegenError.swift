import Foundation

/// A failure while generating, optimizing, emitting or linking machine code.
public struct CodegenError: LocalizedError, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong and, where possible, how to fix it.
    public var message: String

    /// Creates an error with `message`.
    public init(_ message: String) { self.message = message }

    /// The message, as printed to the user.
    public var description: String { message }

    /// The message, for `localizedDescription`.
    public var errorDescription: String? { description }
}
