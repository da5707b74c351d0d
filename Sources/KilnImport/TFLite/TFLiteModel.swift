import Foundation
import KilnRuntime

/// A TensorFlow Lite model (`.tflite` file) as plain values: operator table, subgraphs and buffers.
///
/// This is the file's structure, checked for internal consistency (every
/// index points at something that exists) but not interpreted: turning it
/// into a Kiln graph is the importer's job.
public struct TFLiteModel: Hashable, Sendable {
    /// The schema version the file was written with; this reader accepts 3.
    public var version: Int
    /// The converter's description of the model, such as `MLIR Converted.`.
    public var description: String
    /// The operators the model uses; each operator refers to one by index.
    public var operatorCodes: [TFLiteOperatorCode]
    /// The graphs; subgraph 0 is the entry point.
    public var subgraphs: [TFLiteSubgraph]
    /// The raw bytes of each buffer, little-endian; buffer 0 is empty by convention.
    public var buffers: [[UInt8]]

    /// The schema version this reader understands; versions 0–2 lay out buffers differently.
    static let schemaVersion = 3

    /// Creates a model description from its parts.
    public init(
        version: Int = 3, description: String = "", operatorCodes: [TFLiteOperatorCode],
        subgraphs: [TFLiteSubgraph], buffers: [[UInt8]]
    ) {
        self.version = version
        self.description = description
        self.operatorCodes = operatorCodes
        self.subgraphs = subgraphs
        self.buffers = buffers
    }

    /// Reads the model file at `url`, throwing a ``TFLiteError`` naming it when it is unreadable or malformed.
    public init(contentsOf url: URL) throws {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readBytes(of: url)
        } catch let error as WeightFileError {
            // FileIO's messages already start with the path.
            throw TFLiteError(message: error.message)
        }
        try self.init(bytes: bytes, source: InputFile.displayPath(of: url))
    }

    /// Decodes a model file's bytes, throwing a ``TFLiteError`` that names `source` when they are malformed.
    public init(bytes: [UInt8], source: String) throws {
        let identifier = Array("TFL3".utf8)
        guard bytes.count >= 8, Array(bytes[4..<8]) == identifier else {
            throw TFLiteError(
                source,
                "not a TensorFlow Lite model: bytes 4 to 7 are not the file identifier \"TFL3\""
                    + (bytes.count < 8 ? " (the file has only \(bytes.count) bytes)" : ""))
        }
        let reader = FlatBufferReader(bytes: bytes, source: source)
        let root = try reader.rootTable("Model")
        let version = try root.integer(0, default: UInt32(0), "version")
        guard version == Self.schemaVersion else {
            throw TFLiteError(
                source,
                "schema version \(version) is not supported; this reader reads version "
                    + "\(Self.schemaVersion), which every current converter writes")
        }
        let operatorCodes = try root.tables(1, "operator_codes") ?? []
        let subgraphs = try root.tables(2, "subgraphs") ?? []
        let description = try root.string(3, "description") ?? ""
        let buffers = try root.tables(4, "buffers") ?? []
        self.init(
            version: Int(version), description: description,
            operatorCodes: try operatorCodes.map(TFLiteOperatorCode.init),
            subgraphs: try subgraphs.map(TFLiteSubgraph.init),
            buffers: try buffers.map { try Self.bufferData($0) })
        try validate(source: source)
    }

    /// The bytes of a schema `Buffer` table: its `data` vector, or the file range `offset`/`size` names.
    ///
    /// Files over 2 GB cannot hold their weights inside the FlatBuffer, whose
    /// offsets are 32-bit, so writers append them after it and record where.
    /// Offsets 0 and 1 mean "none": writers use 1 as a placeholder.
    private static func bufferData(_ table: FlatBufferTable) throws -> [UInt8] {
        let data = try table.bytes(0, "data")
        if let data, !data.isEmpty { return data }
        let offset = try table.integer(1, default: UInt64(0), "offset")
        let size = try table.integer(2, default: UInt64(0), "size")
        guard offset > 1 else { return [] }
        let reader = table.reader
        guard let start = Int(exactly: offset), let count = Int(exactly: size),
            reader.file.contains(offset: start, count: count)
        else {
            throw reader.error(
                table.path,
                "the external data of \(size) bytes at byte \(offset) runs past the end of the "
                    + "file (\(reader.file.count) bytes); the file is truncated or corrupt")
        }
        try reader.charge(count, table.path)
        return Array(reader.file.bytes[start..<(start + count)])
    }
}
