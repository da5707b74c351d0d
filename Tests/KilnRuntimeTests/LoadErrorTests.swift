import Foundation
import Testing

@testable import KilnRuntime

@Suite("Errors loading artifacts")
struct LoadErrorTests {
    @Test(.enabled(if: HostCPU.features != nil))
    func missingCPUFeatureIsReportedNotExecuted() throws {
        let metadata = TestModels.double(requiredCPUFeatures: ["sse2", "kiln-imaginary-feature"])
        try withArtifact(metadata) { url in
            expectRuntimeError(
                containing: url.path, "kiln-imaginary-feature", "test-cpu", "recompile"
            ) {
                _ = try CompiledModel(contentsOf: url)
            }
        }
    }

    @Test func newerFormatVersionIsRejected() throws {
        try withArtifact(TestModels.double(formatVersion: 2)) { url in
            expectRuntimeError(containing: url.path, "format 2", "reads format 1", "recompile") {
                _ = try CompiledModel(contentsOf: url)
            }
        }
    }

    @Test(arguments: ["0.2.0", "1.1.0", "0.0.9", "garbage"])
    func incompatibleKilnVersionIsRejected(version: String) throws {
        try withArtifact(TestModels.double(kilnVersion: version)) { url in
            expectRuntimeError(
                containing: "compiled by Kiln \(version), this runtime is 0.1.0; recompile"
            ) {
                _ = try CompiledModel(contentsOf: url)
            }
        }
    }

    @Test func missingEntryPointIsReported() throws {
        try withArtifact(TestModels.double(entryPoint: "kiln_missing")) { url in
            expectRuntimeError(containing: url.path, "'kiln_missing'", "does not export") {
                _ = try CompiledModel(contentsOf: url)
            }
        }
    }

    @Test func libraryThatIsNotELFIsReported() throws {
        let garbage = [UInt8](repeating: 0x5A, count: 4096)
        try withArtifact(TestModels.double(), library: garbage) { url in
            expectRuntimeError(containing: "cannot load the code of '\(url.path)'") {
                _ = try CompiledModel(contentsOf: url)
            }
        }
    }

    @Test func missingFileIsReported() {
        let url = URL(fileURLWithPath: "/nonexistent/kiln/model.kiln")
        expectRuntimeError(containing: "/nonexistent/kiln/model.kiln: no such file") {
            _ = try CompiledModel(contentsOf: url)
        }
    }

    @Test func negativeDimensionIsReported() throws {
        var metadata = TestModels.double()
        metadata.inputs[0].shape = [1, -4]
        try withArtifact(metadata) { url in
            expectRuntimeError(containing: "input 'x'", "invalid shape") {
                _ = try CompiledModel(contentsOf: url)
            }
        }
    }

    @Test func truncatedArtifactDoesNotLoad() throws {
        let bytes = try ArtifactFile.encode(
            library: TestLibrary.load(), metadata: TestModels.double())
        for cut in [1, 7, 20, 32, 33, bytes.count / 2] {
            try withArtifactBytes(Array(bytes.dropLast(cut))) { url in
                expectRuntimeError(containing: url.path, "not a Kiln artifact") {
                    _ = try CompiledModel(contentsOf: url)
                }
            }
        }
    }

    @Test func modifiedLibraryDoesNotLoad() throws {
        var bytes = try ArtifactFile.encode(
            library: TestLibrary.load(), metadata: TestModels.double())
        bytes[100] ^= 0x01
        try withArtifactBytes(bytes) { url in
            expectRuntimeError(
                containing: "'\(url.path)' was modified after it was compiled (checksum mismatch);"
                    + " recompile it"
            ) {
                _ = try CompiledModel(contentsOf: url)
            }
        }
    }
}
