import Foundation

/// Runs a tool to completion and captures its output.
enum Subprocess {
    struct Result {
        var status: Int32
        var standardOutput: Data
        var standardError: String
    }

    static func run(_ executable: URL, _ arguments: [String], in directory: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        do {
            try process.run()
        } catch {
            throw CompilerError("could not run \(executable.path): \(error.localizedDescription)")
        }
        // Drain both pipes concurrently so a chatty tool cannot fill one and block.
        let errorData = LockedData()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errorData.set(error.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, standardOutput: outputData,
            standardError: String(decoding: errorData.get(), as: UTF8.self))
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
