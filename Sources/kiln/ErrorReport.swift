import ArgumentParser
import Foundation
import KilnCompiler
import KilnIR

/// A command that cannot do what was asked, for a reason other than its
/// arguments' syntax (which ArgumentParser reports with the usage).
struct CommandError: LocalizedError {
    /// What went wrong and what to do about it.
    var message: String

    init(_ message: String) { self.message = message }

    var errorDescription: String? { message }
}

extension KilnCommand {
    /// Runs the command, cleaning up children and temporary files on SIGINT,
    /// SIGTERM and SIGHUP, and printing every error in one place.
    ///
    /// Exit statuses (the README lists them): 0 success; 1 a model, input or
    /// file could not be used; 64 a wrong command line (ArgumentParser's, with
    /// the usage); 128 + N after signal N.
    static func main() {
        Cleanup.installSignalHandlers()
        let command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)  // usage errors, --help, --version
        }
        do {
            var command = command
            try command.run()
        } catch let error as ExitCode {
            exit(withError: error)
        } catch let error as ValidationError {
            exit(withError: error)
        } catch let error as CleanExit {
            exit(withError: error)
        } catch where exitCode(for: error) == .success {
            // `kiln help [command]` runs ArgumentParser's help command, which "fails" with the help text.
            exit(withError: error)
        } catch {
            FileHandle.standardError.write(Data((Self.message(for: error) + "\n").utf8))
            Foundation.exit(1)
        }
    }

    /// Prints `warnings` to standard error as compilers do (`file:line:column: warning: …`), where
    /// SwiftPM and editors place them at the model's line.
    static func report(_ warnings: [Diagnostic]) {
        for warning in warnings { FileHandle.standardError.write(Data((warning.description + "\n").utf8)) }
    }

    /// The words printed for `error`: located diagnostics as compilers print
    /// them, file-system errors with the path, anything else as `error: …`.
    static func message(for error: any Error) -> String {
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
