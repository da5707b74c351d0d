import KilnIR

/// Adds a block's input to its output: `y = x + block(x)`.
///
/// ```swift
/// Residual {
///     Conv2D(16, kernel: 3, padding: .same, activation: .relu)
///     Conv2D(16, kernel: 3, padding: .same)
/// }
/// ```
public struct Residual: NamedLayer {
    /// The block whose output is added to its input.
    public var block: Sequential
    /// The activation applied after the sum.
    public var activation: Activation?
    /// The add's name; `residual_N` by default.
    public var name: String?
    /// The sum's int8 quantization parameters, if the block runs on int8 data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a residual connection around `block`.
    public init(
        activation: Activation? = nil, file: String = #filePath, line: Int = #line, column: Int = #column,
        @LayerBuilder _ block: () -> Sequential
    ) {
        self.block = block()
        self.activation = activation
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Traces the block, then the add.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "residual", at: location)
        guard let start = tracer.startValue(for: "Residual '\(name)'", at: location) else { return }
        block.trace(into: tracer)
        guard let end = tracer.current else { return }
        tracer.current = tracer.node(
            .add(activation: activation), inputs: [start, end], name: name, at: location, quantization: quantization)
    }
}

/// How ``Branches`` combines its branches' outputs.
public enum Merge: Hashable, Sendable {
    /// Element-wise sum, then an optional activation.
    case add(activation: Activation? = nil)
    /// Element-wise product, then an optional activation.
    case multiply(activation: Activation? = nil)
    /// The first result minus each of the others, then an optional activation.
    case subtract(activation: Activation? = nil)
    /// `function` of the first result and the next, of that and the one after, and so on; then an optional activation.
    case binary(BinaryFunction, activation: Activation? = nil)
    /// Joined along `axis` (the channel axis by default).
    case concatenate(axis: Int = -1)
}

/// Runs each layer of its block on the same input and merges the results.
///
/// ```swift
/// Branches(merge: .concatenate()) {
///     Conv2D(8, kernel: 1)
///     Sequential {
///         Conv2D(8, kernel: 1, activation: .relu)
///         Conv2D(8, kernel: 3, padding: .same)
///     }
/// }
/// ```
public struct Branches: NamedLayer {
    /// One layer (often a ``Sequential``) per branch.
    public var branches: [any Layer]
    /// How outputs are combined.
    public var merge: Merge
    /// The merge's name; `branches_N` by default.
    public var name: String?
    /// The merge's int8 quantization parameters, if the branches run on int8 data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates parallel branches; every top-level layer of `content` is one branch.
    public init(
        merge: Merge, file: String = #filePath, line: Int = #line, column: Int = #column,
        @LayerBuilder _ content: () -> Sequential
    ) {
        branches = content().layers
        self.merge = merge
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Traces each branch from the same input, then the merge.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "branches", at: location)
        guard let start = tracer.startValue(for: "Branches '\(name)'", at: location) else { return }
        guard !branches.isEmpty else { return tracer.fail("Branches '\(name)' has no branches", at: location) }
        var outputs: [ValueID] = []
        for branch in branches {
            tracer.current = start
            branch.trace(into: tracer)
            guard let output = tracer.current else { return }
            outputs.append(output)
        }
        tracer.current = tracer.merge(outputs, merge, name: name, at: location, quantization: quantization)
    }
}

extension Tracer {
    /// Combines `values` as `merge` says: one n-ary concatenation, or a chain of binary ops.
    func merge(
        _ values: [ValueID], _ merge: Merge, name: String, at location: SourceLocation,
        quantization: QuantizationParameters?
    ) -> ValueID? {
        switch merge {
        case .concatenate(let axis):
            return node(
                .concatenation(axis: axis, activation: nil), inputs: values, name: name, at: location,
                quantization: quantization)
        case .add(let activation), .multiply(let activation), .subtract(let activation), .binary(_, let activation):
            guard var result = values.first else { return nil }
            for (index, value) in values.dropFirst().enumerated() {
                let isLast = index == values.count - 2
                var op: Op = .add(activation: isLast ? activation : nil)
                if case .multiply = merge { op = .multiply(activation: isLast ? activation : nil) }
                if case .subtract = merge { op = .subtract(activation: isLast ? activation : nil) }
                if case .binary(let function, _) = merge { op = .binary(function, activation: isLast ? activation : nil) }
                guard let next = node(op, inputs: [result, value], name: isLast ? name : "\(name).\(index)", at: location, quantization: quantization)
                else { return nil }
                result = next
            }
            return result
        }
    }
}
