import KilnIR

/// Records layers into a graph as a model's body runs.
///
/// Layers call it; apps never need to. After the first error the tracer
/// stops adding nodes, so one mistake yields one diagnostic, not a cascade.
public final class Tracer {
    private var graph: Graph
    private var diagnostics: [Diagnostic] = []
    private var currentValue: ValueID?
    /// The outputs an ``Outputs`` block gave; then no layer may follow.
    private var outputs: [ValueID]?
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

    /// Reports a likely mistake at `location` that does not stop the build: printed as a warning.
    public func warn(_ message: String, at location: SourceLocation) {
        diagnostics.append(Diagnostic(.warning, message, at: location))
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

    /// Adds a model input and makes it the current value; a second input leaves no current
    /// value, since only a ``Network`` block can tell which input a layer reads.
    public func addInput(name: String, type: TensorType, at location: SourceLocation) {
        guard !failed else { return }
        if !graph.nodes.isEmpty || outputs != nil {
            fail(
                "Input(shape:) must come before every other layer; a model with several inputs declares them "
                    + "one after another at the start of its body", at: location)
            return
        }
        if graph.inputs.contains(where: { graph[$0].name == name }) {
            fail("two inputs are named '\(name)'; name each input with .named(_:)", at: location)
            return
        }
        guard type.shape.allSatisfy({ $0 > 0 }), type.shape.rank > 0 else {
            fail("input shape \(type.shape) must have positive dimensions", at: location)
            return
        }
        if let problem = type.problem {
            fail("Input: \(problem)", at: location)
            return
        }
        let input = graph.addInput(name: name, type: type)
        currentValue = graph.inputs.count == 1 ? input : nil
    }

    /// The model's inputs for a ``Network`` block, or `nil` with a diagnostic when the block does
    /// not directly follow them.
    func networkInputs(at location: SourceLocation) -> [ValueID]? {
        guard !failed else { return nil }
        guard !graph.inputs.isEmpty else {
            fail("Network reads the model's inputs: declare them with Input(shape:) before it", at: location)
            return nil
        }
        guard graph.nodes.isEmpty, outputs == nil else {
            fail("Network must follow the Input layers directly: it reads the model's inputs and makes its outputs", at: location)
            return nil
        }
        return graph.inputs
    }

    /// The value a block starts from, or `nil` with a diagnostic when there is none.
    func startValue(for block: String, at location: SourceLocation) -> ValueID? {
        guard !failed else { return nil }
        guard let currentValue else {
            fail(missingInputMessage(for: block), at: location)
            return nil
        }
        return currentValue
    }

    /// Why `layer` has no value to read: no input yet, or several that only a ``Network`` can tell apart.
    private func missingInputMessage(for layer: String) -> String {
        guard graph.inputs.count > 1 else { return "\(layer) has no input: start the body with Input(shape:)" }
        return "\(layer) cannot tell which of the model's \(graph.inputs.count) inputs it reads: "
            + "read them in a Network { inputs in … } block after the Input layers"
    }

    /// The current value's type, or a diagnostic if there is none yet.
    public func requireInput(for layer: String, at location: SourceLocation) -> TensorType? {
        guard !failed else { return nil }
        guard let type = currentType else {
            fail(missingInputMessage(for: "layer '\(layer)'"), at: location)
            return nil
        }
        return type
    }

    /// Whether the value the next layer reads is int8.
    public var isQuantized: Bool { currentType?.dtype == .int8 }

    /// The value the next layer reads; branching layers save and restore it.
    var current: ValueID? {
        get { failed ? nil : currentValue }
        set { currentValue = newValue }
    }

    /// Adds a parameter (`LAYER.SUFFIX`) whose contents come from the model's weight source.
    ///
    /// `dtype` int8 declares a quantized filter whose scales load from
    /// `LAYER.SUFFIX_scale` (per channel along `scaleAxis`) unless `quantization`
    /// states them; int32 declares a quantized bias or indices. All need weights from a file.
    public func addParameter(
        layer: String, suffix: String, shape: Shape, scheme: WeightInitializer.Scheme, fanIn: Int, fanOut: Int,
        dtype: DType = .float32, scaleAxis: Int? = nil, quantization: QuantizationParameters? = nil,
        at location: SourceLocation? = nil
    ) -> ValueID {
        let key = "\(layer).\(suffix)"
        if dtype != .float32, !weights.isFile, let location {
            fail("layer '\(layer)' runs on int8 data and needs its weights from a file, not seeded initialization", at: location)
        }
        return graph.addConstant(
            name: key, type: TensorType(dtype, shape, quantization: quantization),
            source: weights.source(forKey: key, scheme: scheme, fanIn: fanIn, fanOut: fanOut, quantizedAxis: scaleAxis))
    }

    /// Adds a constant named `name` holding `data` (a layer's fixed operand, such as a slope or indices).
    public func addConstant(name: String, data: TensorData, quantization: QuantizationParameters? = nil) -> ValueID {
        graph.addConstant(name: name, data: data, quantization: quantization)
    }

    /// Makes `ids` the model's outputs; a layer after them is an error.
    func setOutputs(_ ids: [ValueID], at location: SourceLocation) {
        outputs = ids
        outputsLocation = location
    }

    /// Where ``setOutputs(_:at:)`` was called, to report layers after it.
    private var outputsLocation: SourceLocation?

    /// Applies `op` to the current value and `operands`, making the result current.
    ///
    /// On int8 data the result takes `quantization`, or, for ops that keep
    /// their input's range, the input's parameters.
    public func apply(
        _ op: Op, operands: [ValueID] = [], name: String, at location: SourceLocation,
        quantization: QuantizationParameters? = nil
    ) {
        guard let input = current else { return }
        current = node(op, inputs: [input] + operands, name: name, at: location, quantization: quantization)
    }

    /// Replaces the current value with what `build` adds to the graph on it (a
    /// composition of several ops); an error becomes a diagnostic at `location`.
    func applyComposition(
        at location: SourceLocation, _ build: (inout Graph, ValueID) throws -> ValueID
    ) {
        guard let input = current else { return }
        do {
            current = try build(&graph, input)
        } catch let error as DiagnosticError {
            diagnostics.append(contentsOf: error.diagnostics)
            failed = true
        } catch {
            fail("\(error)", at: location)
        }
    }

    /// Adds a node on explicit inputs and returns its result, or `nil` after an error.
    func node(
        _ op: Op, inputs: [ValueID], name: String, at location: SourceLocation, quantization: QuantizationParameters?
    ) -> ValueID? {
        guard !failed else { return nil }
        if outputs != nil, let outputsLocation {
            fail("layer '\(name)' comes after Outputs, which must end the model's body (declared at line \(outputsLocation.line))", at: location)
            return nil
        }
        var resultQuantization = quantization
        if let first = inputs.first, graph.type(of: first).dtype == .int8, resultQuantization == nil {
            switch op {
            case _ where op.keepsInputQuantization:
                resultQuantization = graph.type(of: first).quantization
            case .softmax, .activation(.sigmoid):
                // TensorFlow Lite's fixed output range for probabilities.
                resultQuantization = .perTensor(scale: 1.0 / 256, zeroPoint: -128)
            case .dequantize, .argExtremum, .cast:
                break
            default:
                fail(
                    "layer '\(name)' reads int8 data; give its output parameters with .quantized(scale:zeroPoint:)",
                    at: location)
                return nil
            }
        }
        do {
            return try graph.addNode(op, inputs: inputs, name: name, location: location, quantization: resultQuantization)
        } catch {
            diagnostics.append(contentsOf: error.diagnostics)
            failed = true
            return nil
        }
    }

    /// The type of value `id`.
    func type(of id: ValueID) -> TensorType { graph.type(of: id) }

    func finish(options: CompileOptions) -> TraceResult {
        if !failed {
            if let outputs {
                graph.outputs = outputs
            } else if let currentValue {
                graph.outputs = [currentValue]
            } else if graph.inputs.count > 1 {
                diagnostics.append(
                    .error("the model has \(graph.inputs.count) inputs and no outputs: end its body with a Network { inputs in … } block"))
            } else {
                diagnostics.append(.error("the model's body is empty: start it with Input(shape:)"))
            }
        }
        let optionProblems = options.diagnostics
        diagnostics.append(contentsOf: optionProblems)
        let ok = !diagnostics.contains { $0.severity == .error }
        // Bad option values are reported above; they are not carried on, since JSON cannot hold a NaN.
        return TraceResult(
            modelName: graph.name, graph: ok ? graph : nil, options: optionProblems.isEmpty ? options : CompileOptions(),
            diagnostics: diagnostics)
    }
}
