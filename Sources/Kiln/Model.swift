import KilnIR

/// A model written in Swift: a stack of layers, where its weights come from,
/// and how to compile it.
///
/// ```swift
/// struct DigitClassifier: Model {
///     var body: some Layer {
///         Input(shape: [1, 8, 8, 1])
///         Conv2D(16, kernel: 3, padding: .same, activation: .relu)
///         MaxPool2D(2)
///         Flatten()
///         Dense(10)
///         Softmax()
///     }
///     var weights: WeightSource { .safetensors("digits.safetensors") }
/// }
/// ```
///
/// Model files are compiled on their own at build time, so a model file may
/// import only `Kiln` and `Foundation`.
public protocol Model {
    /// The layers' type, inferred from ``body``.
    associatedtype Body: Layer

    /// The layers, in order, starting with an ``Input``.
    @LayerBuilder var body: Body { get }

    /// Where the parameters come from; seeded initialization by default.
    var weights: WeightSource { get }

    /// How to compile the model; the host CPU and float32 by default.
    var options: CompileOptions { get }

    /// Creates the model; tracing calls this.
    init()
}

extension Model {
    /// Seeded He/Glorot initialization with seed 0.
    public var weights: WeightSource { .seeded() }

    /// Host CPU, float32, no pruning.
    public var options: CompileOptions { CompileOptions() }

    /// The model's name in graphs and artifacts: its type name.
    public static var modelName: String { String(describing: Self.self) }

    /// Traces the model into a graph and collects every problem found on the way.
    public static func trace() -> TraceResult {
        let model = Self()
        let tracer = Tracer(modelName: modelName, weights: model.weights)
        model.body.trace(into: tracer)
        return tracer.finish(options: model.options)
    }

    /// Traces the model into a graph.
    ///
    /// - Throws: ``DiagnosticError`` listing every problem, each at the file
    ///   and line of the layer that caused it.
    public static func graph() throws(DiagnosticError) -> Graph {
        let result = trace()
        guard let graph = result.graph, result.diagnostics.isEmpty else {
            throw DiagnosticError(result.diagnostics)
        }
        return graph
    }
}
