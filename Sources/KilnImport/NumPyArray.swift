import Foundation
import KilnRuntime
import KilnIR

/// Reads and writes single NumPy arrays in the `.npy` format (versions 1.0, 2.0 and 3.0).
///
/// Only little-endian, C-ordered arrays of float32, float16, int8 and int32
/// are supported; anything else is rejected with a message saying how to convert it.
public enum NumPyArray {
    /// The six bytes every `.npy` file starts with.
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// NumPy aligns the start of the array data to this many bytes.
    static let alignment = 64

    /// Decodes the contents of a `.npy` file; `source` names it in error messages.
    public static func decode(_ bytes: [UInt8], source: String) throws -> TensorData {
        let reader = ByteReader(bytes: bytes, source: source)
        let prefix = bytes.prefix(magic.count)
        guard prefix.elementsEqual(magic.prefix(prefix.count)) else {
            throw WeightFileError(
                source, "not a NumPy .npy file (it does not start with \\x93NUMPY)")
        }
        let major = try reader.uint8(at: 6, "format version")
        let minor = try reader.uint8(at: 7, "format version")
        let headerStart: Int
        let headerLength: Int
        switch major {
        case 1:
            headerStart = 10
            headerLength = Int(try reader.uint16(at: 8, "header length"))
        case 2, 3:
            headerStart = 12
            headerLength = Int(try reader.uint32(at: 8, "header length"))
        default:
            throw WeightFileError(
                source,
                "unsupported .npy format version \(major).\(minor); Kiln reads versions 1.0, 2.0 and 3.0"
            )
        }
        let header = try NumPyHeader(
            parsing: try reader.bytes(at: headerStart, count: headerLength, "header"),
            source: source)
        let dataStart = headerStart + headerLength
        let shapeText = "shape (" + header.shape.map(String.init).joined(separator: ", ") + ")"
        guard
            let expected = ShapeArithmetic.byteCount(
                of: header.shape, elementSize: header.dtype.byteSize)
        else {
            throw WeightFileError(
                source, "\(shapeText) is too large to address; the file is corrupt")
        }
        let available = bytes.count - dataStart
        guard available >= expected else {
            throw WeightFileError(
                source,
                "the array data is truncated: \(shapeText) of \(header.dtype.rawValue) needs \(expected) bytes "
                    + "but only \(available) follow the header")
        }
        guard available == expected else {
            throw WeightFileError(
                source,
                "\(available - expected) unexpected bytes follow the array data of \(shapeText); the file is corrupt"
            )
        }
        return TensorData(
            dtype: header.dtype, shape: Shape(header.shape), bytes: Array(bytes[dataStart...]))
    }

    /// Reads the `.npy` file at `url`.
    public static func read(contentsOf url: URL) throws -> TensorData {
        try decode(FileIO.readBytes(of: url), source: InputFile.displayPath(of: url))
    }

    /// Encodes `data` as a `.npy` file byte for byte as `np.save` would write it.
    public static func encode(_ data: TensorData) -> [UInt8] {
        let header = NumPyHeader(dtype: data.dtype, shape: data.shape.dimensions).text
        let headerBytes = Array(header.utf8)
        // Version 1.0 has a 16-bit header length; only absurd ranks need 2.0's 32-bit one.
        let versionOneLength = paddedHeaderLength(headerBytes.count, prefixLength: 10)
        let isVersionOne = versionOneLength <= Int(UInt16.max)
        let prefixLength = isVersionOne ? 10 : 12
        let paddedLength =
            isVersionOne
            ? versionOneLength : paddedHeaderLength(headerBytes.count, prefixLength: 12)
        let padding = paddedLength - headerBytes.count - 1

        var bytes = magic
        bytes.reserveCapacity(prefixLength + paddedLength + data.bytes.count)
        if isVersionOne {
            bytes += [1, 0]
            bytes.appendLittleEndian(UInt16(paddedLength))
        } else {
            bytes += [2, 0]
            bytes.appendLittleEndian(UInt32(truncatingIfNeeded: paddedLength))
        }
        bytes += headerBytes
        bytes += [UInt8](repeating: 0x20, count: padding)
        bytes.append(0x0A)
        bytes += data.bytes
        return bytes
    }

    /// The header length including NumPy's space padding and final newline, which
    /// makes the array data start on an ``alignment`` boundary.
    private static func paddedHeaderLength(_ textLength: Int, prefixLength: Int) -> Int {
        let unpadded = prefixLength + textLength + 1
        return textLength + (alignment - unpadded % alignment) + 1
    }

    /// Writes `data` to `url` as a `.npy` file, refusing to overwrite any of `protected` (see ``OutputFile``).
    public static func write(_ data: TensorData, to url: URL, protecting protected: [URL] = []) throws {
        try FileIO.write(encode(data), to: url, protecting: protected)
    }
}
