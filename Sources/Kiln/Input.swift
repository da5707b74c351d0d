import KilnIR

/// The model's input: its shape (batch first); float32, int8 when
/// `.quantized(scale:zeroPoint:)`, or int32 indices (``indices(shape:file:line:column:)``).
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
    /// Whether the input holds int32 indices (token ids) instead of float32 values.
    public var holdsIndices = false
    let location: SourceLocation

    /// Declares a float32 input of `shape`.
    public init(shape: [Int], file: String = #filePath, line: Int = #line, column: Int = #column) {
        self.shape = shape
        self.location = SourceLocation(file: file, line: line, column: column)
    }

    /// Declares an input of int32 indices, such as token ids for an embedding.
    ///
    /// ```swift
    /// Input.indices(shape: [1, 16])
    /// ```
    public static func indices(shape: [Int], file: String = #filePath, line: Int = #line, column: Int = #column) -> Input {
        var input = Input(shape: shape, file: file, line: line, column: column)
        input.holdsIndices = true
        return input
    }

    /// Adds the graph input.
    public func trace(into tracer: Tracer) {
        let dtype: DType = holdsIndices ? .int32 : quantization == nil ? .float32 : .int8
        let type = TensorType(dtype, Shape(shape), quantization: holdsIndices ? nil : quantization)
        tracer.addInput(name: name ?? "input", type: type, at: location)
    }
}
