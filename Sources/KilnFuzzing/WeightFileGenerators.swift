import Foundation
import KilnIR
import KilnImport

/// Builds weight files from a fuzzer's input, field by field.
///
/// Each generator writes a file the way its format lays it out (a JSON or
/// Python-literal header with dtypes, shapes and offsets, then data; a zip
/// directory) and lets the input choose every field's value, off by a little
/// or wildly wrong, so the readers' checks of each field are reached.
public enum WeightFileGenerators {
    static let safetensorsDTypes = ["F32", "F16", "I8", "I32", "BF16", "F64", "U8", "BOOL", "I64", "F8_E4M3", "XYZ", ""]
    static let numPyDescriptors = ["<f4", "<f2", "|i1", "<i4"]
    static let otherNumPyDescriptors = ["<f8", "<i8", ">f4", "|b1", "|u1", "<U3", "|O", "<c8", "f4", "<f16", "|V8", ""]
    static let names = ["w", "b", "layer.0.weight", "", "__metadata__", "é", "a\"b", "w"]

    /// A dimension: usually small, sometimes at an edge.
    private static func dimension(_ input: inout FuzzedBytes) -> Int {
        let choice = input.byte()
        return choice < 160 ? Int(choice % 6) : input.interestingInteger()
    }

    private static func shape(_ input: inout FuzzedBytes) -> [Int] {
        (0..<Int(input.byte() % 5)).map { _ in dimension(&input) }
    }

    /// The byte count of `shape` at `elementSize`, or a small guess when it does not fit.
    private static func byteCount(_ shape: [Int], _ elementSize: Int) -> Int {
        guard let count = Shape(shape).checkedElementCount, count <= (1 << 16) / elementSize else { return 16 }
        return count * elementSize
    }

    /// Occasionally corrupts generated header text: a byte changed or the text cut short.
    private static func damageText(_ text: String, _ input: inout FuzzedBytes) -> [UInt8] {
        var bytes = Array(text.utf8)
        switch input.byte() % 8 {
        case 0 where !bytes.isEmpty: bytes[input.index(below: bytes.count)] = input.byte()
        case 1: bytes = Array(bytes.prefix(input.index(below: bytes.count + 1)))
        default: break
        }
        return bytes
    }

    /// A `.safetensors` file: 8-byte header length, JSON header, data.
    public static func safetensors(_ input: inout FuzzedBytes) -> [UInt8] {
        var entries: [String] = []
        var offset = 0
        for _ in 0..<Int(input.byte() % 5) {
            let name = names[input.index(below: names.count)]
            let dtype = safetensorsDTypes[input.index(below: safetensorsDTypes.count)]
            let dims = shape(&input)
            let size = byteCount(dims, ["F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2][dtype] ?? 1)
            var begin = offset
            var end = offset + size
            switch input.byte() % 8 {
            case 0: begin &+= input.interestingInteger() % 64
            case 1: end = input.interestingInteger()
            default: break
            }
            offset = max(offset, min(max(end, 0), 1 << 16))
            let dimsText = dims.map(String.init).joined(separator: ",")
            entries.append(#""\#(name)":{"dtype":"\#(dtype)","shape":[\#(dimsText)],"data_offsets":[\#(begin),\#(end)]}"#)
        }
        if input.byte() % 4 == 0 { entries.append(#""__metadata__":{"format":"pt"}"#) }
        let header = damageText("{" + entries.joined(separator: ",") + "}", &input)
        var length = UInt64(header.count)
        if input.byte() % 8 == 0 { length = UInt64(truncatingIfNeeded: input.interestingInteger()) }
        var bytes = withUnsafeBytes(of: length.littleEndian) { Array($0) } + header
        let dataCount = input.byte() % 8 == 0 ? input.index(below: 1024) : max(0, min(offset, 1 << 16))
        bytes += (0..<dataCount).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        return bytes
    }

    /// A `.npy` file: magic, version, header length, Python-literal header dict, data.
    public static func numPy(_ input: inout FuzzedBytes) -> [UInt8] {
        // Mostly what the reader takes, so the damage elsewhere is what gets tested.
        let descriptors = input.byte() < 192 ? numPyDescriptors : otherNumPyDescriptors
        let descriptor = descriptors[input.index(below: descriptors.count)]
        let fortran = input.byte() < 192 ? "False" : ["True", "0", "None"][input.index(below: 3)]
        let dims = shape(&input)
        var shapeText = "(" + dims.map(String.init).joined(separator: ", ") + (dims.count == 1 ? ",)" : ")")
        if input.byte() % 16 == 0 { shapeText = ["[2, 3]", "(-1,)", "(2, 'a')", "()", "(1.5,)"][input.index(below: 5)] }
        var header = "{'descr': '\(descriptor)', 'fortran_order': \(fortran), 'shape': \(shapeText), }"
        if input.byte() % 8 == 0 { header = header.replacingOccurrences(of: "'shape'", with: "'shap'") }
        let major = input.byte() % 8 == 0 ? input.byte() : 1 + input.byte() % 3
        let lengthSize = major == 1 ? 2 : 4
        let unpadded = 6 + 2 + lengthSize + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let headerBytes = damageText(header, &input)
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
        let headerLength = input.byte() % 16 == 0 ? input.interestingInteger() : headerBytes.count
        for index in 0..<lengthSize { bytes.append(UInt8(truncatingIfNeeded: headerLength >> (8 * index))) }
        bytes += headerBytes
        let size = Int(descriptor.filter(\.isNumber)) ?? 1
        var dataCount = byteCount(dims, max(size, 1))
        if input.byte() % 4 == 0 { dataCount = max(0, dataCount + Int(Int8(bitPattern: input.byte()))) }
        bytes += (0..<dataCount).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        return bytes
    }

    /// A `.npz` archive of generated `.npy` members, with fields of its zip records then overwritten.
    public static func numPyArchive(_ input: inout FuzzedBytes) -> [UInt8] {
        let members = (0..<Int(input.byte() % 4)).map { index in
            (name: input.byte() % 8 == 0 ? "x\(index)" : "a\(index).npy", contents: numPy(&input))
        }
        var bytes = NumPyArchive.encode(members: members)
        // Fields of the local headers, central directory entries and end record, by offset from their signature.
        let fields: [(signature: [UInt8], offsets: [(Int, Int)])] = [
            ([0x50, 0x4B, 0x03, 0x04], [(4, 2), (6, 2), (8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)]),
            ([0x50, 0x4B, 0x01, 0x02], [(10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (42, 4)]),
            ([0x50, 0x4B, 0x05, 0x06], [(8, 2), (10, 2), (12, 4), (16, 4), (20, 2)]),
        ]
        for _ in 0..<Int(input.byte() % 4) {
            let (signature, offsets) = fields[input.index(below: fields.count)]
            let starts = bytes.indices.filter { bytes[$0...].starts(with: signature) }
            guard !starts.isEmpty else { continue }
            let start = starts[input.index(below: starts.count)]
            let (offset, size) = offsets[input.index(below: offsets.count)]
            // Deflate (8) as the method reads the stored bytes as a compressed stream.
            let value = input.byte() % 4 == 0 ? 8 : input.interestingInteger()
            for index in 0..<size where start + offset + index < bytes.count {
                bytes[start + offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
            }
        }
        return bytes
    }
}
