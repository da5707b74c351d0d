#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reads and writes the artifact file: a shared library followed by metadata and a trailer.
///
/// Layout, all integers little-endian:
///
///     [library: N bytes][metadata JSON: M bytes][N: UInt64][M: UInt64][checksum: UInt64]["KILNART1"]
///
/// The checksum covers the first N + M bytes. The dynamic loader ignores
/// bytes after the ELF segments, so the whole file can be `dlopen`ed as is.
/// The metadata is one model's object, or an array of objects for an artifact
/// holding several models (each with its own entry points in the library).
public enum ArtifactFile {
    /// The eight bytes every artifact ends with.
    static let magic: [UInt8] = Array("KILNART1".utf8)

    /// The size of the fixed trailer: two sizes, the checksum and the magic.
    static let trailerByteCount = 32

    /// What an artifact holds besides its library's bytes.
    public struct Contents: Sendable {
        /// The size of the shared library at the start of the file.
        public var libraryByteCount: Int
        /// Each model the library runs, in the order they were written.
        public var models: [ArtifactMetadata]
        /// The first model: the only one of an artifact compiled from one model.
        public var metadata: ArtifactMetadata { models[0] }
    }

    /// The complete artifact bytes for a shared library and its metadata.
    public static func encode(library: [UInt8], metadata: ArtifactMetadata) throws -> [UInt8] {
        try encode(library: library, models: [metadata])
    }

