import Foundation
import KilnIR
import KilnImport

/// The model files under `Tests/KilnTests/Fixtures`.
enum ModelFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// Copies fixture `name` into `directory` (where tests put its weight files) and returns the copy.
    static func copy(_ name: String, to directory: URL) throws -> URL {
        let destination = directory.appendingPathComponent(name)
        try FileManager.default.copyItem(at: Self.directory.appendingPathComponent(name), to: destination)
        return destination
    }

    /// Random float32 weights for every parameter of `shapes`, keyed `LAYER.weight` / `LAYER.bias`.
    static func weights(_ shapes: [String: Shape], seed: UInt64) -> [String: TensorData] {
        var result: [String: TensorData] = [:]
        for (offset, (key, shape)) in shapes.sorted(by: { $0.key < $1.key }).enumerated() {
            let fanIn = shape.count > 1 ? shape.elementCount / shape[0] : shape.elementCount
            let limit = (3 / Float(fanIn)).squareRoot()
            result[key] = TensorData(
                uniformValues(shape.elementCount, in: -limit...limit, seed: seed + UInt64(offset)), shape: shape)
        }
        return result
    }

    static let mlpShapes: [String: Shape] = [
        "dense_0.weight": [32, 20], "dense_0.bias": [32], "dense_1.weight": [16, 32], "dense_1.bias": [16],
        "dense_2.weight": [4, 16], "dense_2.bias": [4],
    ]

    static let cnnShapes: [String: Shape] = [
        "conv2d_0.weight": [8, 3, 3, 2], "conv2d_0.bias": [8], "conv2d_1.weight": [16, 3, 3, 8], "conv2d_1.bias": [16],
        "dense_0.weight": [10, 16], "dense_0.bias": [10],
    ]
}

extension ModelFixtures {
    /// The files `BASE.KIND.npy`, or `BASE.KIND.0.npy`, `BASE.KIND.1.npy`, … for a model with several
    /// inputs or outputs (the fixture scripts' naming), in the model's order.
    static func arrayFiles(_ base: String, _ kind: String, in directory: URL) -> [URL] {
        let single = directory.appendingPathComponent("\(base).\(kind).npy")
        if FileManager.default.fileExists(atPath: single.path) { return [single] }
        var files: [URL] = []
        while case let file = directory.appendingPathComponent("\(base).\(kind).\(files.count).npy"),
            FileManager.default.fileExists(atPath: file.path)
        {
            files.append(file)
        }
        return files
    }

    /// The arrays of ``arrayFiles(_:_:in:)``.
    static func arrays(_ base: String, _ kind: String, in directory: URL) throws -> [TensorData] {
        try arrayFiles(base, kind, in: directory).map { try NumPyArray.read(contentsOf: $0) }
    }
}

extension Array where Element == [UInt8] {
    /// Runs `body` on one raw buffer per array, in order (copies, 64-byte aligned, freed after).
    func withUnsafeBufferPointers<Result>(_ body: (UnsafeBufferPointer<UnsafeRawBufferPointer>) throws -> Result) rethrows -> Result {
        let buffers = map { bytes in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 64)
            buffer.copyBytes(from: bytes)
            return UnsafeRawBufferPointer(buffer)
        }
        defer { buffers.forEach { $0.deallocate() } }
        return try buffers.withUnsafeBufferPointer(body)
    }
}
