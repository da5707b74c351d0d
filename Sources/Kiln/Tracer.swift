import KilnIR

/// Records layers into a graph as a model's body runs.
///
/// Layers call it; apps never need to. After the first error the tracer
/// stops adding nodes, so one mistake yields one diagnostic, not a cascade.
public final class Tracer {
    private var graph: Graph
    private var diagnostics: [Diagnostic] = []
    private var current: ValueID?
    private var failed = false
    private var nameCounts: [String: Int] = [:]
    private var usedNames: Set<String> = []
    private let weights: WeightSource

    init(modelName: String, weights: WeightSource) {
        self.graph = Graph(name: modelName)
        self.weights = weights
    }

    /// The type of the value the next layer reads, or `nil` after an error.
    public var currentType: TensorType? { current.map { graph.type(of: $0) } }

    /// Reports a problem at `location` and stops tracing further layers.
    public func fail(_ message: String, at location: SourceLocation) {
        diagnostics.append(.error(message, at: location))
        failed = true
    }

    /// A unique layer name: `name` if given, else `kind_N`.
    public func layerName(_ name: String?, kind: String, at location: SourceLocation) -> String {
        if let name {
            if !usedNames.insert(name).inserted {
                diagnostics.append(.error("two layers are named '\(name)'; layer names must be unique", at: location))
            }
            return name
        }
        var candidate: String
        repeat {
            let count = nameCounts[kind, default: 0]
            nameCounts[kind] = count + 1
            candidate = "\(kind)_\(count)"
        } while usedNames.contains(candidate)
        usedNames.insert(candidate)
        return candidate
    }

    /// Adds a model input and makes it the current value.
    public func addInput(name: String, type: TensorType, at location: SourceLocation) {
        guard !failed else { return }
        if current != nil || !graph.inputs.isEmpty {
            fail("Input(shape:) must come first and only once in a sequential body", at: location)
            return
        }
        guard type.shape.allSatisfy({ $0 > 0 }), type.shape.rank > 0 else {
            fail("input shape \(type.shape) must have positive dimensions", at: location)
            return
        }
        current = graph.addInput(name: name, type: type)
    }

    /// The current value's type, or a diagnostic if there is none yet.
    public func requireInput(for layer: String, at location: SourceLocation) -> TensorType? {
        guard !failed else { return nil }
        guard let type = currentType else {
            fail("layer '\(layer)' has no input: start the body with Input(shape:)", at: location)
            return nil
        }
        return type
    }

    /// Adds a parameter (`LAYER.SUFFIX`) whose contents come from the model's weight source.
    public func addParameter(
        layer: String, suffix: String, shape: Shape, scheme: WeightInitializer.Scheme, fanIn: Int, fanOut: Int
    ) -> ValueID {
        let key = "\(layer).\(suffix)"
        return graph.addConstant(
            name: key, type: TensorType(.float32, shape),
            source: weights.source(forKey: key, scheme: scheme, fanIn: fanIn, fanOut: fanOut))
    }

    /// Applies `op` to the current value and `operands`, making the result current.
    public func apply(_ op: Op, operands: [ValueID] = [], name: String, at location: SourceLocation) {
        guard !failed, let input = current else { return }
        do {
            current = try graph.addNode(op, inputs: [input] + operands, name: name, location: location)
        } catch {
            diagnostics.append(contentsOf: error.diagnostics)
            failed = true
        }
    }

    func finish(options: CompileOptions) -> TraceResult {
        if !failed {
            if let current {
                graph.outputs = [current]
            } else {
                diagnostics.append(.error("the model's body is empty: start it with Input(shape:)"))
            }
        }
        let ok = diagnostics.isEmpty
        return TraceResult(
            modelName: graph.name, graph: ok ? graph : nil, options: options, diagnostics: diagnostics)
    }
}
