import Foundation
import Testing

@testable import KilnRuntime

/// A shared library with hand-written entry points, compiled once per test run with clang.
enum TestLibrary {
    /// The C source. The arena is read back after being written so the
    /// result proves it is writable, at least 64 bytes and 64-byte aligned.
    static let source = """
        /* y[i] = 2 x[i] + (x[3 - i] + 1), the second term staged at the end of the arena. */
        void kiln_run(void *arena, const void *const *inputs, void *const *outputs) {
            const float *x = (const float *)inputs[0];
            float *y = (float *)outputs[0];
            volatile float *scratch = (volatile float *)((char *)arena + 48);
            int misaligned = ((unsigned long)arena & 63) != 0;
            for (int i = 0; i < 4; i++) scratch[i] = x[i] + 1.0f;
            for (int i = 0; i < 4; i++) y[i] = misaligned ? -1.0f : 2.0f * x[i] + scratch[3 - i];
        }

        /* a: [2], b: [3] -> total: [1] = sum of a and b, scaled: [3] = b * a[0] - a[1]. */
        void kiln_run_pair(void *arena, const void *const *inputs, void *const *outputs) {
            const float *a = (const float *)inputs[0];
            const float *b = (const float *)inputs[1];
            float *total = (float *)outputs[0];
            float *scaled = (float *)outputs[1];
            volatile float *sum = (volatile float *)arena;
            *sum = a[0] + a[1];
            for (int i = 0; i < 3; i++) *sum = *sum + b[i];
            total[0] = *sum;
            for (int i = 0; i < 3; i++) scaled[i] = b[i] * a[0] - a[1];
        }
        """

    /// The compiled library's bytes, or why clang could not produce them.
    static let bytes: Result<[UInt8], TestFailure> = compile()

    /// The library bytes, failing the calling test if they could not be built.
    static func load() throws -> [UInt8] {
        try bytes.get()
    }

    private static func compile() -> Result<[UInt8], TestFailure> {
        do {
            let directory = try TemporaryDirectory.make()
            let sourceURL = directory.appendingPathComponent("models.c")
            let libraryURL = directory.appendingPathComponent("models.so")
            defer { try? FileManager.default.removeItem(at: directory) }
            try source.write(to: sourceURL, atomically: true, encoding: .utf8)
            let process = Process()
            let toolchainClang = "/opt/swift/usr/bin/clang"
            if FileManager.default.isExecutableFile(atPath: toolchainClang) {
                process.executableURL = URL(fileURLWithPath: toolchainClang)
                process.arguments = []
            } else {
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["clang"]
            }
            process.arguments? += [
                "-shared", "-fPIC", "-O2", "-nostdlib", "-o", libraryURL.path, sourceURL.path,
            ]
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                return .failure(
                    TestFailure("clang exited with status \(process.terminationStatus)"))
            }
            return .success(try [UInt8](Data(contentsOf: libraryURL)))
        } catch {
            return .failure(TestFailure("cannot compile the test library: \(error)"))
        }
    }
}

/// A failure in test setup, as opposed to in the code under test.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Fresh directories under the system temporary directory.
enum TemporaryDirectory {
    static func make() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("kiln-runtime-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Metadata for the test library's entry points.
enum TestModels {
    /// `kiln_run`: float32 x [1, 4] -> float32 y [1, 4], 64-byte arena.
    static func double(
        formatVersion: Int = ArtifactMetadata.currentFormatVersion,
        kilnVersion: String = KilnVersion.current,
        entryPoint: String = "kiln_run",
        inputType: ElementType = .float32,
        requiredCPUFeatures: [String] = []
    ) -> ArtifactMetadata {
        let inputShape = [1, 4 * 4 / inputType.byteSize]
        return ArtifactMetadata(
            formatVersion: formatVersion,
            kilnVersion: kilnVersion,
            modelName: "double",
            entryPoint: entryPoint,
            inputs: [TensorSignature(name: "x", elementType: inputType, shape: inputShape)],
            outputs: [TensorSignature(name: "y", elementType: .float32, shape: [1, 4])],
            arenaByteCount: 64,
            requiredCPUFeatures: requiredCPUFeatures,
            targetTriple: "x86_64-unknown-linux-gnu",
            targetCPU: "test-cpu",
            weightByteCount: 0)
    }

    /// `kiln_run_pair`: a [2], b [3] -> total [1], scaled [3].
    static func pair() -> ArtifactMetadata {
        ArtifactMetadata(
            modelName: "pair",
            entryPoint: "kiln_run_pair",
            inputs: [
                TensorSignature(name: "a", elementType: .float32, shape: [2]),
                TensorSignature(name: "b", elementType: .float32, shape: [3]),
            ],
            outputs: [
                TensorSignature(name: "total", elementType: .float32, shape: [1]),
                TensorSignature(name: "scaled", elementType: .float32, shape: [3]),
            ],
            arenaByteCount: 4,
            requiredCPUFeatures: [],
            targetTriple: "x86_64-unknown-linux-gnu",
            targetCPU: "test-cpu",
            weightByteCount: 0)
    }

    /// What `kiln_run` computes.
    static func expectedDouble(_ x: [Float]) -> [Float] {
        (0..<4).map { 2 * x[$0] + (x[3 - $0] + 1) }
    }
}

/// Writes an artifact to its own fresh path (glibc caches loaded libraries by
/// path and inode), runs `body` with it and deletes it afterwards.
func withArtifact<T>(
    _ metadata: ArtifactMetadata, library: [UInt8]? = nil, _ body: (URL) throws -> T
) throws -> T {
    let bytes = try ArtifactFile.encode(library: library ?? TestLibrary.load(), metadata: metadata)
    return try withArtifactBytes(bytes, body)
}

/// Writes raw artifact bytes to a fresh path, runs `body` with it and deletes it afterwards.
func withArtifactBytes<T>(_ bytes: [UInt8], _ body: (URL) throws -> T) throws -> T {
    let directory = try TemporaryDirectory.make()
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("model.kiln")
    try Data(bytes).write(to: url)
    return try body(url)
}

/// Loads the artifact, runs `body` with the model and deletes the file afterwards.
func withModel<T>(_ metadata: ArtifactMetadata, _ body: (CompiledModel) throws -> T) throws -> T {
    try withArtifact(metadata) { url in try body(CompiledModel(contentsOf: url)) }
}

/// Expects `body` to throw a `RuntimeError` whose message contains every fragment.
func expectRuntimeError(
    containing fragments: String...,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record(
            "expected a RuntimeError, but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as RuntimeError {
        for fragment in fragments {
            #expect(
                error.message.contains(fragment),
                "message lacks \"\(fragment)\": \(error.message)",
                sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected a RuntimeError, got \(error)", sourceLocation: sourceLocation)
    }
}
