import Foundation
import Testing

@testable import KilnRuntime

@Suite("Artifact file format")
struct ArtifactFileTests {
    let library: [UInt8] = Array(0..<200).map { UInt8($0) }
    let metadata = TestModels.double()

    @Test func decodeReturnsWhatWasEncoded() throws {
        let bytes = try ArtifactFile.encode(library: library, metadata: metadata)
        let decoded = try ArtifactFile.decode(bytes, source: "test")
        #expect(decoded.libraryByteCount == library.count)
        #expect(decoded.metadata == metadata)
        #expect(Array(bytes.prefix(library.count)) == library)
    }

    /// An artifact holding several models (one library, an array of metadata) loads each by name.
    @Test func severalModelsShareOneArtifact() throws {
        let models = [TestModels.double(), TestModels.pair()]
        let bytes = try ArtifactFile.encode(library: TestLibrary.load(), models: models)
        #expect(try ArtifactFile.decode(bytes, source: "both").models == models)
        try withArtifactBytes(bytes) { url in
            #expect(try ArtifactFile.readModels(contentsOf: url) == models)
            let double = try CompiledModel(contentsOf: url, model: "double")
            #expect(try double.predict([1, 2, 3, 4]) == TestModels.expectedDouble([1, 2, 3, 4]))
            let pair = try CompiledModel(contentsOf: url, model: "pair")
            #expect(try pair.run(inputs: [[1, 2], [3, 4, 5]]) == [[15], [1, 2, 3]])
            expectRuntimeError(containing: "holds 2 models ('double', 'pair'); name the one to load with model:") {
                _ = try CompiledModel(contentsOf: url)
            }
            expectRuntimeError(containing: "holds no model named 'triple' but 'double', 'pair'") {
                _ = try CompiledModel(contentsOf: url, model: "triple")
            }
        }
    }

    @Test func trailerFollowsTheDocumentedLayout() throws {
        let bytes = try ArtifactFile.encode(library: library, metadata: metadata)
        func word(_ offset: Int) -> UInt64 {
            (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
        }
        let n = word(bytes.count - 32)
        let m = word(bytes.count - 24)
        #expect(Array(bytes.suffix(8)) == Array("KILNART1".utf8))
        #expect(n == UInt64(library.count))
        #expect(Int(n + m) + 32 == bytes.count)
        #expect(word(bytes.count - 16) == ArtifactChecksum.hash(Array(bytes.prefix(Int(n + m)))))
        let json = Data(bytes[Int(n)..<Int(n + m)])
        #expect(try JSONDecoder().decode(ArtifactMetadata.self, from: json) == metadata)
    }

    @Test func encodingIsDeterministic() throws {
        #expect(
            try ArtifactFile.encode(library: library, metadata: metadata)
                == ArtifactFile.encode(library: library, metadata: metadata))
    }