    /// The complete artifact bytes for a shared library running several models, one metadata each.
    public static func encode(library: [UInt8], models: [ArtifactMetadata]) throws -> [UInt8] {
        let encoder = JSONEncoder()
        // Sorted keys make the bytes, and so the checksum, reproducible.
        encoder.outputFormatting = [.sortedKeys]
        let json: Data
        do {
            json = models.count == 1 ? try encoder.encode(models[0]) : try encoder.encode(models)
        } catch {
            throw RuntimeError(
                "cannot encode the metadata of models \(models.map { "'\($0.modelName)'" }.joined(separator: ", ")): \(error)")
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(library.count + json.count + trailerByteCount)
        bytes.append(contentsOf: library)
        bytes.append(contentsOf: json)
        let checksum = ArtifactChecksum.hash(bytes)
        appendLittleEndian(UInt64(library.count), to: &bytes)
        appendLittleEndian(UInt64(json.count), to: &bytes)
        appendLittleEndian(checksum, to: &bytes)
        bytes.append(contentsOf: magic)
        return bytes
    }

    /// Encodes an artifact and writes it to `url`, replacing any file there.
    ///
    /// The file is written to a temporary name and renamed into place, so a
    /// process that has the old artifact loaded keeps a consistent copy.
    public static func write(library: [UInt8], metadata: ArtifactMetadata, to url: URL) throws {
        try OutputFile.write(try encode(library: library, metadata: metadata), to: url)
    }

    /// Validates artifact bytes and returns the library size and the models' metadata.
    ///
    /// `source` names the bytes (usually the file path) in error messages.
    public static func decode(_ bytes: [UInt8], source: String) throws -> Contents {
        try bytes.withUnsafeBytes { try decode(raw: $0, source: source) }
    }

    /// Reads and validates the artifact at `url` and returns its (first) model's metadata.
    public static func readMetadata(contentsOf url: URL) throws -> ArtifactMetadata {
        try readModels(contentsOf: url)[0]
    }

    /// Reads and validates the artifact at `url` and returns the metadata of every model it holds.
    public static func readModels(contentsOf url: URL) throws -> [ArtifactMetadata] {
        try readContents(contentsOf: url).models
    }

    /// Reads and validates the artifact at `url` in pieces, keeping only its metadata: loading a
    /// model then needs no copy of its weights besides the one the dynamic loader maps.
    public static func readContents(contentsOf url: URL) throws -> Contents {
        let file = try InputFile.open(url)
        defer { try? file.close() }
        let source = url.path
        do {
            let length = Int(try file.seekToEnd())
            try file.seek(toOffset: UInt64(max(length - trailerByteCount, 0)))
            let trailerBytes = [UInt8](try file.readToEnd() ?? Data())
            let trailer = try trailerBytes.withUnsafeBytes { try Self.trailer($0, fileLength: length, source: source) }
            // The checksum over pieces of 1 MiB (a multiple of the hasher's 32-byte blocks).
            try file.seek(toOffset: 0)
            var hasher = ArtifactChecksum.Hasher(count: trailer.payloadByteCount)
            var metadata = Data()
            var offset = 0
            while offset < trailer.payloadByteCount {
                let piece = try file.read(upToCount: min(1 << 20, trailer.payloadByteCount - offset)) ?? Data()
                guard !piece.isEmpty else { throw RuntimeError("'\(source)' became shorter while it was read") }
                piece.withUnsafeBytes { hasher.update($0) }
                let metadataStart = max(trailer.libraryByteCount - offset, 0)
                if metadataStart < piece.count { metadata.append(piece[(piece.startIndex + metadataStart)...]) }
                offset += piece.count
            }
            try checkChecksum(hasher.finish(), expected: trailer.checksum, source: source)
            return Contents(libraryByteCount: trailer.libraryByteCount, models: try models(fromJSON: metadata, source: source))
        } catch let error as RuntimeError {
            throw error
        } catch {
            throw InputFile.failure(reading: url, error)
        }
    }

    /// `decode(_:source:)` over borrowed bytes, so loading a file needs no second copy.
    static func decode(raw bytes: UnsafeRawBufferPointer, source: String) throws -> Contents {
        let length = bytes.count
        let trailer = try trailer(
            UnsafeRawBufferPointer(rebasing: bytes[max(length - trailerByteCount, 0)...]), fileLength: length, source: source)
        let payloadBytes = UnsafeRawBufferPointer(rebasing: bytes[..<trailer.payloadByteCount])
        try checkChecksum(ArtifactChecksum.hash(payloadBytes), expected: trailer.checksum, source: source)
        let json = Data(bytes[trailer.libraryByteCount..<trailer.payloadByteCount])
        return Contents(libraryByteCount: trailer.libraryByteCount, models: try models(fromJSON: json, source: source))
    }

    /// The sizes and checksum the trailer (the file's last bytes, up to ``trailerByteCount``)
    /// records, checked against the file's length.
    private static func trailer(_ bytes: UnsafeRawBufferPointer, fileLength length: Int, source: String) throws
        -> (libraryByteCount: Int, payloadByteCount: Int, checksum: UInt64)
    {
        guard bytes.count == trailerByteCount, bytes[(trailerByteCount - magic.count)...].elementsEqual(magic) else {
            throw RuntimeError(
                "'\(source)' is not a Kiln artifact: it does not end with the KILNART1 trailer"
                    + " (it may be truncated, or not a compiled Kiln model)")
        }
        let trailerStart = length - trailerByteCount
        let libraryCount = readLittleEndian(bytes, at: 0)
        let metadataCount = readLittleEndian(bytes, at: 8)
        // Compare in UInt64 so absurd sizes from a damaged trailer cannot overflow.
        let (payload, overflow) = libraryCount.addingReportingOverflow(metadataCount)
        guard !overflow, payload == UInt64(trailerStart) else {
            let described = overflow ? "more than \(UInt64.max)" : "\(payload)"
            throw RuntimeError(
                "'\(source)' is truncated or damaged: its trailer describes \(described) bytes"
                    + " of library and metadata, but the file holds \(trailerStart); recompile it")
        }
        return (Int(libraryCount), trailerStart, readLittleEndian(bytes, at: 16))
    }

    private static func checkChecksum(_ checksum: UInt64, expected: UInt64, source: String) throws {
        guard checksum == expected else {
            throw RuntimeError("'\(source)' was modified after it was compiled (checksum mismatch); recompile it")
        }
    }

    /// The models of the metadata JSON: one object, or an array for several.
    private static func models(fromJSON json: Data, source: String) throws -> [ArtifactMetadata] {
        do {
            let models =
                json.first == UInt8(ascii: "[")
                ? try JSONDecoder().decode([ArtifactMetadata].self, from: json)
                : [try JSONDecoder().decode(ArtifactMetadata.self, from: json)]
            guard !models.isEmpty else {
                throw RuntimeError("'\(source)' holds no model; recompile it")
            }
            return models
        } catch let error as RuntimeError {
            throw error
        } catch {
            throw metadataError(json: json, source: source, underlying: error)
        }
    }

    /// The clearest error for metadata that does not decode.
    ///
    /// A newer format may have changed the fields, so report a version
    /// mismatch rather than a missing key when the versions can still be read.
    private static func metadataError(json: Data, source: String, underlying: Error)
        -> RuntimeError
    {
        struct VersionProbe: Decodable {
            var formatVersion: Int?
            var kilnVersion: String?
        }
        if let probe = try? JSONDecoder().decode(VersionProbe.self, from: json),
            let format = probe.formatVersion, format != ArtifactMetadata.currentFormatVersion
        {
            return formatVersionError(
                source: source, formatVersion: format, kilnVersion: probe.kilnVersion)
        }
        return RuntimeError(
            "'\(source)' has metadata this runtime cannot read (\(underlying)); recompile it"
                + " with Kiln \(KilnVersion.current)")
    }

    /// The error for an artifact written in another layout version.
    static func formatVersionError(source: String, formatVersion: Int, kilnVersion: String?)
        -> RuntimeError
    {
        let compiler = kilnVersion.map { "Kiln \($0)" } ?? "another Kiln version"
        return RuntimeError(
            "'\(source)' uses artifact format \(formatVersion) (compiled by \(compiler)),"
                + " this runtime (Kiln \(KilnVersion.current)) reads format"
                + " \(ArtifactMetadata.currentFormatVersion); recompile it")
    }

    private static func appendLittleEndian(_ value: UInt64, to bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 64, by: 8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    private static func readLittleEndian(_ bytes: UnsafeRawBufferPointer, at offset: Int)
        -> UInt64
    {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
