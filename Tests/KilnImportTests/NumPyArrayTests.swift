import Foundation
import KilnIR
import Testing

@testable import KilnImport

@Suite struct NumPyArrayTests {
    static let fixtures: [(file: String, expected: TensorData)] = [
        ("f32_2x3.npy", Fixture.weight),
        ("f16_4.npy", Fixture.bias),
        ("i8_5.npy", Fixture.q),
        ("i32_2x2.npy", Fixture.idx),
        ("f32_scalar.npy", Fixture.scalar),
        ("f32_0x3.npy", TensorData([], shape: [0, 3])),
        ("f32_2x3_v2.npy", Fixture.weight),
        ("f32_2x3_v3.npy", Fixture.weight),
    ]

    @Test(arguments: fixtures)
    func readsFilesWrittenByNumPy(file: String, expected: TensorData) throws {
        expectTensor(try NumPyArray.read(contentsOf: Fixture.url(file)), equals: expected)
    }

    @Test func scalarHasEmptyShape() throws {
        let scalar = try NumPyArray.read(contentsOf: Fixture.url("f32_scalar.npy"))
        #expect(scalar.shape.rank == 0)
        #expect(scalar.floats() == [3.25])
    }

    @Test(arguments: [
        "f32_2x3.npy", "f16_4.npy", "i8_5.npy", "i32_2x2.npy", "f32_scalar.npy", "f32_0x3.npy",
    ])
    func encodesByteForByteLikeNumPy(file: String) throws {
        let bytes = try Fixture.bytes(file)
        #expect(NumPyArray.encode(try NumPyArray.decode(bytes, source: file)) == bytes)
    }

    @Test(arguments: Array(sampleTensors.values))
    func roundTripsThroughAFile(tensor: TensorData) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("tensor.npy")
        try NumPyArray.write(tensor, to: url)
        expectTensor(try NumPyArray.read(contentsOf: url), equals: tensor)
    }

    @Test func usesVersionTwoWhenTheHeaderOutgrowsVersionOne() throws {
        let tensor = TensorData([7], shape: Shape([Int](repeating: 1, count: 30_000)))
        let bytes = NumPyArray.encode(tensor)
        #expect(bytes[6] == 2)
        expectTensor(try NumPyArray.decode(bytes, source: "big-rank.npy"), equals: tensor)
    }

    @Test func acceptsOtherSpellingsOfTheHeader() throws {
        let payload: [UInt8] = [1, 2, 3]
        for header in [
            "{'descr': '<i1', 'fortran_order': False, 'shape': (3,), }",
            "{\"descr\": \"i1\", \"fortran_order\": False, \"shape\": (3L,)}",
            "{ 'shape' : [3] , 'descr' : '|i1' , 'fortran_order' : False }",
        ] {
            let tensor = try NumPyArray.decode(
                npyBytes(header: header, payload: payload), source: "a.npy")
            #expect(tensor.int8s() == [1, 2, 3])
        }
    }

    @Test func rejectsUnsupportedDTypesNamingTheFile() throws {
        expectFailure(
            containing: "f64_2.npy", "unsupported dtype '<f8'", "'<f4' (float32)", "astype"
        ) {
            _ = try NumPyArray.read(contentsOf: Fixture.url("f64_2.npy"))
        }
        expectFailure(containing: "f32_big_endian.npy", "big-endian dtype '>f4'") {
            _ = try NumPyArray.read(contentsOf: Fixture.url("f32_big_endian.npy"))
        }
        expectFailure(containing: "object.npy", "object arrays", "'|O'") {
            _ = try NumPyArray.read(contentsOf: Fixture.url("object.npy"))
        }
        expectFailure(containing: "f32_fortran.npy", "Fortran", "ascontiguousarray") {
            _ = try NumPyArray.read(contentsOf: Fixture.url("f32_fortran.npy"))
        }
        expectFailure(containing: "rec.npy", "structured") {
            let header = "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"
            _ = try NumPyArray.decode(
                npyBytes(header: header, payload: [0, 0, 0, 0]), source: "rec.npy")
        }
    }

    @Test func rejectsMalformedHeaders() {
        let cases: [(header: String, fragment: String)] = [
            ("{'descr': '<f4', 'fortran_order': False}", "no 'shape'"),
            ("{'fortran_order': False, 'shape': (1,)}", "no 'descr'"),
            ("{'descr': '<f4', 'shape': (1,)}", "no 'fortran_order'"),
            ("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", "not True or False"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "'shape'"),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
                "unexpected key 'extra'"
            ),
            (
                "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
                "repeats the key 'descr'"
            ),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "not a valid dictionary"),
            ("['descr', '<f4']", "not a dictionary"),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
                "integer too large"
            ),
            (String(repeating: "(", count: 5000), "nested too deeply"),
        ]
        for (header, fragment) in cases {
            expectFailure(containing: "bad.npy", fragment) {
                _ = try NumPyArray.decode(
                    npyBytes(header: header, payload: [0, 0, 0, 0]), source: "bad.npy")
            }
        }
    }

    @Test func rejectsShapesTooLargeToAddress() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 2), }"
        expectFailure(containing: "huge.npy", "too large") {
            _ = try NumPyArray.decode(npyBytes(header: header, payload: []), source: "huge.npy")
        }
    }

    @Test func checksThePayloadSizeAgainstTheShape() throws {
        let bytes = try Fixture.bytes("f32_2x3.npy")
        expectFailure(containing: "short.npy", "truncated", "needs 24 bytes but only 20") {
            _ = try NumPyArray.decode(Array(bytes.dropLast(4)), source: "short.npy")
        }
        expectFailure(containing: "long.npy", "1 unexpected bytes") {
            _ = try NumPyArray.decode(bytes + [0], source: "long.npy")
        }
    }

    @Test func rejectsOtherFilesAndVersions() throws {
        expectFailure(containing: "notes.txt", "not a NumPy .npy file") {
            _ = try NumPyArray.decode(Array("hello, world".utf8), source: "notes.txt")
        }
        var bytes = try Fixture.bytes("f32_2x3.npy")
        bytes[6] = 4
        expectFailure(containing: "future.npy", "version 4.0", "1.0, 2.0 and 3.0") {
            _ = try NumPyArray.decode(bytes, source: "future.npy")
        }
    }

    @Test func reportsAMissingFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("absent.npy")
        expectFailure(containing: "absent.npy: no such file") {
            _ = try NumPyArray.read(contentsOf: url)
        }
    }
}
