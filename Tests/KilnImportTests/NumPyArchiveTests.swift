import Foundation
import KilnIR
import Testing

@testable import KilnImport

@Suite struct NumPyArchiveTests {
    @Test func readsAnArchiveWrittenBySavez() throws {
        let archive = try NumPyArchive(contentsOf: Fixture.url("savez.npz"))
        #expect(archive.keys == ["bias", "idx", "q", "weight"])
        expectTensor(try archive.tensor("weight"), equals: Fixture.weight)
        expectTensor(try archive.tensor("bias"), equals: Fixture.bias)
        expectTensor(try archive.tensor("q"), equals: Fixture.q)
        expectTensor(try archive.tensor("idx"), equals: Fixture.idx)
    }

    @Test func readsAnArchiveWrittenBySavezCompressed() throws {
        let archive = try NumPyArchive(contentsOf: Fixture.url("savez_compressed.npz"))
        #expect(archive.keys == ["bias", "counts", "idx", "q", "ramp", "weight"])
        expectTensor(try archive.tensor("weight"), equals: Fixture.weight)
        expectTensor(try archive.tensor("bias"), equals: Fixture.bias)
        expectTensor(try archive.tensor("q"), equals: Fixture.q)
        expectTensor(try archive.tensor("idx"), equals: Fixture.idx)
        expectTensor(try archive.tensor("ramp"), equals: Fixture.ramp)
        expectTensor(try archive.tensor("counts"), equals: Fixture.counts)
    }

    @Test func readsDeflateStoredBlocks() throws {
        let archive = try NumPyArchive(contentsOf: Fixture.url("deflate_stored_blocks.npz"))
        #expect(archive.keys == ["weight"])
        expectTensor(try archive.tensor("weight"), equals: Fixture.weight)
    }

    @Test func roundTripsEveryDType() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("weights.npz")
        try NumPyArchive.write(sampleTensors, to: url)
        let archive = try NumPyArchive(contentsOf: url)
        #expect(archive.keys == sampleTensors.keys.sorted())
        for (key, tensor) in sampleTensors {
            expectTensor(try archive.tensor(key), equals: tensor)
        }
    }

    @Test func roundTripsAnEmptyArchive() throws {
        #expect(try NumPyArchive(bytes: NumPyArchive.encode([:]), source: "empty.npz").keys.isEmpty)
    }

    @Test func encodesNonASCIINamesAsUTF8() throws {
        let tensors = ["größe": TensorData([1, 2], shape: [2])]
        let archive = try NumPyArchive(bytes: NumPyArchive.encode(tensors), source: "names.npz")
        #expect(archive.keys == ["größe"])
        expectTensor(try archive.tensor("größe"), equals: TensorData([1, 2], shape: [2]))
    }

    @Test func reportsAMissingKeyWithTheKeysThatExist() throws {
        let archive = try NumPyArchive(contentsOf: Fixture.url("savez.npz"))
        expectFailure(containing: "savez.npz", "no tensor named 'wieght'", "'weight'", "'bias'") {
            _ = try archive.tensor("wieght")
        }
    }

    @Test func namesTheMemberWhenItsArrayIsUnsupported() throws {
        let bytes = ZipArchive.encode([
            (name: "double.npy", contents: try Fixture.bytes("f64_2.npy"))
        ])
        let archive = try NumPyArchive(bytes: bytes, source: "model.npz")
        expectFailure(containing: "model.npz member 'double.npy'", "'<f8'") {
            _ = try archive.tensor("double")
        }
    }

    @Test func detectsCorruptedMemberData() throws {
        var bytes = NumPyArchive.encode(["w": TensorData([1, 2, 3], shape: [3])])
        // Past the 30-byte local header, the name "w.npy" and the 128-byte .npy header: the first element.
        bytes[30 + 5 + 128] ^= 0x40
        let archive = try NumPyArchive(bytes: bytes, source: "flipped.npz")
        expectFailure(containing: "flipped.npz", "member 'w.npy'", "CRC-32") {
            _ = try archive.tensor("w")
        }
    }

    @Test func rejectsUnsupportedCompressionAndZip64() throws {
        let bytes = NumPyArchive.encode(["w": TensorData([1], shape: [1])])
        let end = bytes.count - 22
        let directory = Int(bytes[end + 16]) | Int(bytes[end + 17]) << 8
        var bzip2 = bytes
        bzip2[directory + 10] = 12
        expectFailure(containing: "bzip2.npz", "member 'w.npy'", "compression method 12") {
            _ = try NumPyArchive(bytes: bzip2, source: "bzip2.npz")
        }
        var zip64 = bytes
        for offset in (end + 16)..<(end + 20) { zip64[offset] = 0xFF }
        expectFailure(containing: "big.npz", "zip64") {
            _ = try NumPyArchive(bytes: zip64, source: "big.npz")
        }
        var encrypted = bytes
        encrypted[directory + 8] |= 1
        expectFailure(containing: "secret.npz", "encrypted") {
            _ = try NumPyArchive(bytes: encrypted, source: "secret.npz")
        }
    }

    @Test func rejectsFilesThatAreNotZipArchives() throws {
        expectFailure(containing: "weights.npz", "too short") {
            _ = try NumPyArchive(bytes: [1, 2, 3], source: "weights.npz")
        }
        expectFailure(containing: "f32_2x3.npy", "no zip end-of-central-directory record") {
            _ = try NumPyArchive(bytes: Fixture.bytes("f32_2x3.npy"), source: "f32_2x3.npy")
        }
    }

    @Test func reportsAMissingFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("absent.npz")
        expectFailure(containing: "absent.npz: no such file") {
            _ = try NumPyArchive(contentsOf: url)
        }
    }
}
