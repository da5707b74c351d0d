import Foundation
import KilnIR
import Testing

@testable import KilnImport

@Suite struct SafeTensorsTests {
    @Test func readsAHandWrittenFile() throws {
        let file = try SafeTensors(contentsOf: Fixture.url("mixed.safetensors"))
        #expect(file.keys == ["bf16", "bias", "idx", "q", "scalar", "weight"])
        #expect(file.metadata == ["format": "pt", "note": "h\u{e9}llo \"quoted\""])
        expectTensor(try file.tensor("weight"), equals: Fixture.weight)
        expectTensor(try file.tensor("bias"), equals: Fixture.bias)
        expectTensor(try file.tensor("q"), equals: Fixture.q)
        expectTensor(try file.tensor("idx"), equals: Fixture.idx)
        expectTensor(try file.tensor("scalar"), equals: Fixture.scalar)
    }

    @Test func rejectsUnsupportedDTypesNamingTheTensor() throws {
        let file = try SafeTensors(contentsOf: Fixture.url("mixed.safetensors"))
        expectFailure(
            containing: "mixed.safetensors", "tensor 'bf16'", "dtype BF16", "F32, F16, I8 and I32"
        ) {
            _ = try file.tensor("bf16")
        }
        let header =
            #"{"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"x":{"dtype":"Q7","shape":[],"data_offsets":[8,9]}}"#
        let other = try SafeTensors(
            bytes: safetensorsBytes(header: header, data: Array(repeating: 0, count: 9)),
            source: "f64.safetensors")
        #expect(other.keys == ["d", "x"])
        expectFailure(containing: "f64.safetensors", "tensor 'd'", "dtype F64") {
            _ = try other.tensor("d")
        }
        expectFailure(containing: "f64.safetensors", "tensor 'x'", "dtype Q7") {
            _ = try other.tensor("x")
        }
    }

