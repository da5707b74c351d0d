import Foundation

/// The child process groups and temporary directories the compiler has open,
/// so that a run that is interrupted or times out leaves nothing behind.
///
/// `Subprocess` and the compiler's scratch directories register here; a
/// command-line tool calls ``installSignalHandlers()`` once so that SIGINT,
/// SIGTERM and SIGHUP end every registered process group (children are
/// started in groups of their own, so the terminal's signal never reaches
/// them) and remove every registered directory before exiting.
public enum Cleanup {
    private static let state = State()

    /// Handles SIGINT, SIGTERM and SIGHUP by cleaning up and exiting with status 128 + the signal number.
    public static func installSignalHandlers() {
        state.installHandlers()
    }

    /// Kills every registered process group and removes every registered directory.
    static func cleanUpNow() {
        let (groups, directories) = state.takeAll()
        for group in groups { kill(-group, SIGKILL) }
        for directory in directories { try? FileManager.default.removeItem(at: directory) }
    }

    /// A new empty directory in `parent` (by default the system's temporary
    /// directory), removed by ``removeDirectory(_:)`` or on a signal.
    static func makeTemporaryDirectory(prefix: String, in parent: URL = FileManager.default.temporaryDirectory) throws
        -> URL
    {
        let directory = parent.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        state.addDirectory(directory)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            state.removeDirectory(directory)
            throw CompilerError("cannot create a temporary directory at \(directory.path): \(error.localizedDescription)")
        }
        return directory
    }

    /// Removes a directory made by ``makeTemporaryDirectory(prefix:)``.
    static func removeDirectory(_ directory: URL) {
        state.removeDirectory(directory)
        try? FileManager.default.removeItem(at: directory)
    }

    /// Records a running child's process group until ``unregister(processGroup:)``.
    /// Blocks for good once a termination signal is being handled, so that
    /// the handler's exit status (128 + N) wins over errors its cleanup causes.
    static func waitIfStopping() {
        while state.isStopping { Thread.sleep(forTimeInterval: 1) }
    }

    static func register(processGroup: pid_t) { state.addGroup(processGroup) }

    /// Forgets a child's process group once it has exited.
    static func unregister(processGroup: pid_t) { state.removeGroup(processGroup) }

    private final class State: @unchecked Sendable {
        private let lock = NSLock()
        private var groups: Set<pid_t> = []
        private var directories: Set<URL> = []
        private var sources: [any DispatchSourceSignal] = []
        private var stopping = false

        var isStopping: Bool { locked { stopping } }

        func addGroup(_ group: pid_t) { locked { _ = groups.insert(group) } }
        func removeGroup(_ group: pid_t) { locked { _ = groups.remove(group) } }
        func addDirectory(_ directory: URL) { locked { _ = directories.insert(directory) } }
        func removeDirectory(_ directory: URL) { locked { _ = directories.remove(directory) } }

        func takeAll() -> (Set<pid_t>, Set<URL>) {
            locked {
                defer { (groups, directories) = ([], []) }
                return (groups, directories)
            }
        }

        func installHandlers() {
            locked {
                guard sources.isEmpty else { return }
                for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
                    // Handled on a queue, not in signal context, so cleaning up may lock and allocate.
                    signal(signalNumber, SIG_IGN)
                    let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
                    source.setEventHandler {
                        Cleanup.state.locked { Cleanup.state.stopping = true }
                        Cleanup.cleanUpNow()
                        exit(128 + signalNumber)
                    }
                    source.resume()
                    sources.append(source)
                }
            }
        }

        fileprivate func locked<T>(_ body: () -> T) -> T {
            lock.lock()
            defer { lock.unlock() }
            return body()
        }
    }
}
