import Foundation
import KilnRuntime

/// Whole-file reads and writes that fail with a ``WeightFileError`` naming the path.
enum FileIO {
    static func readBytes(of url: URL) throws -> [UInt8] {
        do {
            return [UInt8](try InputFile.read(url))
        } catch let error as RuntimeError {
            throw WeightFileError(message: error.message)
        }
    }

    /// Writes through ``OutputFile``: atomic for regular files, never replacing links or devices.
    static func write(_ bytes: [UInt8], to url: URL, protecting protected: [URL] = []) throws {
        do {
            try OutputFile.write(bytes, to: url, protecting: protected)
        } catch let error as RuntimeError {
            throw WeightFileError(message: error.message)
        }
    }
}
