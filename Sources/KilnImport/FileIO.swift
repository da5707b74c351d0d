import Foundation

/// Whole-file reads and writes that fail with a ``WeightFileError`` naming the path.
enum FileIO {
    /// The path to show in messages: the path as the caller gave it.
    static func displayPath(of url: URL) -> String {
        url.isFileURL ? url.relativePath : url.absoluteString
    }

    static func readBytes(of url: URL) throws -> [UInt8] {
        let source = displayPath(of: url)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw WeightFileError(source, "no such file")
        }
        guard !isDirectory.boolValue else {
            throw WeightFileError(source, "is a directory, not a file")
        }
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            throw WeightFileError(source, "cannot be read: \(error.localizedDescription)")
        }
    }

    static func write(_ bytes: [UInt8], to url: URL) throws {
        do {
            try Data(bytes).write(to: url, options: .atomic)
        } catch {
            throw WeightFileError(
                displayPath(of: url), "cannot be written: \(error.localizedDescription)")
        }
    }
}
