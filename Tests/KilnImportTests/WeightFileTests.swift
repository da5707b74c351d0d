import Foundation
import KilnIR
import Testing

@testable import KilnImport

@Suite struct WeightFileTests {
    @Test func mapsPathExtensionsToFormats() {
        #expect(WeightFile.format(forPathExtension: "safetensors") == .safetensors)
        #expect(WeightFile.format(forPathExtension: "SafeTensors") == .safetensors)
        #expect(WeightFile.format(forPathExtension: "npz") == .npz)
        #expect(WeightFile.format(forPathExtension: "npy") == nil)
        #expect(WeightFile.format(forPathExtension: "") == nil)
        #expect(WeightFile.format(forPathExtension: "onnx") == nil)
    }

    /// Writes `sampleTensors` in `format` into `directory` and returns where.
    private func writeSamples(as format: WeightFileFormat, in directory: URL) throws -> URL {
        switch format {
        case .safetensors:
            let url = directory.appendingPathComponent("weights.safetensors")
            try SafeTensors.write(sampleTensors, to: url)
            return url
        case .npz:
            let url = directory.appendingPathComponent("weights.npz")
            try NumPyArchive.write(sampleTensors, to: url)
            return url
        case .npyDirectory:
            for (key, tensor) in sampleTensors {
                try NumPyArray.write(tensor, to: directory.appendingPathComponent(key + ".npy"))
            }
            // Not an array: must not become a key.
            try Data("notes".utf8).write(to: directory.appendingPathComponent("README.txt"))
            return directory
        }
    }

    @Test(arguments: [WeightFileFormat.safetensors, .npz, .npyDirectory])
    func readsEveryFormatThroughOneFrontDoor(format: WeightFileFormat) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let weights = try WeightFile(
            contentsOf: writeSamples(as: format, in: directory), format: format)
        #expect(weights.format == format)
        #expect(weights.keys == sampleTensors.keys.sorted())
        for (key, tensor) in sampleTensors {
            expectTensor(try weights.tensor(key), equals: tensor)
        }
    }

    @Test(arguments: [WeightFileFormat.safetensors, .npz, .npyDirectory])
    func reportsAMissingKeyWithAFewKeysThatExist(format: WeightFileFormat) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try writeSamples(as: format, in: directory)
        let weights = try WeightFile(contentsOf: url, format: format)
        expectFailure(
            containing: url.lastPathComponent, "no tensor named 'conv2.weight'", "'conv1.bias'",
            "(6 in all)"
        ) {
            _ = try weights.tensor("conv2.weight")
        }
    }

    /// A misspelled key is answered with the nearest keys first, even when they sort last among many.
    @Test func suggestsTheNearestKeysToAMisspelledOne() {
        let keys = (0..<20).map { "block_\($0).weight" } + ["zz_classifier.weight", "zz_classifier.bias"]
        let error = WeightFileError.missingKey("zz_clasifier.weight", in: "w.safetensors", available: keys)
        #expect(error.message.contains("did you mean 'zz_classifier.weight'? available keys: 'zz_classifier.weight', 'zz_classifier.bias', 'block_0.weight'"), "\(error.message)")
        #expect(error.message.hasSuffix("… (22 in all)"))
        let unrelated = WeightFileError.missingKey("embedding", in: "w.safetensors", available: keys)
        #expect(!unrelated.message.contains("did you mean"), "\(unrelated.message)")
        #expect(WeightFileError.editDistance("kitten", "sitting") == 3)
    }

    @Test func readsNumPyFixturesAsADirectory() throws {
        let weights = try WeightFile(contentsOf: Fixture.url(""), format: .npyDirectory)
        #expect(weights.keys.contains("f32_2x3"))
        expectTensor(try weights.tensor("i8_5"), equals: Fixture.q)
        expectFailure(containing: "f64_2.npy", "'<f8'") { _ = try weights.tensor("f64_2") }
    }

    @Test func reportsMissingFilesAndDirectories() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        expectFailure(containing: "absent.safetensors: no such file") {
            _ = try WeightFile(
                contentsOf: directory.appendingPathComponent("absent.safetensors"),
                format: .safetensors)
        }
        expectFailure(containing: "absent.npz: no such file") {
            _ = try WeightFile(
                contentsOf: directory.appendingPathComponent("absent.npz"), format: .npz)
        }
        expectFailure(containing: "absent: no such directory") {
            _ = try WeightFile(
                contentsOf: directory.appendingPathComponent("absent"), format: .npyDirectory)
        }
    }

    @Test func rejectsAFileWhereADirectoryIsExpectedAndTheReverse() throws {
        let file = try Fixture.url("mixed.safetensors")
        expectFailure(containing: "mixed.safetensors", "is not a directory") {
            _ = try WeightFile(contentsOf: file, format: .npyDirectory)
        }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        expectFailure(containing: directory.lastPathComponent, "is a directory, not a file") {
            _ = try WeightFile(contentsOf: directory, format: .safetensors)
        }
    }

    @Test func describesItselfWithTheMessage() {
        let error = WeightFileError(message: "w.npz: no such file")
        #expect(error.description == "w.npz: no such file")
        #expect("\(error)" == "w.npz: no such file")
    }
}
