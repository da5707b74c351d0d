#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open shared library; closing it is tied to this object's lifetime.
///
/// Symbols looked up here are only valid while the object is alive, so
/// whoever calls them must keep a reference.
final class DynamicLibrary {
    private let handle: UnsafeMutableRawPointer

    /// Opens the library at `path`, binding every symbol now so that a
    /// missing dependency fails here rather than in the middle of a run.
    ///
    /// `describe` turns the loader's message into the error to throw.
    init(path: String, describe: (String) -> RuntimeError) throws {
        // A path without a slash would be searched for in the library path instead.
        let loadPath = path.contains("/") ? path : "./" + path
        guard let handle = dlopen(loadPath, RTLD_NOW | RTLD_LOCAL) else {
            throw describe(Self.lastError())
        }
        self.handle = handle
    }

    deinit {
        dlclose(handle)
    }

    /// The address of the exported symbol `name`.
    ///
    /// `describe` turns the loader's message into the error to throw.
    func address(of name: String, describe: (String) -> RuntimeError) throws
        -> UnsafeMutableRawPointer
    {
        // Clear any stale message so the one reported belongs to this lookup.
        _ = dlerror()
        guard let address = dlsym(handle, name) else {
            throw describe(Self.lastError())
        }
        return address
    }

    private static func lastError() -> String {
        guard let message = dlerror() else { return "unknown dynamic loader error" }
        return String(cString: message)
    }
}
