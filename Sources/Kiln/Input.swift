import KilnIR

/// The model's input: its shape (batch first); float32, or int8 when `.quantized(scale:zeroPoint:)`.
///
/// ```swift
/// Input(shape: [1, 28, 28, 1])
/// ```
public struct Input: NamedLayer {
    /// The input's shape, batch first.
    public var shape: [Int]
    /// The input's name in the generated API; `input` by default.
    public var name: String?
    /// The output's int8 quantization parameters, if the layer runs on int8 data.
    public var quantization: QuantizationParameters?
    let location: SourceLocation

    /// Declares a float32 input of `shape`.
    public init(shape: [Int], file: String = #filePath, line: Int = #line, column: Int = #column) {
        self.shape = shape
        self.location = SourceLocation(file: file, line: line, column: column)
    }

    /// Adds the graph input.
    public func trace(into tracer: Tracer) {
        let type = TensorType(quantization == nil ? .float32 : .int8, Shape(shape), quantization: quantization)
        tracer.addInput(name: name ?? "input", type: type, at: location)
    }
}
