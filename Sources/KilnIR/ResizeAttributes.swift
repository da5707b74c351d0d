/// How a resize picks the input positions an output pixel reads.
public enum ResizeMethod: String, Hashable, Sendable, Codable {
    /// The one nearest input pixel.
    case nearest
    /// The four surrounding input pixels, weighted by distance along H, then W.
    case bilinear
    /// The sixteen surrounding input pixels, weighted by Keys' cubic convolution
    /// (``ResizeAttributes/CubicKernel``) along W, then H; ONNX's `cubic` mode.
    case bicubic
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
    /// Nearest, bilinear or bicubic.
    public var method: ResizeMethod
    /// How output coordinates map to input coordinates.
    public var coordinates: ResizeCoordinates
    /// How nearest-neighbour resizing rounds (ignored by the other methods).
    public var rounding: NearestRounding
    /// The cubic kernel of a bicubic resize; `nil` means ``CubicKernel/init(coefficient:excludesOutside:)``'s defaults.
    public var cubic: CubicKernel?

    /// Keys' cubic convolution kernel: a tap at distance `s` weighs
    /// `(a + 2)|s|³ − (a + 3)|s|² + 1` for `|s| ≤ 1`, `a|s|³ − 5a|s|² + 8a|s| − 4a` for `1 < |s| < 2`.
    public struct CubicKernel: Hashable, Sendable, Codable {
        /// `a`: −0.75 in PyTorch and OpenCV (ONNX's default), −0.5 in TensorFlow.
        public var coefficient: Float
        /// Whether taps outside the input weigh nothing (the rest rescaled to sum to 1), rather than
        /// reading the nearest edge pixel.
        public var excludesOutside: Bool

        /// Creates a cubic kernel.
        public init(coefficient: Float = -0.75, excludesOutside: Bool = false) {
            self.coefficient = coefficient
            self.excludesOutside = excludesOutside
        }
    }

    /// Creates resize attributes.
    public init(
        size: [Int], method: ResizeMethod, coordinates: ResizeCoordinates = .asymmetric,
        rounding: NearestRounding = .floor, cubic: CubicKernel? = nil
    ) {
        self.size = size
        self.method = method
        self.coordinates = coordinates
        self.rounding = rounding
        self.cubic = cubic
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
        return (0..<output).map { position in
            let coordinate = inputCoordinate(of: position, input: input, output: output)
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
            case .bicubic:
                // Bicubic resizes read ``cubicTaps(input:output:)``; this is its nearest tap, for callers that want one.
                let index = coordinate.isFinite ? min(max(Int(coordinate.rounded()), 0), last) : 0
                return Source(lower: index, upper: index, weight: 0)
            }
        }
    }

    /// The input coordinate output position `position` maps to along an axis of `input` elements
    /// resized to `output`, in float32 arithmetic.
    func inputCoordinate(of position: Int, input: Int, output: Int) -> Float {
        let x = Float(position)
        let scale = Float(input) / Float(output)
        switch coordinates {
        case .asymmetric: return x * scale
        case .halfPixel: return (x + 0.5) * scale - 0.5
        case .pytorchHalfPixel: return output > 1 ? (x + 0.5) * scale - 0.5 : 0
        case .alignCorners: return x * (output > 1 ? Float(input - 1) / Float(output - 1) : 0)
        case .tfHalfPixelForNearest: return (x + 0.5) * scale
        }
    }

    /// One input position a bicubic output reads, and its weight.
    public struct Tap: Hashable, Sendable {
        /// The input position (clamped to the axis: edge pixels repeat).
        public var index: Int
        /// Its weight.
        public var weight: Float
    }

    /// The four taps each of `output` coordinates reads along an axis of `input` elements:
    /// positions `⌊x⌋ − 1 … ⌊x⌋ + 2` around input coordinate `x`, weighed by ``cubic``'s kernel
    /// at their distance from `x` (as ONNX Runtime computes them, in float32). Positions outside
    /// the axis read the edge pixel, or with `excludesOutside` weigh nothing and the other weights
    /// are divided by their sum.
    public func cubicTaps(input: Int, output: Int) -> [[Tap]] {
        guard input > 0 else { return [] }
        let kernel = cubic ?? CubicKernel()
        let a = kernel.coefficient
        func weight(_ distance: Float) -> Float {
            let s = abs(distance)
            if s <= 1 { return ((a + 2) * s - (a + 3)) * s * s + 1 }
            if s < 2 { return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a }
            return 0
        }
        return (0..<output).map { position in
            let x = inputCoordinate(of: position, input: input, output: output)
            guard x.isFinite else { return (0..<4).map { Tap(index: 0, weight: $0 == 1 ? 1 : 0) } }
            let base = x.rounded(.down)
            let fraction = x - base
            var taps = (0..<4).map { offset -> Tap in
                let index = Int(base) + offset - 1
                return Tap(index: index, weight: weight(fraction - Float(offset - 1)))
            }
            if kernel.excludesOutside {
                for tap in taps.indices where !(0..<input).contains(taps[tap].index) { taps[tap].weight = 0 }
                let total = taps.reduce(Float(0)) { $0 + $1.weight }
                if total != 0 { for tap in taps.indices { taps[tap].weight /= total } }
            }
            for tap in taps.indices { taps[tap].index = min(max(taps[tap].index, 0), input - 1) }
            return taps
        }
    }
}
