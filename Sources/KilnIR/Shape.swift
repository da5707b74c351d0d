/// A static tensor shape: dimension sizes, outermost first (row-major).
///
/// ```swift
/// let shape: Shape = [1, 8, 8, 1]
/// shape.elementCount  // 64
/// ```
public struct Shape: Hashable, Sendable, Codable, RandomAccessCollection, ExpressibleByArrayLiteral,
    CustomStringConvertible
{
    /// The dimension sizes.
    public var dimensions: [Int]

    /// Creates a shape from its dimension sizes.
    public init(_ dimensions: [Int]) { self.dimensions = dimensions }

    /// Creates a shape from a literal such as `[1, 28, 28, 1]`.
    public init(arrayLiteral elements: Int...) { self.dimensions = elements }

    public init(from decoder: any Decoder) throws {
        dimensions = try decoder.singleValueContainer().decode([Int].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(dimensions)
    }

    public var startIndex: Int { dimensions.startIndex }
    public var endIndex: Int { dimensions.endIndex }
    public subscript(position: Int) -> Int {
        get { dimensions[position] }
        set { dimensions[position] = newValue }
    }

    /// The number of dimensions.
    public var rank: Int { dimensions.count }

    /// The number of elements (1 for a scalar).
    ///
    /// Saturates at `Int.max` instead of trapping, so code that meets a shape
    /// before validation cannot crash on it; validated shapes never get there
    /// (see ``problem``).
    public var elementCount: Int { checkedElementCount ?? .max }

    /// The number of elements, or `nil` when a dimension is negative or the product overflows `Int`.
    public var checkedElementCount: Int? {
        var count = 1
        for dimension in dimensions {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }

    /// Row-major strides in elements (wrapping instead of trapping for shapes that fail validation).
    public var strides: [Int] {
        var result = [Int](repeating: 1, count: rank)
        var step = 1
        for axis in (0..<rank).reversed() {
            result[axis] = step
            step = step &* dimensions[axis]
        }
        return result
    }

    /// The shape written as `[1x8x8x1]`.
    public var description: String { "[" + dimensions.map(String.init).joined(separator: "x") + "]" }
}
