import ArgumentParser
import Foundation
import KilnCompiler

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
            UserMessages.printError(error)
            Foundation.exit(1)
        }
    }
}
