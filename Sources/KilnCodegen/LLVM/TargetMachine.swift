import Foundation

/// A CPU to generate code for (triple, CPU name, feature flags), backed by an LLVM target machine.
public final class TargetMachine {
    /// The normalized target triple, e.g. `x86_64-pc-linux-gnu`.
    public let triple: String
    /// The LLVM CPU name, e.g. `znver4`, or `generic`.
    public let cpu: String
    /// LLVM feature flags, comma-separated without spaces, e.g. `+avx2,+fma,-avx512f`.
    public let features: String

    /// The bound LLVM C API.
    let llvm: LLVMFunctions
    /// The `LLVMTargetMachineRef`.
    let machine: OpaquePointer
    /// The data layout string modules must carry to be compiled for this machine.
    let dataLayout: String

    /// The machine Kiln is running on, with every feature its CPU has.
    public static func host() throws -> TargetMachine {
        let llvm = try LLVMLibrary.shared().functions
        return try TargetMachine(
            triple: llvm.takeMessage(llvm.getDefaultTargetTriple()),
            cpu: llvm.takeMessage(llvm.getHostCPUName()),
            features: llvm.takeMessage(llvm.getHostCPUFeatures()))
    }

    /// A machine for an explicit target, e.g. `aarch64-unknown-linux-gnu`, `generic`, `+neon`.
    public init(triple: String, cpu: String, features: String) throws {
        let library = try LLVMLibrary.shared()
        let llvm = library.functions
        let normalized = llvm.takeMessage(llvm.normalizeTargetTriple(triple))
        // LLVM warns about and ignores a flag with stray spaces, so hand-written lists are tidied.
        let features = features.split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }
            .joined(separator: ",")
        var target: OpaquePointer?
        var error: OwnedCString = nil
        let failed = llvm.getTargetFromTriple(normalized, &target, &error)
        let reason = llvm.takeMessage(error)
        guard failed == 0, let target else {
            let available = Self.registeredTargets(llvm).joined(separator: ", ")
            let version = library.majorVersion.map { "LLVM \($0)" } ?? "LLVM"
            throw CodegenError(
                "Cannot generate code for target triple '\(triple)': \(reason). The loaded "
                    + "\(version) (\(library.path)) has these backends: \(available). Use a triple "
                    + "for one of them, or point KILN_LIBLLVM at an LLVM built with that backend.")
        }
        // Aggressive optimization (3), PIC (2) because the object is linked into a shared
        // library, default code model (0).
        guard let machine = llvm.createTargetMachine(target, normalized, cpu, features, 3, 2, 0)
        else {
            throw CodegenError(
                "LLVM could not create a target machine for '\(normalized)' (cpu '\(cpu)', features "
                    + "'\(features)').")
        }
        let layout = llvm.createTargetDataLayout(machine)
        self.dataLayout = llvm.takeMessage(llvm.copyStringRepOfTargetData(layout))
        llvm.disposeTargetData(layout)
        self.llvm = llvm
        self.machine = machine
        self.triple = normalized
        self.cpu = cpu
        self.features = features
    }

    deinit { llvm.disposeTargetMachine(machine) }

    /// The names of the backends in the loaded libLLVM, e.g. `x86-64`, `aarch64`.
    static func registeredTargets() throws -> [String] {
        registeredTargets(try LLVMLibrary.shared().functions)
    }

    /// Walks LLVM's target registry.
    private static func registeredTargets(_ llvm: LLVMFunctions) -> [String] {
        var names: [String] = []
        var target = llvm.getFirstTarget()
        while let current = target {
            if let name = llvm.getTargetName(current) { names.append(String(cString: name)) }
            target = llvm.getNextTarget(current)
        }
        return names
    }

    /// Features switched on (`+name`), without the `+`, in the order given.
    public var enabledFeatures: [String] {
        features.split(separator: ",").compactMap { flag in
            flag.hasPrefix("+") ? String(flag.dropFirst()) : nil
        }
    }

    /// The widest SIMD register the features allow: 512 (AVX-512), 256 (AVX/AVX2) or 128.
    public var vectorWidthBits: Int {
        let enabled = Set(enabledFeatures)
        if enabled.contains("avx512f") { return 512 }
        if enabled.contains("avx2") || enabled.contains("avx") { return 256 }
        return 128
    }

    /// Runs LLVM's `default<O3>` pipeline, with loop and SLP vectorization, over `module`.
    func optimize(_ module: IRModule) throws {
        module.setTarget(self)
        let options = llvm.createPassBuilderOptions()
        defer { llvm.disposePassBuilderOptions(options) }
        llvm.passBuilderOptionsSetLoopVectorization(options, 1)
        llvm.passBuilderOptionsSetSLPVectorization(options, 1)
        llvm.passBuilderOptionsSetLoopInterleaving(options, 1)
        llvm.passBuilderOptionsSetLoopUnrolling(options, 1)
        if let error = llvm.runPasses(module.module, "default<O3>", machine, options) {
            let message = llvm.getErrorMessage(error)
            defer { llvm.disposeErrorMessage(message) }
            throw CodegenError(
                "LLVM optimization failed: \(message.map { String(cString: $0) } ?? "")")
        }
    }

    /// Compiles `module` to a relocatable object file (ELF on Linux).
    ///
    /// LLVM's code generator rewrites the IR in place while lowering it, so optimize first and
    /// emit last.
    func emitObject(_ module: IRModule) throws -> [UInt8] {
        try emit(module, fileType: 1)  // LLVMObjectFile
    }

    /// Compiles `module` to assembly text, for inspecting the generated code.
    func emitAssembly(_ module: IRModule) throws -> String {
        let bytes = try emit(module, fileType: 0)  // LLVMAssemblyFile
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Runs the code generator into a memory buffer and copies it out.
    private func emit(_ module: IRModule, fileType: UInt32) throws -> [UInt8] {
        module.setTarget(self)
        var error: OwnedCString = nil
        var buffer: OpaquePointer?
        let failed = llvm.targetMachineEmitToMemoryBuffer(
            machine, module.module, fileType, &error, &buffer)
        let reason = llvm.takeMessage(error)
        guard failed == 0, let buffer else {
            throw CodegenError("LLVM could not generate code for \(triple): \(reason)")
        }
        defer { llvm.disposeMemoryBuffer(buffer) }
        let count = llvm.getBufferSize(buffer)
        guard count > 0, let start = llvm.getBufferStart(buffer) else { return [] }
        return start.withMemoryRebound(to: UInt8.self, capacity: count) {
            Array(UnsafeBufferPointer(start: $0, count: count))
        }
    }
}
