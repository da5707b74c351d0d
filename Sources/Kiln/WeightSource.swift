import KilnIR

/// Where a model's parameters come from.
///
/// Files are looked up by parameter key, `LAYER.weight` and `LAYER.bias`.
/// Layouts follow TensorFlow Lite: `Dense` weights are `[units, inputs]`,
/// `Conv2D` weights are `[filters, kernelHeight, kernelWidth, inputChannels]`.
/// A relative path is relative to the Swift file that names it.
public struct WeightSource: Hashable, Sendable, Codable {
    enum Storage: Hashable, Sendable, Codable {
        case seeded(UInt64)
        case file(path: String, format: WeightFileFormat)
    }

    let storage: Storage
    let location: SourceLocation?

    /// Deterministic He (ReLU layers) or Glorot initialization, for prototypes and tests.
    public static func seeded(_ seed: UInt64 = 0) -> WeightSource {
        WeightSource(storage: .seeded(seed), location: nil)
    }

    /// A `.safetensors` file.
    public static func safetensors(_ path: String, file: String = #filePath, line: Int = #line, column: Int = #column) -> WeightSource {
        .resolving(path, format: .safetensors, file: file, line: line, column: column)
    }

    /// A NumPy `.npz` archive with one array per key.
    public static func npz(_ path: String, file: String = #filePath, line: Int = #line, column: Int = #column) -> WeightSource {
        .resolving(path, format: .npz, file: file, line: line, column: column)
    }

    /// A directory of NumPy `.npy` files named `KEY.npy`.
    public static func npy(directory path: String, file: String = #filePath, line: Int = #line, column: Int = #column) -> WeightSource {
        .resolving(path, format: .npyDirectory, file: file, line: line, column: column)
    }

    private static func resolving(_ path: String, format: WeightFileFormat, file: String, line: Int, column: Int) -> WeightSource {
        var resolved = path
        if !path.hasPrefix("/"), let slash = file.lastIndex(of: "/") {
            resolved = String(file[...slash]) + path
        }
        return WeightSource(
            storage: .file(path: resolved, format: format), location: SourceLocation(file: file, line: line, column: column))
    }

    /// Whether parameters come from a file (the only source of int8 weights).
    var isFile: Bool {
        if case .file = storage { return true }
        return false
    }

    /// The constant source of parameter `key`, initialized with `scheme` when
    /// seeded; int8 weights also name their scales (`KEY_scale`).
    func source(
        forKey key: String, scheme: WeightInitializer.Scheme, fanIn: Int, fanOut: Int, quantizedAxis: Int? = nil
    ) -> ConstantSource {
        switch storage {
        case .seeded(let seed):
            // Mix the key into the seed so each parameter gets its own stream
            // and editing one layer leaves the others' numbers unchanged.
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
            return .initializer(WeightInitializer(scheme: scheme, seed: seed ^ hash, fanIn: fanIn, fanOut: fanOut))
        case .file(let path, let format):
            return .file(
                WeightReference(
                    path: path, format: format, key: key, location: location,
                    scaleKey: quantizedAxis.map { _ in "\(key)_scale" }, scaleAxis: quantizedAxis))
        }
    }
}
