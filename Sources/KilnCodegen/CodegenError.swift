/// A failure while generating, optimizing, emitting or linking machine code.
public struct CodegenError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong and, where possible, how to fix it.
    public var message: String

    /// Creates an error with `message`.
    public init(_ message: String) { self.message = message }

    /// The message, as printed to the user.
    public var description: String { message }
}
