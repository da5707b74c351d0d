import Foundation
import KilnIR
import Testing

@testable import KilnImport

/// Hostile and damaged input: every reader must throw, never crash.
@Suite struct MalformedInputTests {
    /// Reads everything in `bytes` as `file`'s format, tensors included.
    static func readAll(_ bytes: [UInt8], as file: String) throws {
        if file.hasSuffix(".npy") {
            _ = try NumPyArray.decode(bytes, source: file)
        } else if file.hasSuffix(".npz") {
            let archive = try NumPyArchive(bytes: bytes, source: file)
            for key in archive.keys { _ = try archive.tensor(key) }
        } else {
            let safetensors = try SafeTensors(bytes: bytes, source: file)
            // BF16 is unsupported by design; every other tensor must read.
            for key in safetensors.keys where key != "bf16" { _ = try safetensors.tensor(key) }
        }
    }

    static let readableFixtures = [
        "f32_2x3.npy", "f16_4.npy", "i8_5.npy", "i32_2x2.npy", "f32_scalar.npy", "f32_0x3.npy",
        "f32_2x3_v2.npy",
        "f32_2x3_v3.npy", "savez.npz", "savez_compressed.npz", "deflate_stored_blocks.npz",
        "mixed.safetensors",
    ]

    @Test(arguments: readableFixtures)
    func fixturesReadWhole(file: String) throws {
        try Self.readAll(Fixture.bytes(file), as: file)
    }

    @Test(arguments: readableFixtures)
    func everyTruncationThrowsNamingTheFile(file: String) throws {
        let bytes = try Fixture.bytes(file)
        for length in 0..<bytes.count {
            expectFailure(containing: file) { try Self.readAll(Array(bytes[0..<length]), as: file) }
        }
    }

    @Test(arguments: readableFixtures)
    func flippedBytesNeverCrash(file: String) throws {
        let bytes = try Fixture.bytes(file)
        var failures = 0
        for offset in 0..<bytes.count {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var damaged = bytes
                damaged[offset] ^= mask
                do {
                    try Self.readAll(damaged, as: file)
                } catch let error as WeightFileError {
                    #expect(error.message.hasPrefix(file))
                    failures += 1
                }
            }
        }
        #expect(failures > 0)
    }

    @Test func flippedSignaturesThrow() throws {
        var npy = try Fixture.bytes("f32_2x3.npy")
        npy[1] ^= 0xFF
        expectFailure(containing: "f32_2x3.npy", "not a NumPy") {
            _ = try NumPyArray.decode(npy, source: "f32_2x3.npy")
        }

        var safetensors = try Fixture.bytes("mixed.safetensors")
        safetensors[8] = UInt8(ascii: "[")
        expectFailure(containing: "mixed.safetensors", "not valid JSON") {
            _ = try SafeTensors(bytes: safetensors, source: "mixed.safetensors")
        }

        var npz = try Fixture.bytes("savez.npz")
        npz[npz.count - 22] ^= 0xFF
        expectFailure(containing: "savez.npz", "end-of-central-directory") {
            _ = try NumPyArchive(bytes: npz, source: "savez.npz")
        }
    }

    @Test func storedMembersDetectEveryFlippedDataByte() throws {
        // CRC-32 catches every single-byte change, so no damaged member may decode.
        let bytes = NumPyArchive.encode(["w": Fixture.weight])
        let dataStart = 30 + "w.npy".utf8.count
        let dataEnd = dataStart + NumPyArray.encode(Fixture.weight).count
        for offset in dataStart..<dataEnd {
            var damaged = bytes
            damaged[offset] ^= 0x10
            expectFailure(containing: "w.npz", "CRC-32") {
                _ = try NumPyArchive(bytes: damaged, source: "w.npz").tensor("w")
            }
        }
    }

    @Test func randomBytesNeverCrash() {
        var state: UInt64 = 0x1234_5678
        func next() -> UInt64 {
            // xorshift64: deterministic, so a failure reproduces.
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        for trial in 0..<300 {
            let count = Int(next() % 300)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
            // Give each reader a valid start now and then so the fuzzing reaches past the first check.
            if trial % 3 == 0, count >= 10 {
                bytes.replaceSubrange(0..<8, with: [0x93] + Array("NUMPY".utf8) + [1, 0])
            }
            if trial % 3 == 1, count >= 8 {
                bytes.replaceSubrange(
                    0..<8, with: [UInt8(truncatingIfNeeded: count - 8), 0, 0, 0, 0, 0, 0, 0])
            }
            _ = try? NumPyArray.decode(bytes, source: "random")
            _ = try? SafeTensors(bytes: bytes, source: "random")
            _ = try? NumPyArchive(bytes: bytes, source: "random")
            _ = try? Inflate.decompress(bytes[...], limit: 4096)
        }
    }
}
