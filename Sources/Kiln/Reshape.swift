import KilnIR

/// Flattens every axis after the batch axis: `[N, H, W, C]` becomes `[N, H·W·C]`.
public struct Flatten: NamedLayer {
    /// The layer's name; `flatten_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters, if the layer runs on int8 data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a flatten layer.
    public init(file: String = #filePath, line: Int = #line, column: Int = #column) {
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds a reshape to `[batch, rest]`.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "flatten", at: location)
        guard let input = tracer.requireInput(for: name, at: location) else { return }
        let batch = input.shape.first ?? 1
        tracer.apply(.reshape([batch, input.elementCount / max(batch, 1)]), name: name, at: location, quantization: quantization)
    }
}

/// Gives the data a new shape with the same number of elements.
///
/// The shape includes the batch axis; one dimension may be `-1` to be inferred.
///
/// ```swift
/// Reshape([1, 49, 10, 1])
/// ```
public struct Reshape: NamedLayer {
    /// The new shape, batch first; at most one `-1`.
    public var shape: [Int]
    /// The layer's name; `reshape_N` by default.
    public var name: String?
    /// The output's int8 quantization parameters, if the layer runs on int8 data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Creates a reshape to `shape`.
    public init(_ shape: [Int], file: String = #filePath, line: Int = #line, column: Int = #column) {
        self.shape = shape
        location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the reshape, inferring a `-1` dimension.
    public func trace(into tracer: Tracer) {
        let name = tracer.layerName(name, kind: "reshape", at: location)
        guard let input = tracer.requireInput(for: name, at: location) else { return }
        var target = shape
        let inferred = target.indices.filter { target[$0] == -1 }
        if inferred.count > 1 { return tracer.fail("Reshape \(shape) may contain at most one -1", at: location) }
        if let axis = inferred.first {
            guard let known = Shape(target.filter { $0 != -1 }).checkedElementCount, known > 0,
                input.elementCount % known == 0
            else {
                return tracer.fail("cannot reshape \(input.shape) to \(shape)", at: location)
            }
            target[axis] = input.elementCount / known
        }
        tracer.apply(.reshape(Shape(target)), name: name, at: location, quantization: quantization)
    }
}
