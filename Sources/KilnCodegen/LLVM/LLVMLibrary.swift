import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The libLLVM this process uses, opened with `dlopen` and bound once.
struct LLVMLibrary: Sendable {
    /// The file that was opened.
    let path: String
    /// LLVM's major version (14, 15, …), or nil when neither LLVM nor the path says.
    let majorVersion: Int?
    /// Every C API function Kiln calls.
    let functions: LLVMFunctions

    /// The process-wide library, loaded on first use; later calls return the same result.
    static func shared() throws -> LLVMLibrary { try sharedLibrary.get() }

    /// Where to look, in order: only `KILN_LIBLLVM` when it is set, otherwise the usual installs.
    static func candidatePaths(environment: [String: String]) -> [String] {
        // An explicit choice must not silently fall back to a different LLVM.
        if let explicit = environment["KILN_LIBLLVM"], !explicit.isEmpty { return [explicit] }
        let versions = Array((14...19).reversed())
        var paths: [String] = []
        for n in versions {
            paths.append("/usr/lib/llvm-\(n)/lib/libLLVM-\(n).so")
            paths.append("/usr/lib/llvm-\(n)/lib/libLLVM.so")
        }
        for directory in ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu"] {
            for n in versions { paths.append("\(directory)/libLLVM-\(n).so.1") }
        }
        paths.append("/opt/homebrew/opt/llvm/lib/libLLVM.dylib")
        paths.append("/usr/local/opt/llvm/lib/libLLVM.dylib")
        return paths
    }

    /// Opens the first candidate that loads and binds, or explains what was tried.
    static func open(candidates: [String], explicitlyChosen: Bool = false) -> Result<
        LLVMLibrary, CodegenError
    > {
        var failures: [String] = []
        for path in candidates where access(path, F_OK) == 0 {
            switch open(path: path) {
            case .success(let library): return .success(library)
            case .failure(let error): failures.append(error.message)
            }
        }
        if explicitlyChosen {
            let reason =
                failures.isEmpty ? "the file does not exist" : failures.joined(separator: "; ")
            return .failure(
                CodegenError(
                    "KILN_LIBLLVM is set to \(candidates.joined(separator: ", ")), but it could not be "
                        + "loaded: \(reason). Point it at a libLLVM shared library (LLVM 14 or newer), "
                        + "or unset it to search the usual install locations."))
        }
        var message =
            "libLLVM was not found (searched: \(candidates.joined(separator: ", "))). Install it with "
            + "`apt-get install -y llvm-dev`, or set KILN_LIBLLVM to the library's path."
        if !failures.isEmpty {
            message +=
                " Libraries that exist but could not be used: " + failures.joined(separator: "; ")
        }
        return .failure(CodegenError(message))
    }

    /// Opens and binds one file.
    private static func open(path: String) -> Result<LLVMLibrary, CodegenError> {
        // RTLD_LOCAL keeps LLVM's many symbols from interposing on anything else in the process;
        // the handle is never closed because bound function pointers outlive every caller.
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            return .failure(CodegenError("\(path): \(reason)"))
        }
        let binder = SymbolBinder(handle: handle, path: path)
        do {
            let functions = try LLVMFunctions(binder)
            initializeTargets(binder)
            return .success(
                LLVMLibrary(
                    path: path, majorVersion: version(functions, path: path), functions: functions))
        } catch let error as CodegenError {
            return .failure(error)
        } catch {
            return .failure(CodegenError("\(path): \(error)"))
        }
    }

    /// Registers every backend Kiln can target that this build of LLVM contains.
    private static func initializeTargets(_ binder: SymbolBinder) {
        // These are real exported functions (the LLVMInitializeAll* helpers are header-only
        // inlines), and distribution builds may omit some backends, so absent ones are skipped.
        for target in ["X86", "AArch64", "ARM", "RISCV"] {
            for part in ["TargetInfo", "Target", "TargetMC", "AsmPrinter"] {
                let initialize: (@convention(c) () -> Void)? = binder.optional(
                    "LLVMInitialize\(target)\(part)")
                initialize?()
            }
        }
    }

    /// Asks LLVM for its version (16+), else reads it from the file name or its symlink target.
    private static func version(_ functions: LLVMFunctions, path: String) -> Int? {
        if let getVersion = functions.getVersion {
            var major: UInt32 = 0
            var minor: UInt32 = 0
            var patch: UInt32 = 0
            getVersion(&major, &minor, &patch)
            return Int(major)
        }
        if let version = majorVersion(fromPath: path) { return version }
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return majorVersion(fromPath: String(cString: resolved))
    }

    /// Extracts N from `libLLVM-N…` or `llvm-N/` in a path.
    static func majorVersion(fromPath path: String) -> Int? {
        for marker in ["libLLVM-", "llvm-"] {
            var rest = Substring(path)
            while let range = rest.range(of: marker) {
                rest = rest[range.upperBound...]
                let digits = rest.prefix { $0.isASCII && $0.isNumber }
                if let n = Int(digits), n > 0 { return n }
            }
        }
        return nil
    }
}

/// Loaded at most once per process; Swift initializes globals lazily and thread-safely.
private let sharedLibrary: Result<LLVMLibrary, CodegenError> = {
    let environment = ProcessInfo.processInfo.environment
    let explicit = environment["KILN_LIBLLVM"].map { !$0.isEmpty } ?? false
    return LLVMLibrary.open(
        candidates: LLVMLibrary.candidatePaths(environment: environment), explicitlyChosen: explicit
    )
}()
