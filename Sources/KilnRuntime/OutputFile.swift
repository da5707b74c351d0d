import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a file the way a careful tool does: nothing the user did not name is
/// replaced, and nothing is lost if writing fails.
///
/// - A regular file (or a new one) is replaced atomically: the bytes go to a
///   temporary file beside it, which takes the old file's permission bits and
///   is then renamed over it. A file with other hard links is written in place
///   instead, so every link sees the new contents.
/// - A symbolic link is written through: its target is replaced as above and
///   the link stays.
/// - A device, FIFO or socket is opened and written to, never replaced.
/// - A path that is one of `protected` (the same file, however it is named) is
///   refused, so a tool never overwrites its own inputs.
///
/// ```swift
/// try OutputFile.write(bytes, to: outputURL, protecting: [inputURL, artifactURL])
/// ```
public enum OutputFile {
    /// Writes `bytes` to `url`; `protected` files must not be overwritten.
    ///
    /// - Throws: ``RuntimeError`` naming the path and the reason, in plain words.
    public static func write(_ bytes: [UInt8], to url: URL, protecting protected: [URL] = []) throws {
        let path = url.path
        let shown = InputFile.displayPath(of: url)
        var target = stat()
        guard stat(path, &target) == 0 else {
            // Nothing there yet (or a dangling symbolic link, which `rename` would replace).
            var link = stat()
            if lstat(path, &link) == 0 { return try writeInPlace(bytes, path: path, creating: true) }
            return try replaceAtomically(bytes, path: path, like: nil)
        }
        for file in protected {
            var other = stat()
            if stat(file.path, &other) == 0, other.st_dev == target.st_dev, other.st_ino == target.st_ino {
                throw RuntimeError(
                    "\(shown): refusing to overwrite \(InputFile.displayPath(of: file)), which this command reads; "
                        + "choose another output path")
            }
        }
        switch target.st_mode & S_IFMT {
        case S_IFDIR:
            throw RuntimeError("\(shown): is a directory; give a file name")
        case S_IFREG where target.st_nlink == 1:
            return try replaceAtomically(bytes, path: resolvedPath(path), like: target)
        default:
            return try writeInPlace(bytes, path: path, creating: false)
        }
    }

    /// The path with symbolic links resolved, so the link itself is kept.
    private static func resolvedPath(_ path: String) throws -> String {
        guard let resolved = realpath(path, nil) else { throw error(path, "cannot be resolved") }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Writes a temporary file beside `path` and renames it over `path`,
    /// keeping the permission bits (and, where allowed, the owner) of `existing`.
    private static func replaceAtomically(_ bytes: [UInt8], path: String, like existing: stat?) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        var template = Array(((directory.isEmpty ? "." : directory) + "/.\(name).kiln-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.map { mkstemp($0) } ?? -1
        }
        guard descriptor >= 0 else { throw error(path, "cannot be written") }
        let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var isOpen = true
        do {
            // mkstemp creates 0600: keep the old file's bits, or give a new file 0666 less the umask as open(2) would.
            let mask = umask(0)
            umask(mask)
            let mode = existing.map { $0.st_mode & 0o7777 } ?? (0o666 & ~mask)
            if let existing { _ = fchown(descriptor, existing.st_uid, existing.st_gid) }
            guard fchmod(descriptor, mode) == 0 else { throw error(path, "cannot be written") }
            try writeAll(bytes, to: descriptor, path: path)
            guard fsync(descriptor) == 0 else { throw error(path, "cannot be written") }
            close(descriptor)
            isOpen = false
            guard rename(temporary, path) == 0 else { throw error(path, "cannot be written") }
        } catch {
            if isOpen { close(descriptor) }
            unlink(temporary)
            throw error
        }
    }

    private static func writeInPlace(_ bytes: [UInt8], path: String, creating: Bool) throws {
        let flags = O_WRONLY | O_CLOEXEC | (creating ? O_CREAT : 0)
        let descriptor = open(path, flags, 0o666)
        guard descriptor >= 0 else { throw error(path, "cannot be opened for writing") }
        defer { close(descriptor) }
        var status = stat()
        if fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG {
            guard ftruncate(descriptor, 0) == 0 else { throw error(path, "cannot be written") }
        }
        try writeAll(bytes, to: descriptor, path: path)
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                buffer.baseAddress.map { systemWrite(descriptor, $0 + written, buffer.count - written) } ?? 0
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw error(path, "cannot be written") }
            written += count
        }
    }

    /// An error naming `path`, with the system's reason from `errno`.
    private static func error(_ path: String, _ what: String) -> RuntimeError {
        RuntimeError("\(path): \(what): \(String(cString: strerror(errno)))")
    }
}

/// write(2), named apart from ``OutputFile/write(_:to:protecting:)``.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
