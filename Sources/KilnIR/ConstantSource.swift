/// Where a constant's contents come from.
///
/// Graphs traced from the DSL refer to weight files and initializers instead
/// of carrying the numbers, so tracing stays fast; the compiler resolves them
/// to ``data(_:)`` before any pass runs.
public enum ConstantSource: Hashable, Sendable, Codable {
    /// Contents known now.
    case data(TensorData)
    /// A tensor in a weight file.
    case file(WeightReference)
    /// Deterministic pseudo-random initialization.
    case initializer(WeightInitializer)
}

/// A tensor stored in a weight file.
public struct WeightReference: Hashable, Sendable, Codable {
    /// The file's path; relative paths are relative to the model's source file.
    public var path: String
    /// The file's format.
    public var format: WeightFileFormat
    /// The tensor's key in the file, e.g. `conv1.weight`.
    public var key: String
    /// Where the model named the file, for errors about it.
    public var location: SourceLocation?
    /// For int8 weights: the key of their float32 scales (one, or one per channel along `scaleAxis`).
    public var scaleKey: String?
    /// The channel axis of per-channel scales.
    public var scaleAxis: Int?

    /// Creates a reference to tensor `key` in the file at `path`.
    public init(
        path: String, format: WeightFileFormat, key: String, location: SourceLocation? = nil, scaleKey: String? = nil,
        scaleAxis: Int? = nil
    ) {
        self.path = path
        self.format = format
        self.key = key
        self.location = location
        self.scaleKey = scaleKey
        self.scaleAxis = scaleAxis
    }
}

/// Weight file formats Kiln reads.
public enum WeightFileFormat: String, Hashable, Sendable, Codable {
    /// A `.safetensors` file holding every tensor by key.
    case safetensors
    /// A NumPy `.npz` archive holding one `.npy` member per key.
    case npz
    /// A directory holding one NumPy `KEY.npy` file per key.
    case npyDirectory
}

/// Deterministic initialization of a parameter, reproducible from its seed.
public struct WeightInitializer: Hashable, Sendable, Codable {
    /// The distribution to draw from.
    public enum Scheme: String, Hashable, Sendable, Codable {
        /// Uniform in ±√(6 / fanIn) (He/Kaiming), for ReLU networks.
        case heUniform
        /// Uniform in ±√(6 / (fanIn + fanOut)) (Glorot/Xavier).
        case glorotUniform
        /// All zeros (biases).
        case zeros
    }

    /// The distribution.
    public var scheme: Scheme
    /// The seed; the same seed always gives the same numbers.
    public var seed: UInt64
    /// Inputs feeding each output unit.
    public var fanIn: Int
    /// Output units each input feeds.
    public var fanOut: Int

    /// Creates an initializer.
    public init(scheme: Scheme, seed: UInt64, fanIn: Int, fanOut: Int) {
        self.scheme = scheme
        self.seed = seed
        self.fanIn = fanIn
        self.fanOut = fanOut
    }

    /// Draws float32 data of `shape`.
    public func generate(shape: Shape) -> TensorData {
        let count = shape.elementCount
        let limit: Float
        switch scheme {
        case .zeros: return TensorData([Float](repeating: 0, count: count), shape: shape)
        case .heUniform: limit = (6 / Float(max(fanIn, 1))).squareRoot()
        case .glorotUniform: limit = (6 / Float(max(fanIn + fanOut, 1))).squareRoot()
        }
        var state = seed
        let values = (0..<count).map { _ -> Float in
            // SplitMix64: tiny, fast, and identical on every platform.
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let unit = Float(z >> 40) / Float(1 << 24)  // [0, 1)
            return (unit * 2 - 1) * limit
        }
        return TensorData(values, shape: shape)
    }
}
