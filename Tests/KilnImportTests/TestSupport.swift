import Foundation
import KilnIR
import Testing

@testable import KilnImport

/// Files in the Fixtures directory, made by `Fixtures/make_fixtures.py`.
enum Fixture {
    static func url(_ name: String) throws -> URL {
        let directory = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return directory.appendingPathComponent(name)
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url(name)))
    }

    /// The values `make_fixtures.py` saves, by the key its archives use.
    static let weight = TensorData([-1, -0.5, 0, 0.5, 1, 1.5], shape: [2, 3])
    static let bias = TensorData(float16: [0.5, -2, 65504, 0.0009765625], shape: [4])
    static let q = TensorData(int8: [-128, -1, 0, 1, 127], shape: [5])
    static let idx = TensorData(int32: [Int32.min, -1, 0, Int32.max], shape: [2, 2])
    static let scalar = TensorData([3.25], shape: [])
    static let ramp = TensorData((0..<512).map { Float($0 % 37 - 18) * 0.25 }, shape: [512])
    static let counts = TensorData(int32: (0..<300).map { Int32($0 * 7 - 1000) }, shape: [300])
}

/// A fresh, empty directory for files a test writes.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
        "KilnImportTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Checks `actual` against `expected`: dtype, shape, then every element.
func expectTensor(
    _ actual: TensorData, equals expected: TensorData,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    #expect(actual.dtype == expected.dtype, sourceLocation: sourceLocation)
    #expect(actual.shape == expected.shape, sourceLocation: sourceLocation)
    guard actual.dtype == expected.dtype, actual.elementCount == expected.elementCount else {
        return
    }
    switch expected.dtype {
    case .int8:
        for (index, (got, want)) in zip(actual.int8s(), expected.int8s()).enumerated() {
            #expect(got == want, "element \(index)", sourceLocation: sourceLocation)
        }
    case .int32:
        for (index, (got, want)) in zip(actual.int32s(), expected.int32s()).enumerated() {
            #expect(got == want, "element \(index)", sourceLocation: sourceLocation)
        }
    case .float32, .float16:
        for (index, (got, want)) in zip(actual.floats(), expected.floats()).enumerated() {
            #expect(
                got.bitPattern == want.bitPattern, "element \(index): \(got) vs \(want)",
                sourceLocation: sourceLocation)
        }
    }
    #expect(actual.bytes == expected.bytes, sourceLocation: sourceLocation)
}

/// Runs `body`, which must fail with a ``WeightFileError`` whose message contains every fragment.
func expectFailure(
    containing fragments: String..., sourceLocation: Testing.SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
    } catch let error as WeightFileError {
        for fragment in fragments {
            #expect(
                error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation
            )
        }
    } catch {
        Issue.record("expected a WeightFileError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// The bytes of a `.npy` file with a hand-written header, padded the way NumPy pads.
func npyBytes(header: String, payload: [UInt8], major: UInt8 = 1) -> [UInt8] {
    var text = Array(header.utf8)
    let prefix = major == 1 ? 10 : 12
    while (prefix + text.count + 1) % 64 != 0 { text.append(0x20) }
    text.append(0x0A)
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
    if major == 1 {
        bytes.appendLittleEndian(UInt16(text.count))
    } else {
        bytes.appendLittleEndian(UInt32(text.count))
    }
    return bytes + text + payload
}

/// The bytes of a `.safetensors` file with a hand-written JSON header.
func safetensorsBytes(header: String, data: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.appendLittleEndian(UInt64(header.utf8.count))
    return bytes + Array(header.utf8) + data
}

/// Every tensor of every format used by the round-trip tests.
let sampleTensors: [String: TensorData] = [
    "conv1.weight": TensorData((0..<24).map { Float($0) * 0.125 - 1 }, shape: [2, 3, 2, 2]),
    "conv1.bias": TensorData(float16: [1, -0.25, 1024], shape: [3]),
    "embedding.q": TensorData(int8: [-128, 0, 127, 5, -5, 1], shape: [3, 2]),
    "positions": TensorData(int32: [Int32.min, 0, Int32.max], shape: [3]),
    "scale": TensorData([0.5], shape: []),
    "empty": TensorData([], shape: [0, 4]),
]

/// `seconds`, stretched tenfold in a sanitized build: the limits catch runaway
/// (quadratic, looping) work, not ordinary slowness, and sanitizers slow everything.
func crawlLimit(_ seconds: Int) -> Duration {
    // The sanitizer runtimes export these entry points; an unsanitized process has neither.
    let process = dlopen(nil, RTLD_LAZY)
    let sanitized = dlsym(process, "__asan_init") != nil || dlsym(process, "__ubsan_handle_add_overflow") != nil
    return .seconds(sanitized ? 10 * seconds : seconds)
}
