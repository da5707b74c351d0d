import Foundation
import KilnRuntime
import KilnIR

/// A NumPy `.npz` archive: a zip of `.npy` members, one per key, as written
/// by `np.savez` and `np.savez_compressed`.
///
/// The archive's directory is read up front; each tensor is decompressed,
/// CRC-checked and decoded only when asked for.
public struct NumPyArchive: Sendable {
    private let archive: ZipArchive
    private let membersByKey: [String: ZipArchive.Member]
    private let source: String

    /// The tensor keys: member names without `.npy`, sorted.
    public let keys: [String]

    /// Reads the archive at `url`.
    public init(contentsOf url: URL) throws {
        try self.init(bytes: FileIO.readBytes(of: url), source: InputFile.displayPath(of: url))
    }

    /// Reads an archive from its bytes; `source` names it in error messages.
    public init(bytes: [UInt8], source: String) throws {
        archive = try ZipArchive(bytes: bytes, source: source)
        self.source = source
        var membersByKey: [String: ZipArchive.Member] = [:]
        // Members that are not arrays (NumPy never writes any) are not tensors, so they are skipped.
        for member in archive.members where member.name.hasSuffix(".npy") {
            membersByKey[String(member.name.dropLast(4))] = member
        }
        self.membersByKey = membersByKey
        keys = membersByKey.keys.sorted()
    }

    /// The tensor stored under `key`.
    public func tensor(_ key: String) throws -> TensorData {
        guard let member = membersByKey[key] else {
            throw WeightFileError.missingKey(key, in: source, available: keys)
        }
        return try NumPyArray.decode(
            archive.contents(of: member), source: "\(source) member '\(member.name)'")
    }

    /// An uncompressed `.npz` archive holding `tensors`, readable by `np.load`.
    public static func encode(_ tensors: [String: TensorData]) -> [UInt8] {
        ZipArchive.encode(
            tensors.sorted { $0.key < $1.key }.map {
                (name: $0.key + ".npy", contents: NumPyArray.encode($0.value))
            })
    }

    /// An uncompressed archive of `members` as given, whatever their names and bytes hold.
    ///
    /// For tools and tests that need archives NumPy would not write.
    public static func encode(members: [(name: String, contents: [UInt8])]) -> [UInt8] {
        ZipArchive.encode(members)
    }

    /// Writes `tensors` to `url` as an uncompressed `.npz` archive.
    public static func write(_ tensors: [String: TensorData], to url: URL) throws {
        try FileIO.write(encode(tensors), to: url)
    }
}
