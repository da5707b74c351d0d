import Foundation

/// Reads whole files, failing with the path as the user gave it and the reason in plain words.
public enum InputFile {
    /// The contents of the file at `url`.
    ///
    /// - Throws: ``RuntimeError`` such as `model.kiln: no such file`.
    public static func read(_ url: URL) throws -> Data {
        try withFile(url) { try Data(contentsOf: url) }
    }

    /// The file at `url` opened for reading, to read in pieces.
    ///
    /// - Throws: ``RuntimeError`` such as `model.kiln: no such file`.
    public static func open(_ url: URL) throws -> FileHandle {
        try withFile(url) { try FileHandle(forReadingFrom: url) }
    }

    /// What `access` returns, its failure described with the path and the reason in plain words.
    static func withFile<Result>(_ url: URL, _ access: () throws -> Result) throws -> Result {
        let path = displayPath(of: url)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw RuntimeError("\(path): no such file")
        }
        guard !isDirectory.boolValue else { throw RuntimeError("\(path): is a directory, not a file") }
        do {
            return try access()
        } catch {
            throw failure(reading: url, error)
        }
    }

    /// A read of `url` that failed with `error`, as a message naming the path.
    static func failure(reading url: URL, _ error: Error) -> RuntimeError {
        let path = displayPath(of: url)
        guard FileManager.default.isReadableFile(atPath: url.path) else { return RuntimeError("\(path): permission denied") }
        let reason = (error as NSError).userInfo[NSUnderlyingErrorKey].map { ($0 as? NSError)?.localizedDescription }
        return RuntimeError("\(path): cannot be read: \((reason ?? nil) ?? error.localizedDescription)")
    }

    /// The path to show in messages: as the caller gave it (relative paths stay relative).
    public static func displayPath(of url: URL) -> String {
        url.isFileURL ? url.relativePath : url.absoluteString
    }
}
