extension Graph {
    /// Checks what a model file states before anything computes with it:
    /// every value's type (shape limits, quantization parameters) and the
    /// graph's outputs (at least one, each listed once).
    ///
    /// The compiler runs it on every imported or traced graph before weights
    /// are loaded (which are sized by these types), and it is the first part
    /// of ``verificationDiagnostics()``, so a bad value becomes a located
    /// diagnostic instead of a trap in later arithmetic.
    public func validationDiagnostics() -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        var locations: [ValueID: SourceLocation] = [:]
        for node in nodes {
            for output in node.outputs { locations[output] = node.location }
        }
        for (index, value) in values.enumerated() {
            if let problem = value.type.problem {
                diagnostics.append(.error("'\(value.name)': \(problem)", at: locations[ValueID(index)]))
            }
        }
        if outputs.isEmpty { diagnostics.append(.error("the model has no outputs")) }
        var seen = Set<ValueID>()
        for output in outputs where !seen.insert(output).inserted {
            let name = values.indices.contains(output.index) ? "'\(values[output.index].name)'" : "\(output)"
            diagnostics.append(.error("graph output \(name) is listed more than once; each output must be a distinct value"))
        }
        return diagnostics
    }

    /// Throws every diagnostic ``validationDiagnostics()`` finds.
    public func validate() throws(DiagnosticError) {
        let diagnostics = validationDiagnostics()
        if !diagnostics.isEmpty { throw DiagnosticError(diagnostics) }
    }
}
