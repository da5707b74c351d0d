import Foundation

/// Links Kiln's object files into shared libraries with LLVM's `ld.lld`.
public struct SharedLibraryLinker: Sendable {
    /// The `ld.lld` executable.
    public let executable: URL

    /// Creates a linker that runs `executable`.
    public init(executable: URL) { self.executable = executable }

    /// Finds `ld.lld`: `KILN_LINKER`, then PATH, then the Swift toolchain, then LLVM installs.
    public static func find() throws -> SharedLibraryLinker {
        let environment = ProcessInfo.processInfo.environment
        let candidates = candidatePaths(environment: environment)
        let fileManager = FileManager.default
        if let explicit = environment["KILN_LINKER"], !explicit.isEmpty {
            guard fileManager.isExecutableFile(atPath: explicit) else {
                throw CodegenError(
                    "KILN_LINKER is set to \(explicit), which is not an executable file. Point it at "
                        + "ld.lld, or unset it to search PATH and the usual install locations.")
            }
            return SharedLibraryLinker(executable: URL(fileURLWithPath: explicit))
        }
        for path in candidates where fileManager.isExecutableFile(atPath: path) {
            return SharedLibraryLinker(executable: URL(fileURLWithPath: path))
        }
        throw CodegenError(
            "ld.lld was not found (searched: \(candidates.joined(separator: ", "))). It ships with "
                + "the Swift toolchain and with `apt-get install -y lld`; or set KILN_LINKER to its path."
        )
    }

    /// Where to look for `ld.lld`, in order, given an environment (testable without mutating it).
    static func candidatePaths(environment: [String: String]) -> [String] {
        let pathDirectories = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        var paths = pathDirectories.map { "\($0)/ld.lld" }
        paths.append("/opt/swift/usr/bin/ld.lld")
        // A toolchain whose bin directory is on PATH through a symlinked `swift` still has its
        // own lld next to the real binary.
        for directory in pathDirectories {
            for tool in ["swift", "swiftc"] {
                let tool = URL(fileURLWithPath: "\(directory)/\(tool)")
                guard FileManager.default.fileExists(atPath: tool.path) else { continue }
                let real = tool.resolvingSymlinksInPath().deletingLastPathComponent()
                paths.append(real.appendingPathComponent("ld.lld").path)
            }
        }
        paths.append("/usr/bin/ld.lld")
        for n in (14...19).reversed() { paths.append("/usr/lib/llvm-\(n)/bin/ld.lld") }
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }

    /// Links `objectFile` into the shared library `output`, allowing no undefined symbols.
    public func link(objectFile: URL, output: URL) throws {
        try link(objectFiles: [objectFile], output: output)
    }

    /// Links `objectFiles` (models with distinct entry points) into one shared library `output`.
    public func link(objectFiles: [URL], output: URL) throws {
        // -z defs turns any reference to code outside the object (libm, libc, …) into an error,
        // which keeps generated libraries self-contained. Identical-code folding, extended to
        // read-only data, keeps one copy of weights that several ISA variants pack the same way
        // (each large constant has a section of its own, which is what it folds).
        let arguments =
            [
                "-shared", "-z", "defs", "-z", "noexecstack", "--hash-style=both", "--icf=all",
                "--ignore-data-address-equality",
                "-soname", output.lastPathComponent, "-o", output.path,
            ] + objectFiles.map(\.path)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            throw CodegenError("Could not run the linker \(executable.path): \(error)")
        }
        // Drain before waiting so a chatty linker cannot block on a full pipe.
        let output = String(
            decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw CodegenError(
                "Linking \(objectFiles.map(\.lastPathComponent).joined(separator: ", ")) failed (\(executable.path) "
                    + "\(arguments.joined(separator: " ")), exit status \(process.terminationStatus)):\n"
                    + output)
        }
    }
}
