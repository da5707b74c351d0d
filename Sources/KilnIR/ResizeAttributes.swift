/// How a resize picks the input positions an output pixel reads.
public enum ResizeMethod: String, Hashable, Sendable, Codable {
    /// The one nearest input pixel.
    case nearest
    /// The four surrounding input pixels, weighted by distance along H, then W.
    case bilinear
}

/// How an output coordinate maps to an input coordinate along one axis,
/// with `scale = input / output` (the names are ONNX's `coordinate_transformation_mode`).
public enum ResizeCoordinates: String, Hashable, Sendable, Codable {
    /// `x · scale`.
    case asymmetric
    /// `(x + ½) · scale − ½`: pixel centres line up (TensorFlow's `half_pixel_centers`).
    case halfPixel
    /// `x · (input − 1) / (output − 1)`: the corner pixels line up.
    case alignCorners
    /// `halfPixel`, except `0` when the output has one element (PyTorch).
    case pytorchHalfPixel
    /// `(x + ½) · scale`: TensorFlow's nearest-neighbour resize with `half_pixel_centers`.
    case tfHalfPixelForNearest
}

/// How nearest-neighbour resizing rounds an input coordinate to a pixel.
public enum NearestRounding: String, Hashable, Sendable, Codable {
    /// Down.
    case floor
    /// Up.
    case ceil
    /// To the nearest integer, halves down.
    case roundPreferFloor
    /// To the nearest integer, halves up.
    case roundPreferCeil
}

/// Attributes of a 2-D resize of an NHWC tensor.
public struct ResizeAttributes: Hashable, Sendable, Codable {
    /// The output's height and width.
    public var size: [Int]
    /// Nearest or bilinear.
    public var method: ResizeMethod
    /// How output coordinates map to input coordinates.
    public var coordinates: ResizeCoordinates
    /// How nearest-neighbour resizing rounds (ignored by bilinear).
    public var rounding: NearestRounding

    /// Creates resize attributes.
    public init(
        size: [Int], method: ResizeMethod, coordinates: ResizeCoordinates = .asymmetric,
        rounding: NearestRounding = .floor
    ) {
        self.size = size
        self.method = method
        self.coordinates = coordinates
        self.rounding = rounding
    }

    /// Where one output coordinate reads: two input positions and the weight of the second.
    public struct Source: Hashable, Sendable {
        /// The first input position.
        public var lower: Int
        /// The second input position (equal to `lower` for nearest-neighbour sampling).
        public var upper: Int
        /// The weight of `upper`; `lower` weighs `1 − weight`.
        public var weight: Float
    }

    /// The input positions each of `output` coordinates reads from an axis of `input` elements.
    ///
    /// Computed in float32 arithmetic, as TensorFlow Lite and ONNX Runtime do,
    /// so that coordinates that land exactly on a pixel round the same way.
    public func sources(input: Int, output: Int) -> [Source] {
        guard input > 0 else { return [] }
        let scale = Float(input) / Float(output)
        let cornerScale = output > 1 ? Float(input - 1) / Float(output - 1) : 0
        return (0..<output).map { position in
            let x = Float(position)
            let coordinate: Float =
                switch coordinates {
                case .asymmetric: x * scale
                case .halfPixel: (x + 0.5) * scale - 0.5
                case .pytorchHalfPixel: output > 1 ? (x + 0.5) * scale - 0.5 : 0
                case .alignCorners: x * cornerScale
                case .tfHalfPixelForNearest: (x + 0.5) * scale
                }
            let last = input - 1
            switch method {
            case .nearest:
                let rounded: Float =
                    switch rounding {
                    case .floor: coordinate.rounded(.down)
                    case .ceil: coordinate.rounded(.up)
                    case .roundPreferFloor: coordinate == coordinate.rounded(.down) + 0.5 ? coordinate.rounded(.down) : coordinate.rounded()
                    case .roundPreferCeil: coordinate == coordinate.rounded(.down) + 0.5 ? coordinate.rounded(.up) : coordinate.rounded()
                    }
                let index = rounded.isFinite ? min(max(Int(rounded), 0), last) : 0
                return Source(lower: index, upper: index, weight: 0)
            case .bilinear:
                let clamped = coordinate.isFinite ? min(max(coordinate, 0), Float(last)) : 0
                let lower = Int(clamped.rounded(.down))
                let upper = min(lower + 1, last)
                return Source(lower: lower, upper: upper, weight: upper == lower ? 0 : clamped - Float(lower))
            }
        }
    }
}
