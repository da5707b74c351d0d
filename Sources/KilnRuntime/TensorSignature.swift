/// The name, element type and shape of one input or output of a compiled model.
public struct TensorSignature: Codable, Hashable, Sendable {
    /// The tensor's name in the source model, used in error messages.
    public var name: String
    /// The type of each element.
    public var elementType: ElementType
    /// The dimensions, outermost first; the buffer is dense and row-major.
    public var shape: [Int]
    /// The quantization scale for quantized integer tensors, nil otherwise.
    public var scale: Float?
    /// The quantization zero point for quantized integer tensors, nil otherwise.
    public var zeroPoint: Int32?

    /// Creates a signature.
    public init(
        name: String, elementType: ElementType, shape: [Int], scale: Float? = nil,
        zeroPoint: Int32? = nil
    ) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// The number of elements: the product of the dimensions (1 for a scalar).
    public var elementCount: Int {
        shape.reduce(1, *)
    }

    /// The number of bytes a buffer for this tensor must hold exactly.
    public var byteCount: Int {
        elementCount * elementType.byteSize
    }

    /// The byte count, or nil when a dimension is negative or the size overflows.
    ///
    /// Metadata comes from a file, so the loader checks it with this before
    /// trusting `byteCount`, which would trap on such values.
    var checkedByteCount: Int? {
        var count = elementType.byteSize
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }

    /// "64 float32 values (256 bytes)": the size this tensor takes, for messages.
    var sizeDescription: String {
        "\(elementCount) \(elementType.rawValue) \(elementCount == 1 ? "value" : "values")"
            + " (\(byteCount) \(byteCount == 1 ? "byte" : "bytes"))"
    }

    /// "63 values (252 bytes)" or, when not a whole number of elements, "253 bytes".
    func describeReceived(byteCount received: Int) -> String {
        let bytes = "\(received) \(received == 1 ? "byte" : "bytes")"
        guard received % elementType.byteSize == 0 else { return bytes }
        let values = received / elementType.byteSize
        return "\(values) \(values == 1 ? "value" : "values") (\(bytes))"
    }
}
