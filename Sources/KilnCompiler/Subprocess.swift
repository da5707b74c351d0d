import Foundation

/// Runs a tool to completion and captures its output.
enum Subprocess {
    struct Result {
        var status: Int32
        var standardOutput: Data
        var standardError: String
        /// Whether the tool was killed for running past its time limit.
        var timedOut = false
    }

    /// Runs `executable` and waits for it, or for `timeout` seconds at most.
    ///
    /// The tool runs in a process group of its own (Foundation starts it so),
    /// which is registered with ``Cleanup``; on timeout the whole group is
    /// killed, so nothing it started keeps running.
    static func run(
        _ executable: URL, _ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil,
        timeout: Double? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if let environment { process.environment = environment }
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        do {
            try process.run()
        } catch {
            throw CompilerError("could not run \(executable.path): \(error.localizedDescription)")
        }
        let group = process.processIdentifier
        Cleanup.register(processGroup: group)
        defer { Cleanup.unregister(processGroup: group) }
        // Drain both pipes concurrently so a chatty tool cannot fill one and block.
        let outputData = LockedData()
        let errorData = LockedData()
        let drained = DispatchGroup()
        for (pipe, data) in [(output, outputData), (error, errorData)] {
            drained.enter()
            DispatchQueue.global().async {
                data.set(pipe.fileHandleForReading.readDataToEndOfFile())
                drained.leave()
            }
        }
        var timedOut = false
        if let timeout, exited.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            kill(-group, SIGKILL)
            exited.wait()
        } else if timeout == nil {
            exited.wait()
        }
        drained.wait()
        process.waitUntilExit()
        // A child killed by kiln's own signal handler is not a failure to report: the handler is exiting.
        Cleanup.waitIfStopping()
        return Result(
            status: process.terminationStatus, standardOutput: outputData.get(),
            standardError: String(decoding: errorData.get(), as: UTF8.self), timedOut: timedOut)
    }

    /// Finds an executable: an explicit environment override, then `PATH`, then known locations.
    static func findExecutable(_ name: String, environmentKey: String, fallbacks: [String]) -> URL? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment[environmentKey], FileManager.default.isExecutableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        let searchPath = (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/\(name)" }
        for path in searchPath + fallbacks where FileManager.default.isExecutableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        return nil
    }
}

/// A `Data` box safe to fill from another thread.
private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func set(_ value: Data) {
        lock.lock()
        data = value
        lock.unlock()
    }

    func get() -> Data {
        lock.lock()
        defer { lock.unlock() }
        return data
    }
}
