import Foundation
import KilnIR

/// The one place that turns any error into the words `kiln` and the plugin's tool print.
public enum UserMessages {
    /// The words printed for `error`: located diagnostics as compilers print
    /// them, file-system errors with the path, anything else as `error: …`.
    public static func text(for error: any Error) -> String {
        let text: String
        switch error {
        case let error as DiagnosticError:
            return error.description
        case let error as CocoaError:
            text = fileSystemMessage(error)
        case let error as LocalizedError:
            text = error.errorDescription ?? String(describing: error)
        default:
            text = String(describing: error)
        }
        // Messages that already say where and what (`file:line: error: …`) are printed as they are.
        return text.contains("error: ") ? text : "error: " + text
    }

    /// Prints `error` to standard error.
    public static func printError(_ error: any Error) {
        FileHandle.standardError.write(Data((text(for: error) + "\n").utf8))
    }

    /// Prints `warnings` to standard error as compilers do (`file:line:column: warning: …`), where
    /// SwiftPM and editors place them at the model's line.
    public static func printWarnings(_ warnings: [Diagnostic]) {
        for warning in warnings { FileHandle.standardError.write(Data((warning.description + "\n").utf8)) }
    }

    /// A Foundation file error in plain words, naming the path.
    static func fileSystemMessage(_ error: CocoaError) -> String {
        let path = error.filePath ?? error.url?.path ?? "a file"
        let reason: String
        switch error.code {
        case .fileNoSuchFile, .fileReadNoSuchFile: reason = "no such file or directory"
        case .fileReadNoPermission, .fileWriteNoPermission: reason = "permission denied"
        case .fileWriteFileExists: reason = "already exists"
        case .fileWriteOutOfSpace: reason = "no space left on the device"
        case .fileWriteVolumeReadOnly: reason = "the file system is read-only"
        case .fileReadCorruptFile: reason = "cannot be read"
        default:
            let underlying = (error.userInfo[NSUnderlyingErrorKey] as? NSError)?.localizedDescription
            reason = underlying ?? error.localizedDescription
        }
        return "\(path): \(reason)"
    }
}
