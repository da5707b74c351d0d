import Foundation
import KilnRuntime
import KilnIR

/// A `.safetensors` file: an 8-byte little-endian header length, a JSON
/// header describing each tensor, then the tensors' bytes.
///
/// The whole header is validated up front (offsets in bounds, sizes
/// matching shapes); tensors of a dtype Kiln does not support are listed in
/// ``keys`` but fail with a clear error when read.
public struct SafeTensors: Sendable {
    /// One header entry, with offsets made absolute within the file.
    private struct Entry: Sendable {
        var dtypeName: String
        var shape: [Int]
        var byteRange: Range<Int>
    }

    /// The safetensors dtype names Kiln reads.
    static let supportedDTypes: [String: DType] = [
        "F32": .float32, "F16": .float16, "I8": .int8, "I32": .int32,
    ]

    /// Element sizes of the dtypes Kiln does not read, so their entries can still be checked.
    private static let otherDTypeSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "BF16": 2,
        "U32": 4, "F64": 8, "I64": 8, "U64": 8,
    ]

    private static let metadataKey = "__metadata__"

    private let bytes: [UInt8]
    private let entries: [String: Entry]
    private let source: String

    /// The tensor names, sorted.
    public let keys: [String]

    /// The free-form `__metadata__` string map (empty when the file has none).
    public let metadata: [String: String]

    /// Reads the file at `url`.
    public init(contentsOf url: URL) throws {
        try self.init(bytes: FileIO.readBytes(of: url), source: InputFile.displayPath(of: url))
    }

    /// Reads a file from its bytes; `source` names it in error messages.
    public init(bytes: [UInt8], source: String) throws {
        self.bytes = bytes
        self.source = source
        let reader = ByteReader(bytes: bytes, source: source)
        guard bytes.count >= 8 else {
            throw WeightFileError(
                source,
                "is \(bytes.count) bytes, too short for the 8-byte header length; the file is truncated "
                    + "or is not a safetensors file")
        }
        let headerLength = try reader.uint64(at: 0, "header length")
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw WeightFileError(
                source,
                "header length \(headerLength) exceeds the file size \(bytes.count); the file is truncated "
                    + "or is not a safetensors file")
        }
        let dataStart = 8 + Int(headerLength)
        let header = try Self.parseHeader(
            reader.bytes(at: 8, count: Int(headerLength), "header"), source: source)

        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == Self.metadataKey {
                metadata = try Self.parseMetadata(value, source: source)
            } else {
                entries[name] = try Self.parseEntry(
                    value, name: name, dataStart: dataStart, dataCount: bytes.count - dataStart,
                    source: source)
            }
        }
        try Self.checkLayout(of: entries, dataStart: dataStart, dataEnd: bytes.count, source: source)
        self.entries = entries
        self.metadata = metadata
        keys = entries.keys.sorted()
    }

    /// The format's rule: the tensors tile the data exactly, with no overlap,
    /// no gap and nothing after the last one. A file that breaks it was
    /// damaged or written by a broken tool, and its weights cannot be trusted.
    private static func checkLayout(
        of entries: [String: Entry], dataStart: Int, dataEnd: Int, source: String
    ) throws {
        let ordered = entries.sorted { ($0.value.byteRange.lowerBound, $0.key) < ($1.value.byteRange.lowerBound, $1.key) }
        var position = dataStart
        var previous: String?
        func relative(_ range: Range<Int>) -> String {
            "[\(range.lowerBound - dataStart), \(range.upperBound - dataStart)]"
        }
        for (name, entry) in ordered {
            let range = entry.byteRange
            if range.lowerBound < position, let previous, let other = entries[previous] {
                throw WeightFileError(
                    source,
                    "tensor '\(name)': data_offsets \(relative(range)) overlap those of tensor '\(previous)' "
                        + "\(relative(other.byteRange)); the file is corrupt")
            }
            if range.lowerBound > position {
                throw WeightFileError(
                    source,
                    "bytes \(position - dataStart)..<\(range.lowerBound - dataStart) of the data belong to no "
                        + "tensor (before tensor '\(name)'); the file is corrupt")
            }
            position = range.upperBound
            previous = name
        }
        guard position == dataEnd else {
            throw WeightFileError(
                source,
                "\(dataEnd - position == 1 ? "1 byte follows" : "\(dataEnd - position) bytes follow") the last "
                    + "tensor's data; the file is corrupt or was appended to")
        }
    }

    private static func parseHeader(_ text: ArraySlice<UInt8>, source: String) throws -> [(
        key: String, value: JSONValue
    )] {
        guard String(validating: text, as: UTF8.self) != nil else {
            throw WeightFileError(
                source,
                "the header is not valid UTF-8; the file is corrupt or is not a safetensors file")
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(text)
        } catch {
            throw WeightFileError(
                source,
                "the header is not valid JSON (\(error.reason)); the file is corrupt or is not a safetensors file"
            )
        }
        guard case .object(let members) = json else {
            throw WeightFileError(
                source,
                "the header is not a JSON object; the file is corrupt or is not a safetensors file")
        }
        return members
    }

    private static func parseMetadata(_ value: JSONValue, source: String) throws -> [String: String]
    {
        guard case .object(let members) = value else {
            throw WeightFileError(
                source, "the header's __metadata__ is not an object of strings; the file is corrupt"
            )
        }
        var metadata: [String: String] = [:]
        for (key, value) in members {
            guard case .string(let text) = value else {
                throw WeightFileError(
                    source,
                    "the header's __metadata__ entry '\(key)' is not a string; the file is corrupt")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseEntry(
        _ value: JSONValue, name: String, dataStart: Int, dataCount: Int, source: String
    )
        throws -> Entry
    {
        func corrupt(_ problem: String) -> WeightFileError {
            WeightFileError(source, "tensor '\(name)': \(problem); the file is corrupt")
        }
        guard case .object(let members) = value else {
            throw corrupt("its header entry is not an object")
        }
        let fields = Dictionary(members, uniquingKeysWith: { first, _ in first })
        guard case .string(let dtypeName)? = fields["dtype"] else {
            throw corrupt("the header gives no dtype string")
        }
        guard case .array(let shapeValues)? = fields["shape"] else {
            throw corrupt("the header gives no shape array")
        }
        guard case .array(let offsetValues)? = fields["data_offsets"] else {
            throw corrupt("the header gives no data_offsets array")
        }
        let shape = try shapeValues.map { value in
            guard case .integer(let size) = value, size >= 0 else {
                throw corrupt("the shape holds something other than non-negative integers")
            }
            return size
        }
        guard offsetValues.count == 2, case .integer(let begin) = offsetValues[0],
            case .integer(let end) = offsetValues[1], begin >= 0, begin <= end
        else {
            throw corrupt(
                "data_offsets is not a pair [begin, end] of non-negative integers with begin <= end"
            )
        }
        let offsetsText = "data_offsets [\(begin), \(end)]"
        guard end <= dataCount else {
            throw WeightFileError(
                source,
                "tensor '\(name)': \(offsetsText) reach past the end of the data (\(dataCount) bytes); "
                    + "the file is truncated or corrupt")
        }
        if let elementSize = supportedDTypes[dtypeName]?.byteSize ?? otherDTypeSizes[dtypeName] {
            let shapeText = "[" + shape.map(String.init).joined(separator: ", ") + "]"
            guard let needed = ShapeArithmetic.byteCount(of: shape, elementSize: elementSize) else {
                throw corrupt("shape \(shapeText) is too large to address")
            }
            guard needed == end - begin else {
                throw corrupt(
                    "\(offsetsText) hold \(end - begin) bytes but \(dtypeName) shape \(shapeText) needs \(needed)"
                )
            }
        }
        return Entry(
            dtypeName: dtypeName, shape: shape, byteRange: (dataStart + begin)..<(dataStart + end))
    }

    /// The tensor named `key`.
    public func tensor(_ key: String) throws -> TensorData {
        guard let entry = entries[key] else {
            throw WeightFileError.missingKey(key, in: source, available: keys)
        }
        guard let dtype = Self.supportedDTypes[entry.dtypeName] else {
            throw WeightFileError(
                source,
                "tensor '\(key)' has dtype \(entry.dtypeName), which Kiln does not read; supported dtypes are "
                    + "F32, F16, I8 and I32; convert the tensor (e.g. tensor.float()) before saving"
            )
        }
        return TensorData(
            dtype: dtype, shape: Shape(entry.shape), bytes: Array(bytes[entry.byteRange]))
    }

    /// The safetensors name of `dtype`.
    static func name(of dtype: DType) -> String {
        switch dtype {
        case .float32: "F32"
        case .float16: "F16"
        case .int8: "I8"
        case .int32: "I32"
        }
    }

    /// A `.safetensors` file holding `tensors` and `metadata`.
    ///
    /// The name `__metadata__` is reserved by the format, so a tensor with that name is not written.
    public static func encode(_ tensors: [String: TensorData], metadata: [String: String] = [:])
        -> [UInt8]
    {
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map {
                JSONValue.quoted($0.key) + ":" + JSONValue.quoted($0.value)
            }
            fields.append(JSONValue.quoted(metadataKey) + ":{" + pairs.joined(separator: ",") + "}")
        }
        // Widest elements first, as the reference writer orders them, so every tensor's
        // data stays aligned to its element size for readers that map the file.
        let ordered = tensors.sorted {
            ($0.value.dtype.byteSize, $1.key) > ($1.value.dtype.byteSize, $0.key)
        }
        var data: [UInt8] = []
        for (name, tensor) in ordered where name != metadataKey {
            let begin = data.count
            data += tensor.bytes
            let shape = tensor.shape.dimensions.map(String.init).joined(separator: ",")
            fields.append(
                JSONValue.quoted(name)
                    + ":{\"dtype\":\"\(self.name(of: tensor.dtype))\",\"shape\":[\(shape)],"
                    + "\"data_offsets\":[\(begin),\(data.count)]}")
        }
        var header = Array(("{" + fields.joined(separator: ",") + "}").utf8)
        // Padding with spaces keeps the tensor data 8-byte aligned, as the reference implementation does.
        header += repeatElement(0x20, count: (8 - header.count % 8) % 8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + header.count + data.count)
        bytes.appendLittleEndian(UInt64(header.count))
        bytes += header
        bytes += data
        return bytes
    }

    /// Writes `tensors` and `metadata` to `url` as a `.safetensors` file.
    public static func write(
        _ tensors: [String: TensorData], metadata: [String: String] = [:], to url: URL
    ) throws {
        try FileIO.write(encode(tensors, metadata: metadata), to: url)
    }
}