    @Test func roundTripsEveryDTypeAndMetadata() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("model.safetensors")
        let metadata = ["format": "pt", "quote\"and\\slash": "line\nbreak\u{1}"]
        try SafeTensors.write(sampleTensors, metadata: metadata, to: url)
        let bytes = [UInt8](try Data(contentsOf: url))
        let headerLength = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect((8 + headerLength) % 8 == 0, "tensor data starts 8-byte aligned")
        guard case .object(let entries) = try JSONValue.parse(bytes[8..<(8 + headerLength)]) else {
            Issue.record("header is not an object")
            return
        }
        for (name, entry) in entries where name != "__metadata__" {
            guard case .object(let fields) = entry, let tensor = sampleTensors[name],
                case .array(let offsets)? = fields.first(where: { $0.key == "data_offsets" })?.value,
                case .integer(let begin)? = offsets.first
            else {
                Issue.record("entry \(name) is malformed")
                continue
            }
            #expect(
                begin % tensor.dtype.byteSize == 0, "\(name) starts aligned to its element size")
        }

        let file = try SafeTensors(contentsOf: url)
        #expect(file.keys == sampleTensors.keys.sorted())
        #expect(file.metadata == metadata)
        for (key, tensor) in sampleTensors {
            expectTensor(try file.tensor(key), equals: tensor)
        }
    }

    @Test func roundTripsAnEmptyFile() throws {
        let file = try SafeTensors(bytes: SafeTensors.encode([:]), source: "empty.safetensors")
        #expect(file.keys.isEmpty)
        #expect(file.metadata.isEmpty)
    }

    @Test func rejectsAHeaderLengthPastTheEnd() {
        var bytes = [UInt8](repeating: 0x20, count: 120)
        bytes.replaceSubrange(0..<8, with: [0x0F, 0x27, 0, 0, 0, 0, 0, 0])  // 9999
        expectFailure(
            containing:
                "weights.safetensors: header length 9999 exceeds the file size 120; the file is truncated or is not a safetensors file"
        ) {
            _ = try SafeTensors(bytes: bytes, source: "weights.safetensors")
        }
        expectFailure(containing: "tiny.safetensors", "too short") {
            _ = try SafeTensors(bytes: [1, 0, 0], source: "tiny.safetensors")
        }
        expectFailure(containing: "huge.safetensors", "header length 18446744073709551615") {
            _ = try SafeTensors(
                bytes: Array(repeating: 0xFF, count: 16), source: "huge.safetensors")
        }
    }

    @Test func rejectsMalformedHeaders() {
        let cases: [(header: String, fragment: String)] = [
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, "not valid JSON"),
            (#"{"a":1,"a":2}"#, "duplicate key"),
            (#"[1, 2]"#, "not a JSON object"),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} x"#, "not valid JSON"),
            (#"{"a":{"dtype":"F32","shape":[1]}}"#, "tensor 'a': the header gives no data_offsets"),
            (
                #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,400]}}"#,
                "reach past the end of the data (4 bytes)"
            ),
            (
                #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
                "hold 4 bytes but F32 shape [2] needs 8"
            ),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, "begin <= end"),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, "non-negative"),
            (#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, "non-negative integers"),
            (
                #"{"a":{"dtype":"F32","shape":[9223372036854775807,2],"data_offsets":[0,4]}}"#,
                "too large"
            ),
            (#"{"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}"#, "no dtype string"),
            (#"{"__metadata__":{"k":1}}"#, "__metadata__ entry 'k' is not a string"),
            (#"{"__metadata__":[]}"#, "__metadata__ is not an object"),
            (String(repeating: "[", count: 10_000), "nested too deeply"),
            (#"{"a\u00"}"#, "hex digits"),
            ("{\"a\": \"\u{1}\"}", "control character"),
        ]
        for (header, fragment) in cases {
            expectFailure(containing: "bad.safetensors", fragment) {
                _ = try SafeTensors(
                    bytes: safetensorsBytes(header: header, data: [0, 0, 0, 0]),
                    source: "bad.safetensors")
            }
        }
        expectFailure(containing: "bad.safetensors", "not valid UTF-8") {
            var bytes = safetensorsBytes(header: #"{"ab":{}}"#, data: [])
            bytes[10] = 0xFF
            _ = try SafeTensors(bytes: bytes, source: "bad.safetensors")
        }
    }

    /// The tensors must tile the data: overlaps, gaps and trailing bytes are corruption.
    @Test(arguments: [
        (#"{"a":{"dtype":"I8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"I8","shape":[2],"data_offsets":[2,4]}}"#,
         [UInt8](repeating: 0, count: 4), "tensor 'b': data_offsets [2, 4] overlap those of tensor 'a' [0, 4]"),
        (#"{"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}"#,
         [0, 0], "tensor 'b': data_offsets [0, 2] overlap those of tensor 'a' [0, 2]"),
        (#"{"a":{"dtype":"I8","shape":[2],"data_offsets":[2,4]}}"#, [0, 0, 0, 0],
         "bytes 0..<2 of the data belong to no tensor (before tensor 'a')"),
        (#"{"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}"#, [0, 0, 0, 0], "2 bytes follow the last tensor's data"),
        (#"{}"#, [7], "1 byte follows the last tensor's data"),
    ])
    func rejectsDataThatTheTensorsDoNotTile(header: String, data: [UInt8], fragment: String) {
        expectFailure(containing: "bad.safetensors", fragment) {
            _ = try SafeTensors(bytes: safetensorsBytes(header: header, data: data), source: "bad.safetensors")
        }
    }

    @Test func readsEscapesAndPaddingInTheHeader() throws {
        let header = #"{"w\u00e9\ud83d\ude00":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}   "#
        let file = try SafeTensors(
            bytes: safetensorsBytes(header: header, data: [1, 255]), source: "esc.safetensors")
        #expect(file.keys == ["w\u{e9}\u{1F600}"])
        #expect(try file.tensor("w\u{e9}\u{1F600}").int8s() == [1, -1])
    }

    @Test func reportsAMissingKeyWithTheKeysThatExist() throws {
        let file = try SafeTensors(contentsOf: Fixture.url("mixed.safetensors"))
        expectFailure(
            containing: "mixed.safetensors", "no tensor named 'nope'",
            "'bf16', 'bias', 'idx', 'q', 'scalar'", "(6 in all)"
        ) {
            _ = try file.tensor("nope")
        }
    }

    @Test func reportsAMissingFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("absent.safetensors")
        expectFailure(containing: "absent.safetensors: no such file") {
            _ = try SafeTensors(contentsOf: url)
        }
    }
}
