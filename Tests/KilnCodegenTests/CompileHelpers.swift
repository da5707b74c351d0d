import Foundation
import Testing

@testable import KilnCodegen

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A shared library built from an IRModule and opened in this process.
struct LoadedLibrary {
    let handle: UnsafeMutableRawPointer

    /// The address of the exported function `name`, as the C function type `T`.
    func function<T>(_ name: String, as type: T.Type) throws -> T {
        let symbol = try #require(dlsym(handle, name), "\(name) is not exported")
        return unsafeBitCast(symbol, to: type)
    }
}

/// Verifies, optimizes, emits, links and loads `module` the way the compiler will.
func compileAndLoad(_ module: IRModule, for machine: TargetMachine) throws -> LoadedLibrary {
    try module.verify()
    try machine.optimize(module)
    try module.verify()
    let object = try machine.emitObject(module)
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("kiln-codegen-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let objectURL = directory.appendingPathComponent("kernels.o")
    let libraryURL = directory.appendingPathComponent("libkernels.so")
    try Data(object).write(to: objectURL)
    try SharedLibraryLinker.find().link(objectFile: objectURL, output: libraryURL)
    let handle = try #require(
        dlopen(libraryURL.path, RTLD_NOW | RTLD_LOCAL),
        "dlopen failed: \(dlerror().map { String(cString: $0) } ?? "")")
    return LoadedLibrary(handle: handle)
}

/// Starts a function with an `entry` block and the builder positioned in it.
func beginFunction(
    _ ir: IRModule, _ name: String, returning result: IRType, parameters: [IRType]
) -> IRValue {
    let function = ir.addFunction(
        name: name, type: ir.functionType(returning: result, parameters: parameters),
        linkage: .external)
    ir.addAttribute("nounwind", to: function)
    ir.position(at: ir.appendBlock("entry", to: function))
    return function
}

/// Whether this machine's CPU reports AVX-512 Foundation.
var hostHasAVX512: Bool {
    guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
        return false
    }
    return cpuinfo.split(separator: "\n").contains { line in
        line.hasPrefix("flags") && line.split(separator: " ").contains("avx512f")
    }
}