    @Test func writeThenReadMetadata() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("m.kiln")
        try ArtifactFile.write(library: library, metadata: metadata, to: url)
        #expect(try ArtifactFile.readMetadata(contentsOf: url) == metadata)
        var quantized = metadata
        quantized.inputs[0] = TensorSignature(
            name: "q", elementType: .int8, shape: [2, 8], scale: 0.5, zeroPoint: -3)
        try ArtifactFile.write(library: library, metadata: quantized, to: url)
        #expect(try ArtifactFile.readMetadata(contentsOf: url) == quantized)
    }

    /// The checksum fed in pieces (multiples of 32 bytes but the last) equals the one over all the
    /// bytes at once, at every length around the hasher's blocks and words.
    @Test(arguments: [0, 1, 7, 8, 31, 32, 33, 63, 64, 95, 1000, 4133])
    func checksumInPiecesEqualsTheWholeChecksum(count: Int) {
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        for pieceSize in [32, 64, 96, 4096] {
            var hasher = ArtifactChecksum.Hasher(count: count)
            bytes.withUnsafeBytes { whole in
                for start in stride(from: 0, to: count, by: pieceSize) {
                    hasher.update(UnsafeRawBufferPointer(rebasing: whole[start..<min(start + pieceSize, count)]))
                }
            }
            #expect(hasher.finish() == ArtifactChecksum.hash(bytes), "\(count) bytes in pieces of \(pieceSize)")
        }
    }

    /// A file read in pieces (a library of several MiB) gives its metadata, and a byte changed past
    /// the first piece or a cut file is still reported.
    @Test func largeArtifactFilesAreCheckedInPieces() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("large.kiln")
        let large = (0..<(3 << 20) + 77).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        try ArtifactFile.write(library: large, metadata: metadata, to: url)
        let contents = try ArtifactFile.readContents(contentsOf: url)
        #expect(contents.libraryByteCount == large.count && contents.metadata == metadata)
        var bytes = [UInt8](try Data(contentsOf: url))
        bytes[(2 << 20) + 5] ^= 1
        try Data(bytes).write(to: url)
        expectRuntimeError(containing: "was modified after it was compiled (checksum mismatch)") {
            _ = try ArtifactFile.readContents(contentsOf: url)
        }
        try Data(bytes.prefix(1 << 20)).write(to: url)
        expectRuntimeError(containing: "is not a Kiln artifact") { _ = try ArtifactFile.readContents(contentsOf: url) }
    }

    @Test func truncationIsDetectedAtEveryLength() throws {
        let bytes = try ArtifactFile.encode(library: library, metadata: metadata)
        for length in [0, 1, 8, 31, 32, library.count, bytes.count - 33, bytes.count - 32]
            + Array((bytes.count - 31)..<bytes.count)
        {
            expectRuntimeError(containing: "'cut' is not a Kiln artifact") {
                _ = try ArtifactFile.decode(Array(bytes.prefix(length)), source: "cut")
            }
        }
    }

    @Test func inconsistentSizesAreReportedAsTruncation() throws {
        var bytes = try ArtifactFile.encode(library: library, metadata: metadata)
        bytes[bytes.count - 32] &+= 1
        expectRuntimeError(containing: "'f' is truncated or damaged") {
            _ = try ArtifactFile.decode(bytes, source: "f")
        }
        bytes[bytes.count - 25] = 0xFF
        expectRuntimeError(containing: "'f' is truncated or damaged") {
            _ = try ArtifactFile.decode(bytes, source: "f")
        }
    }

    @Test(arguments: [0, 99, 199, 200, 250])
    func anyModifiedByteIsDetected(offset: Int) throws {
        var bytes = try ArtifactFile.encode(library: library, metadata: metadata)
        bytes[offset] ^= 0x40
        expectRuntimeError(
            containing: "'f' was modified after it was compiled (checksum mismatch); recompile it"
        ) {
            _ = try ArtifactFile.decode(bytes, source: "f")
        }
    }

    @Test func wrongMagicIsNotAnArtifact() throws {
        var bytes = try ArtifactFile.encode(library: library, metadata: metadata)
        bytes[bytes.count - 1] = UInt8(ascii: "2")
        expectRuntimeError(containing: "'f' is not a Kiln artifact") {
            _ = try ArtifactFile.decode(bytes, source: "f")
        }
        expectRuntimeError(containing: "'g' is not a Kiln artifact") {
            _ = try ArtifactFile.decode(library, source: "g")
        }
    }

    @Test func unreadableMetadataFromANewerFormatNamesTheVersions() {
        let json = Array(#"{"formatVersion": 7, "kilnVersion": "3.0.0", "tensors": []}"#.utf8)
        expectRuntimeError(containing: "format 7", "Kiln 3.0.0", "reads format 1", "recompile") {
            _ = try ArtifactFile.decode(handMade(library: library, json: json), source: "f")
        }
    }

    @Test func unreadableMetadataIsReported() {
        let json = Array(#"{"formatVersion": 1}"#.utf8)
        expectRuntimeError(containing: "'f' has metadata this runtime cannot read") {
            _ = try ArtifactFile.decode(handMade(library: library, json: json), source: "f")
        }
    }

    /// An artifact assembled by hand, with a valid trailer, around arbitrary metadata bytes.
    private func handMade(library: [UInt8], json: [UInt8]) -> [UInt8] {
        var bytes = library + json
        let checksum = ArtifactChecksum.hash(bytes)
        for value in [UInt64(library.count), UInt64(json.count), checksum] {
            bytes += (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        }
        return bytes + Array("KILNART1".utf8)
    }
}
