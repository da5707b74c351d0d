import Foundation

/// Reads whole files, failing with the path as the user gave it and the reason in plain words.
public enum InputFile {
    /// The contents of the file at `url`.
    ///
    /// - Throws: ``RuntimeError`` such as `model.kiln: no such file`.
    public static func read(_ url: URL) throws -> Data {
        let path = displayPath(of: url)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw RuntimeError("\(path): no such file")
        }
        guard !isDirectory.boolValue else { throw RuntimeError("\(path): is a directory, not a file") }
        do {
            return try Data(contentsOf: url)
        } catch {
            guard FileManager.default.isReadableFile(atPath: url.path) else {
                throw RuntimeError("\(path): permission denied")
            }
            let reason = (error as NSError).userInfo[NSUnderlyingErrorKey].map { ($0 as? NSError)?.localizedDescription }
            throw RuntimeError("\(path): cannot be read: \((reason ?? nil) ?? error.localizedDescription)")
        }
    }

    /// The path to show in messages: as the caller gave it (relative paths stay relative).
    public static func displayPath(of url: URL) -> String {
        url.isFileURL ? url.relativePath : url.absoluteString
    }
}
