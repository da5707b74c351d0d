/// How visible a function is outside the object file.
enum Linkage {
    /// Exported: callable by the runtime through the shared library's symbol table.
    case external
    /// Private to the object, so LLVM may inline, specialize or delete it.
    case `internal`

    /// The `LLVMLinkage` value.
    var llvmValue: UInt32 {
        switch self {
        case .external: 0  // LLVMExternalLinkage
        case .internal: 8  // LLVMInternalLinkage
        }
    }
}

extension IRModule {
    /// Constants from this size up get a section of their own (``sectionPerConstant``); smaller
    /// ones are not worth a section header.
    static let sharedConstantMinimumBytes = 256

    /// Adds a read-only `[N x i8]` global holding `bytes` (e.g. model weights) and returns it.
    ///
    /// The bytes are handed to LLVM in one call without per-element constants, so tens of
    /// megabytes cost one copy.
    func addConstantBytes(name: String, bytes: [UInt8], alignment: Int, exported: Bool = false) -> IRValue {
        precondition(bytes.count <= Int(UInt32.max), "LLVM constant arrays are limited to 4 GiB")
        let initializer = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                llvm.constStringInContext(context, chars.baseAddress, UInt32(chars.count), 1)
            }
        }
        let global = llvm.addGlobal(module, llvm.typeOf(initializer), name)
        llvm.setInitializer(global, initializer)
        llvm.setGlobalConstant(global, 1)
        if exported {
            llvm.setLinkage(global, Linkage.external.llvmValue)  // A symbol C code can name.
        } else {
            llvm.setLinkage(global, 9)  // LLVMPrivateLinkage: no symbol, nothing for the linker to see.
            llvm.setUnnamedAddress(global, 2)  // LLVMGlobalUnnamedAddr: identical blobs may merge.
            if sectionPerConstant, bytes.count >= Self.sharedConstantMinimumBytes {
                llvm.setSection(global, ".rodata.kiln.\(constantSectionCount)")
                constantSectionCount += 1
            }
        }
        llvm.setAlignment(global, UInt32(alignment))
        return global
    }

    /// Adds a writable, zero-filled `[N x i8]` global exported under `name` (e.g. profiling counters).
    func addZeroedGlobal(name: String, byteCount: Int, alignment: Int) -> IRValue {
        let global = addConstantBytes(name: name, bytes: [UInt8](repeating: 0, count: byteCount), alignment: alignment, exported: true)
        llvm.setGlobalConstant(global, 0)
        return global
    }

    /// Adds a function (a declaration until blocks are appended) with the given linkage.
    func addFunction(name: String, type: IRType, linkage: Linkage) -> IRValue {
        let function = llvm.addFunction(module, name, type)
        llvm.setLinkage(function, linkage.llvmValue)
        return function
    }

    /// The `index`th parameter of `function`.
    func parameter(_ function: IRValue, _ index: Int) -> IRValue {
        llvm.getParam(function, UInt32(index))
    }

    /// Adds an enum attribute such as `nounwind`, `alwaysinline` or `noinline` to `function`.
    func addAttribute(_ name: String, to function: IRValue) {
        addEnumAttribute(name, to: function, index: UInt32.max)  // LLVMAttributeFunctionIndex
    }

    /// Adds an enum attribute such as `noalias` or `nocapture` to parameter `parameter` (0-based).
    func addParameterAttribute(_ name: String, to function: IRValue, parameter: Int) {
        addEnumAttribute(name, to: function, index: UInt32(parameter + 1))
    }

    /// Adds a `"key"="value"` attribute such as `"target-cpu"` or `"prefer-vector-width"`.
    func addStringAttribute(key: String, value: String, to function: IRValue) {
        let attribute = llvm.createStringAttribute(
            context, key, UInt32(key.utf8.count), value, UInt32(value.utf8.count))
        llvm.addAttributeAtIndex(function, UInt32.max, attribute)
    }

    /// Attaches the enum attribute `name` at an LLVM attribute index.
    private func addEnumAttribute(_ name: String, to function: IRValue, index: UInt32) {
        let kind = llvm.getEnumAttributeKindForName(name, name.utf8.count)
        guard kind != 0 else {
            // Attributes are hints; an LLVM version that lacks one must still compile the model,
            // but a misspelling should be caught while developing kernels.
            assertionFailure("LLVM has no enum attribute named '\(name)'")
            return
        }
        llvm.addAttributeAtIndex(function, index, llvm.createEnumAttribute(context, kind, 0))
    }

    /// Declares (once) the intrinsic `llvm.<baseName>.<overloads…>`, e.g. `llvm.fma.v16f32`.
    ///
    /// `baseName` may be given with or without the `llvm.` prefix. LLVM attaches the intrinsic's
    /// own attributes when the declaration is created.
    func intrinsic(
        _ baseName: String, overloads: [IRType], returning result: IRType, parameters: [IRType]
    ) -> (function: IRValue, type: IRType) {
        var name = baseName.hasPrefix("llvm.") ? baseName : "llvm." + baseName
        for overload in overloads { name += "." + mangledName(overload) }
        let type = functionType(returning: result, parameters: parameters)
        if let existing = llvm.getNamedFunction(module, name) { return (existing, type) }
        return (llvm.addFunction(module, name, type), type)
    }

    /// The suffix LLVM uses for an overloaded intrinsic's type: f32, v16f32, i64, p0, …
    func mangledName(_ type: IRType) -> String {
        switch llvm.getTypeKind(type) {
        case 1: return "f16"
        case 2: return "f32"
        case 3: return "f64"
        case 8: return "i\(llvm.getIntTypeWidth(type))"
        case 11: return "a\(llvm.getArrayLength(type))" + mangledName(llvm.getElementType(type))
        case 12:
            // Typed pointers (LLVM 14) mangle their pointee; opaque pointers are just p0.
            if let isOpaque = llvm.pointerTypeIsOpaque, isOpaque(type) != 0 { return "p0" }
            return "p0" + mangledName(llvm.getElementType(type))
        case 13: return "v\(llvm.getVectorSize(type))" + mangledName(llvm.getElementType(type))
        case 18: return "bf16"
        case let kind: preconditionFailure("no intrinsic mangling for LLVM type kind \(kind)")
        }
    }
}
