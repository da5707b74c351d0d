import Foundation
import KilnIR
import KilnRuntime

/// One front door over every weight file format Kiln reads.
///
/// ```swift
/// let weights = try WeightFile(contentsOf: url, format: .safetensors)
/// let kernel = try weights.tensor("conv1.weight")
/// ```
public struct WeightFile: Sendable {
    private enum Storage: Sendable {
        case safetensors(SafeTensors)
        case npz(NumPyArchive)
        case npyDirectory(URL)
    }

    private let storage: Storage
    private let source: String

    /// The file's format.
    public let format: WeightFileFormat

    /// The tensor keys, sorted.
    public let keys: [String]

    /// Opens the weights at `url`; for ``WeightFileFormat/npyDirectory`` `url` is a directory of `KEY.npy` files.
    public init(contentsOf url: URL, format: WeightFileFormat) throws {
        self.format = format
        source = InputFile.displayPath(of: url)
        switch format {
        case .safetensors:
            let file = try SafeTensors(contentsOf: url)
            storage = .safetensors(file)
            keys = file.keys
        case .npz:
            let archive = try NumPyArchive(contentsOf: url)
            storage = .npz(archive)
            keys = archive.keys
        case .npyDirectory:
            storage = .npyDirectory(url)
            keys = try Self.arrayKeys(inDirectory: url, source: source)
        }
    }

    /// The names of the `.npy` files in `directory`, without the extension.
    private static func arrayKeys(inDirectory directory: URL, source: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory)
        else {
            throw WeightFileError(source, "no such directory")
        }
        guard isDirectory.boolValue else {
            throw WeightFileError(
                source,
                "is not a directory; .npy weights are read from a directory of KEY.npy files")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw WeightFileError(source, "cannot be listed: \(error.localizedDescription)")
        }
        return names.filter { $0.hasSuffix(".npy") && $0.count > 4 }.map { String($0.dropLast(4)) }
            .sorted()
    }

    /// The tensor stored under `key`.
    public func tensor(_ key: String) throws -> TensorData {
        switch storage {
        case .safetensors(let file):
            return try file.tensor(key)
        case .npz(let archive):
            return try archive.tensor(key)
        case .npyDirectory(let directory):
            guard keys.contains(key) else {
                throw WeightFileError.missingKey(key, in: source, available: keys)
            }
            return try NumPyArray.read(contentsOf: directory.appendingPathComponent(key + ".npy"))
        }
    }

    /// The format a file with this extension (such as `safetensors` or `npz`) holds, if Kiln reads it.
    ///
    /// Directories of `.npy` files have no extension to go by; name ``WeightFileFormat/npyDirectory`` explicitly.
    public static func format(forPathExtension pathExtension: String) -> WeightFileFormat? {
        switch pathExtension.lowercased() {
        case "safetensors": .safetensors
        case "npz": .npz
        default: nil
        }
    }
}
