/// An LLVM type handle, owned by its IRModule's context.
typealias IRType = OpaquePointer
/// An LLVM value handle (constant, instruction, function, global), owned by its IRModule.
typealias IRValue = OpaquePointer
/// An LLVM basic block handle, owned by its function.
typealias IRBlock = OpaquePointer

/// One LLVM module with its own context and instruction builder: the unit Kiln emits and compiles.
///
/// Not thread-safe (an LLVM context is single-threaded), but separate modules may be built on
/// separate threads. Handles it returns are valid only while the module is alive.
final class IRModule {
    /// The bound LLVM C API.
    let llvm: LLVMFunctions
    /// The LLVM context that owns every type and constant of this module.
    let context: OpaquePointer
    /// The LLVM module.
    let module: OpaquePointer
    /// The instruction builder, positioned with `position(at:)`.
    let builder: OpaquePointer

    /// `void`.
    let void: IRType
    /// `float`.
    let f32: IRType
    /// `half`.
    let f16: IRType
    /// `i1`, the type of comparisons.
    let i1: IRType
    /// `i8`.
    let i8: IRType
    /// `i16`.
    let i16: IRType
    /// `i32`.
    let i32: IRType
    /// `i64`, the type of loop counters and indices.
    let i64: IRType

    /// Whether large constants get an ELF section each, so the linker's identical-code folding
    /// can keep one copy of weights that several objects (an artifact's ISA variants) hold.
    private(set) var sectionPerConstant = false
    /// The constants given a section of their own so far, which numbers the next one.
    var constantSectionCount = 0

    /// Creates an empty module named `name` in a fresh context, loading libLLVM if needed.
    init(name: String) throws {
        let llvm = try LLVMLibrary.shared().functions
        guard let context = llvm.contextCreate() else {
            throw CodegenError("LLVMContextCreate failed.")
        }
        guard let module = llvm.moduleCreateWithNameInContext(name, context) else {
            llvm.contextDispose(context)
            throw CodegenError("LLVMModuleCreateWithNameInContext failed for module '\(name)'.")
        }
        guard let builder = llvm.createBuilderInContext(context) else {
            llvm.disposeModule(module)
            llvm.contextDispose(context)
            throw CodegenError("LLVMCreateBuilderInContext failed.")
        }
        self.llvm = llvm
        self.context = context
        self.module = module
        self.builder = builder
        void = llvm.voidTypeInContext(context)
        f32 = llvm.floatTypeInContext(context)
        f16 = llvm.halfTypeInContext(context)
        i1 = llvm.int1TypeInContext(context)
        i8 = llvm.int8TypeInContext(context)
        i16 = llvm.int16TypeInContext(context)
        i32 = llvm.int32TypeInContext(context)
        i64 = llvm.int64TypeInContext(context)
    }

    deinit {
        // The builder and module refer into the context, so the context goes last.
        llvm.disposeBuilder(builder)
        llvm.disposeModule(module)
        llvm.contextDispose(context)
    }

    // MARK: Module-level operations

    /// Checks the module with LLVM's verifier, throwing its report when the IR is malformed.
    func verify() throws {
        var message: OwnedCString = nil
        // 2 is LLVMReturnStatusAction: report instead of printing and aborting.
        let failed = llvm.verifyModule(module, 2, &message)
        let report = llvm.takeMessage(message)
        if failed != 0 {
            throw CodegenError(
                "The generated LLVM IR is invalid (a Kiln code generator bug):\n\(report)")
        }
    }

    /// The module as LLVM assembly text, for debugging and tests.
    var textualIR: String { llvm.takeMessage(llvm.printModuleToString(module)) }

    /// Sets the module's target triple and data layout to `machine`'s.
    func setTarget(_ machine: TargetMachine) {
        llvm.setTarget(module, machine.triple)
        llvm.setDataLayout(module, machine.dataLayout)
        sectionPerConstant = machine.triple.contains("-linux")
    }

    // MARK: Types

    /// A pointer to `element` in address space 0 (plain `ptr` when LLVM uses opaque pointers).
    func pointer(to element: IRType) -> IRType { llvm.pointerType(element, 0) }

    /// A fixed-width SIMD vector `<count x element>`.
    func vector(_ element: IRType, _ count: Int) -> IRType {
        llvm.vectorType(element, UInt32(count))
    }

    /// An array `[count x element]`.
    func array(_ element: IRType, _ count: Int) -> IRType { llvm.arrayType(element, UInt32(count)) }

    /// A non-variadic function type.
    func functionType(returning result: IRType, parameters: [IRType]) -> IRType {
        llvm.functionType(result, parameters, UInt32(parameters.count), 0)
    }

    /// The type of `value`.
    func typeOf(_ value: IRValue) -> IRType { llvm.typeOf(value) }

    // MARK: Constants

    /// An `f32` constant.
    func constant(_ value: Float) -> IRValue { llvm.constReal(f32, Double(value)) }

    /// A scalar integer constant of `type`, truncated to its width (so -1 is all ones).
    func constant(_ value: Int, _ type: IRType) -> IRValue {
        let bits = UInt64(bitPattern: Int64(value))
        let width = Int(llvm.getIntTypeWidth(type))
        // Newer LLVMs assert when a value does not fit the width, so narrow types get the
        // truncated bit pattern; only types wider than 64 bits need LLVM to sign-extend.
        if width >= 64 { return llvm.constInt(type, bits, value < 0 ? 1 : 0) }
        return llvm.constInt(type, bits & ((1 << UInt64(width)) - 1), 0)
    }

    /// A constant vector of the constant `lanes`.
    func constantVector(_ lanes: [IRValue]) -> IRValue { llvm.constVector(lanes, UInt32(lanes.count)) }

    /// A constant vector whose `count` lanes all hold the constant `scalar`.
    func splat(_ scalar: IRValue, count: Int) -> IRValue {
        let lanes = [IRValue](repeating: scalar, count: count)
        return llvm.constVector(lanes, UInt32(count))
    }

    /// `undef` of `type`.
    func undef(_ type: IRType) -> IRValue { llvm.getUndef(type) }

    /// The all-zero constant of `type` (0, 0.0, null, zeroinitializer).
    func zero(_ type: IRType) -> IRValue { llvm.constNull(type) }
}
