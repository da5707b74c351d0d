import Foundation

/// The held-out digits that `Training/train.py` saved as NumPy files.
struct TestSet {
    /// Images, 64 floats each.
    var images: [[Float]]
    /// The digit each image shows.
    var labels: [Int]

    /// Loads `Data/test-images.npy` and `Data/test-labels.npy` from the bundle.
    static func load() throws -> TestSet {
        let pixels: [Float] = try readArray("test-images").map { Float(bitPattern: $0) }
        let labels: [UInt32] = try readArray("test-labels")
        let images = stride(from: 0, to: pixels.count, by: 64).map { Array(pixels[$0..<($0 + 64)]) }
        return TestSet(images: images, labels: labels.map { Int(Int32(bitPattern: $0)) })
    }

    /// The little-endian 4-byte elements of a `.npy` file (the header is skipped, not interpreted).
    private static func readArray(_ name: String) throws -> [UInt32] {
        guard let url = Bundle.module.url(forResource: name, withExtension: "npy", subdirectory: "Data") else {
            throw CocoaError(.fileNoSuchFile)
        }
        let bytes = [UInt8](try Data(contentsOf: url))
        guard bytes.count > 10, bytes.starts(with: [0x93] + Array("NUMPY".utf8)) else {
            throw CocoaError(.fileReadCorruptFile)
        }
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        let payload = bytes[(10 + headerLength)...]
        return stride(from: payload.startIndex, to: payload.endIndex - 3, by: 4).map { index in
            UInt32(payload[index]) | UInt32(payload[index + 1]) << 8 | UInt32(payload[index + 2]) << 16
                | UInt32(payload[index + 3]) << 24
        }
    }
}
