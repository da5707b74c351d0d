/// Where in a model's source something was written.
public struct SourceLocation: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The source file's path.
    public var file: String
    /// The 1-based line.
    public var line: Int
    /// The 1-based column, when known.
    public var column: Int?

    /// Creates a source location.
    public init(file: String, line: Int, column: Int? = nil) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// Written as `file:line` or `file:line:column`, the form editors jump to.
    public var description: String {
        if let column { return "\(file):\(line):\(column)" }
        return "\(file):\(line)"
    }
}
