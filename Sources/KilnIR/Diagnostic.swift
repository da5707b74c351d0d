import Foundation

/// A problem found in a model or graph, with where it was written.
public struct Diagnostic: Hashable, Sendable, Codable, CustomStringConvertible {
    /// How serious a diagnostic is.
    public enum Severity: String, Hashable, Sendable, Codable {
        case error, warning, note
    }

    /// How serious it is.
    public var severity: Severity
    /// What is wrong and, where possible, how to fix it.
    public var message: String
    /// Where the offending layer or value was written, when known.
    public var location: SourceLocation?

    /// Creates a diagnostic.
    public init(_ severity: Severity, _ message: String, at location: SourceLocation? = nil) {
        self.severity = severity
        self.message = message
        self.location = location
    }

    /// Creates an error diagnostic.
    public static func error(_ message: String, at location: SourceLocation? = nil) -> Diagnostic {
        Diagnostic(.error, message, at: location)
    }

    /// Written as `file:line: error: message`, the form compilers print and editors parse.
    public var description: String {
        if let location { return "\(location): \(severity.rawValue): \(message)" }
        return "\(severity.rawValue): \(message)"
    }
}

/// One or more diagnostics thrown together, e.g. every shape error in a model.
public struct DiagnosticError: LocalizedError, Hashable, Sendable, CustomStringConvertible {
    /// The diagnostics, in the order they were found.
    public var diagnostics: [Diagnostic]

    /// Creates an error holding `diagnostics`.
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    /// Creates an error holding one error diagnostic.
    public init(_ message: String, at location: SourceLocation? = nil) {
        self.diagnostics = [.error(message, at: location)]
    }

    /// One diagnostic per line.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }

    /// The message, for `localizedDescription`.
    public var errorDescription: String? { description }
}
