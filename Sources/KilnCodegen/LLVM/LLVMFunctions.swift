#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// Shapes of the LLVM-C signatures. Every LLVM handle is an OpaquePointer. Handles that LLVM
// documents as never null (types, constants, instructions) are declared non-optional so call
// sites stay readable; anything that can legitimately be null is optional.

/// A borrowed, NUL-terminated C string argument.
typealias CStringArgument = UnsafePointer<CChar>?
/// A C string that LLVM allocated and the caller must free with `LLVMDisposeMessage`.
typealias OwnedCString = UnsafeMutablePointer<CChar>?
/// A C array of LLVM handles (`LLVMValueRef *`, `LLVMTypeRef *`, …).
typealias HandleArray = UnsafePointer<OpaquePointer>?
/// Signature shared by `LLVMBuildAdd`, `LLVMBuildFMul` and the other binary operators.
typealias BinaryBuilderFunction =
    @convention(c) (OpaquePointer, OpaquePointer, OpaquePointer, CStringArgument) -> OpaquePointer
/// Signature shared by `LLVMBuildBitCast`, `LLVMBuildSIToFP` and the other casts.
typealias CastBuilderFunction =
    @convention(c) (OpaquePointer, OpaquePointer, OpaquePointer, CStringArgument) -> OpaquePointer
/// Signature shared by `LLVMInt32TypeInContext` and the other context type getters.
typealias ContextTypeFunction = @convention(c) (OpaquePointer) -> OpaquePointer

/// Looks up C symbols in an opened library and reinterprets them as typed function pointers.
struct SymbolBinder {
    /// The `dlopen` handle.
    let handle: UnsafeMutableRawPointer
    /// The library's path, for error messages.
    let path: String

    /// Binds `name`, or throws an error naming the missing symbol.
    func required<Function>(_ name: String) throws -> Function {
        guard let symbol = dlsym(handle, name) else {
            throw CodegenError(
                "The libLLVM at \(path) does not export \(name). Kiln needs LLVM 14 or newer built with "
                    + "the C API; install one with `apt-get install -y llvm-dev`, or set KILN_LIBLLVM "
                    + "to another libLLVM.")
        }
        return unsafeBitCast(symbol, to: Function.self)
    }

    /// Binds `name` when the library has it (symbols added or removed across LLVM versions).
    func optional<Function>(_ name: String) -> Function? {
        dlsym(handle, name).map { unsafeBitCast($0, to: Function.self) }
    }
}

/// Every LLVM-C function Kiln calls, bound once from the loaded libLLVM.
///
/// C function pointers carry no state, so the table is freely shareable across threads.
struct LLVMFunctions: Sendable {
    // Context, module, builder, messages.
    let contextCreate: @convention(c) () -> OpaquePointer?
    let contextDispose: @convention(c) (OpaquePointer) -> Void
    let moduleCreateWithNameInContext:
        @convention(c) (CStringArgument, OpaquePointer) -> OpaquePointer?
    let disposeModule: @convention(c) (OpaquePointer) -> Void
    let createBuilderInContext: @convention(c) (OpaquePointer) -> OpaquePointer?
    let disposeBuilder: @convention(c) (OpaquePointer) -> Void
    let disposeMessage: @convention(c) (OwnedCString) -> Void
    let printModuleToString: @convention(c) (OpaquePointer) -> OwnedCString
    let verifyModule:
        @convention(c) (OpaquePointer, UInt32, UnsafeMutablePointer<OwnedCString>?) -> Int32
    let setTarget: @convention(c) (OpaquePointer, CStringArgument) -> Void
    let setDataLayout: @convention(c) (OpaquePointer, CStringArgument) -> Void

    // Types.
    let voidTypeInContext: ContextTypeFunction
    let halfTypeInContext: ContextTypeFunction
    let floatTypeInContext: ContextTypeFunction
    let int1TypeInContext: ContextTypeFunction
    let int8TypeInContext: ContextTypeFunction
    let int16TypeInContext: ContextTypeFunction
    let int32TypeInContext: ContextTypeFunction
    let int64TypeInContext: ContextTypeFunction
    let pointerType: @convention(c) (OpaquePointer, UInt32) -> OpaquePointer
    let vectorType: @convention(c) (OpaquePointer, UInt32) -> OpaquePointer
    let arrayType: @convention(c) (OpaquePointer, UInt32) -> OpaquePointer
    let functionType: @convention(c) (OpaquePointer, HandleArray, UInt32, Int32) -> OpaquePointer
    let typeOf: @convention(c) (OpaquePointer) -> OpaquePointer
    let getTypeKind: @convention(c) (OpaquePointer) -> UInt32
    let getIntTypeWidth: @convention(c) (OpaquePointer) -> UInt32
    let getVectorSize: @convention(c) (OpaquePointer) -> UInt32
    let getArrayLength: @convention(c) (OpaquePointer) -> UInt32
    let getElementType: @convention(c) (OpaquePointer) -> OpaquePointer
    let getReturnType: @convention(c) (OpaquePointer) -> OpaquePointer
    /// Only in LLVM 15+, where a context may hold opaque pointers; absent means typed pointers.
    let pointerTypeIsOpaque: (@convention(c) (OpaquePointer) -> Int32)?

    // Constants and globals.
    let constReal: @convention(c) (OpaquePointer, Double) -> OpaquePointer
    let constInt: @convention(c) (OpaquePointer, UInt64, Int32) -> OpaquePointer
    let constVector: @convention(c) (HandleArray, UInt32) -> OpaquePointer
    let getUndef: @convention(c) (OpaquePointer) -> OpaquePointer
    let constNull: @convention(c) (OpaquePointer) -> OpaquePointer
    let constStringInContext:
        @convention(c) (OpaquePointer, CStringArgument, UInt32, Int32) -> OpaquePointer
    let addGlobal: @convention(c) (OpaquePointer, OpaquePointer, CStringArgument) -> OpaquePointer
    let setInitializer: @convention(c) (OpaquePointer, OpaquePointer) -> Void
    let setGlobalConstant: @convention(c) (OpaquePointer, Int32) -> Void
    let setLinkage: @convention(c) (OpaquePointer, UInt32) -> Void
    let setUnnamedAddress: @convention(c) (OpaquePointer, UInt32) -> Void
    let setAlignment: @convention(c) (OpaquePointer, UInt32) -> Void
    let setSection: @convention(c) (OpaquePointer, UnsafePointer<CChar>) -> Void

    // Functions and attributes.
    let addFunction: @convention(c) (OpaquePointer, CStringArgument, OpaquePointer) -> OpaquePointer
    let getNamedFunction: @convention(c) (OpaquePointer, CStringArgument) -> OpaquePointer?
    let getParam: @convention(c) (OpaquePointer, UInt32) -> OpaquePointer
    let getEnumAttributeKindForName: @convention(c) (CStringArgument, Int) -> UInt32
    let createEnumAttribute: @convention(c) (OpaquePointer, UInt32, UInt64) -> OpaquePointer
    let createStringAttribute:
        @convention(c) (OpaquePointer, CStringArgument, UInt32, CStringArgument, UInt32) ->
            OpaquePointer
    let addAttributeAtIndex: @convention(c) (OpaquePointer, UInt32, OpaquePointer) -> Void

    // Blocks.
    let appendBasicBlockInContext:
        @convention(c) (OpaquePointer, OpaquePointer, CStringArgument) -> OpaquePointer
    let positionBuilderAtEnd: @convention(c) (OpaquePointer, OpaquePointer) -> Void
    let getInsertBlock: @convention(c) (OpaquePointer) -> OpaquePointer?
    let getBasicBlockParent: @convention(c) (OpaquePointer) -> OpaquePointer
    let getFirstInstruction: @convention(c) (OpaquePointer) -> OpaquePointer?
    let positionBuilderBefore: @convention(c) (OpaquePointer, OpaquePointer) -> Void
    let buildAlloca: @convention(c) (OpaquePointer, OpaquePointer, CStringArgument) -> OpaquePointer

    // Instructions.
    let buildAdd: BinaryBuilderFunction
    let buildNSWAdd: BinaryBuilderFunction
    let buildSub: BinaryBuilderFunction
    let buildMul: BinaryBuilderFunction
    let buildSDiv: BinaryBuilderFunction
    let buildSRem: BinaryBuilderFunction
    let buildAnd: BinaryBuilderFunction
    let buildOr: BinaryBuilderFunction
    let buildXor: BinaryBuilderFunction
    let buildShl: BinaryBuilderFunction
    let buildLShr: BinaryBuilderFunction
    let buildAShr: BinaryBuilderFunction
    let buildFAdd: BinaryBuilderFunction
    let buildFSub: BinaryBuilderFunction
    let buildFMul: BinaryBuilderFunction
    let buildFDiv: BinaryBuilderFunction
    let buildFNeg: @convention(c) (OpaquePointer, OpaquePointer, CStringArgument) -> OpaquePointer
    let buildICmp:
        @convention(c) (OpaquePointer, UInt32, OpaquePointer, OpaquePointer, CStringArgument) ->
            OpaquePointer
    let buildFCmp:
        @convention(c) (OpaquePointer, UInt32, OpaquePointer, OpaquePointer, CStringArgument) ->
            OpaquePointer
    let buildSelect:
        @convention(c) (OpaquePointer, OpaquePointer, OpaquePointer, OpaquePointer, CStringArgument)
            -> OpaquePointer
    let buildInBoundsGEP2:
        @convention(c) (
            OpaquePointer, OpaquePointer, OpaquePointer, HandleArray, UInt32, CStringArgument
        )
            -> OpaquePointer
    let buildGEP2:
        @convention(c) (
            OpaquePointer, OpaquePointer, OpaquePointer, HandleArray, UInt32, CStringArgument
        )
            -> OpaquePointer
    let buildLoad2:
        @convention(c) (OpaquePointer, OpaquePointer, OpaquePointer, CStringArgument) ->
            OpaquePointer
    let buildStore: @convention(c) (OpaquePointer, OpaquePointer, OpaquePointer) -> OpaquePointer
    let buildBitCast: CastBuilderFunction
    let buildSIToFP: CastBuilderFunction
    let buildUIToFP: CastBuilderFunction
    let buildFPToSI: CastBuilderFunction
    let buildSExt: CastBuilderFunction
    let buildZExt: CastBuilderFunction
    let buildTrunc: CastBuilderFunction
    let buildFPExt: CastBuilderFunction
    let buildFPTrunc: CastBuilderFunction
    let buildCall2:
        @convention(c) (
            OpaquePointer, OpaquePointer, OpaquePointer, HandleArray, UInt32, CStringArgument
        )
            -> OpaquePointer
    let buildInsertElement:
        @convention(c) (OpaquePointer, OpaquePointer, OpaquePointer, OpaquePointer, CStringArgument)
            -> OpaquePointer
    let buildExtractElement:
        @convention(c) (OpaquePointer, OpaquePointer, OpaquePointer, CStringArgument) ->
            OpaquePointer
    let buildShuffleVector:
        @convention(c) (OpaquePointer, OpaquePointer, OpaquePointer, OpaquePointer, CStringArgument)
            -> OpaquePointer
    let buildPhi: @convention(c) (OpaquePointer, OpaquePointer, CStringArgument) -> OpaquePointer
    let addIncoming: @convention(c) (OpaquePointer, HandleArray, HandleArray, UInt32) -> Void
    let buildBr: @convention(c) (OpaquePointer, OpaquePointer) -> OpaquePointer
    let buildCondBr:
        @convention(c) (OpaquePointer, OpaquePointer, OpaquePointer, OpaquePointer) -> OpaquePointer
    let buildRetVoid: @convention(c) (OpaquePointer) -> OpaquePointer
    let buildRet: @convention(c) (OpaquePointer, OpaquePointer) -> OpaquePointer

    // Targets and machine code.
    let getDefaultTargetTriple: @convention(c) () -> OwnedCString
    let normalizeTargetTriple: @convention(c) (CStringArgument) -> OwnedCString
    let getHostCPUName: @convention(c) () -> OwnedCString
    let getHostCPUFeatures: @convention(c) () -> OwnedCString
    let getFirstTarget: @convention(c) () -> OpaquePointer?
    let getNextTarget: @convention(c) (OpaquePointer) -> OpaquePointer?
    let getTargetName: @convention(c) (OpaquePointer) -> CStringArgument
    let getTargetFromTriple:
        @convention(c) (
            CStringArgument, UnsafeMutablePointer<OpaquePointer?>,
            UnsafeMutablePointer<OwnedCString>
        ) -> Int32
    let createTargetMachine:
        @convention(c) (
            OpaquePointer, CStringArgument, CStringArgument, CStringArgument, UInt32, UInt32, UInt32
        ) -> OpaquePointer?
    let disposeTargetMachine: @convention(c) (OpaquePointer) -> Void
    let createTargetDataLayout: @convention(c) (OpaquePointer) -> OpaquePointer
    let copyStringRepOfTargetData: @convention(c) (OpaquePointer) -> OwnedCString
    let disposeTargetData: @convention(c) (OpaquePointer) -> Void
    let targetMachineEmitToMemoryBuffer:
        @convention(c) (
            OpaquePointer, OpaquePointer, UInt32, UnsafeMutablePointer<OwnedCString>,
            UnsafeMutablePointer<OpaquePointer?>
        ) -> Int32
    let getBufferStart: @convention(c) (OpaquePointer) -> CStringArgument
    let getBufferSize: @convention(c) (OpaquePointer) -> Int
    let disposeMemoryBuffer: @convention(c) (OpaquePointer) -> Void

    // New pass manager.
    let runPasses:
        @convention(c) (OpaquePointer, CStringArgument, OpaquePointer?, OpaquePointer) ->
            OpaquePointer?
    let createPassBuilderOptions: @convention(c) () -> OpaquePointer
    let disposePassBuilderOptions: @convention(c) (OpaquePointer) -> Void
    let passBuilderOptionsSetLoopVectorization: @convention(c) (OpaquePointer, Int32) -> Void
    let passBuilderOptionsSetSLPVectorization: @convention(c) (OpaquePointer, Int32) -> Void
    let passBuilderOptionsSetLoopInterleaving: @convention(c) (OpaquePointer, Int32) -> Void
    let passBuilderOptionsSetLoopUnrolling: @convention(c) (OpaquePointer, Int32) -> Void
    let getErrorMessage: @convention(c) (OpaquePointer) -> OwnedCString
    let disposeErrorMessage: @convention(c) (OwnedCString) -> Void

    /// Only in LLVM 16+; older versions are identified from the library's file name.
    let getVersion:
        (
            @convention(c) (
                UnsafeMutablePointer<UInt32>, UnsafeMutablePointer<UInt32>,
                UnsafeMutablePointer<UInt32>
            ) -> Void
        )?

    /// Binds every function, failing on the first one the library lacks.
    init(_ b: SymbolBinder) throws {
        contextCreate = try b.required("LLVMContextCreate")
        contextDispose = try b.required("LLVMContextDispose")
        moduleCreateWithNameInContext = try b.required("LLVMModuleCreateWithNameInContext")
        disposeModule = try b.required("LLVMDisposeModule")
        createBuilderInContext = try b.required("LLVMCreateBuilderInContext")
        disposeBuilder = try b.required("LLVMDisposeBuilder")
        disposeMessage = try b.required("LLVMDisposeMessage")
        printModuleToString = try b.required("LLVMPrintModuleToString")
        verifyModule = try b.required("LLVMVerifyModule")
        setTarget = try b.required("LLVMSetTarget")
        setDataLayout = try b.required("LLVMSetDataLayout")

        voidTypeInContext = try b.required("LLVMVoidTypeInContext")
        halfTypeInContext = try b.required("LLVMHalfTypeInContext")
        floatTypeInContext = try b.required("LLVMFloatTypeInContext")
        int1TypeInContext = try b.required("LLVMInt1TypeInContext")
        int8TypeInContext = try b.required("LLVMInt8TypeInContext")
        int16TypeInContext = try b.required("LLVMInt16TypeInContext")
        int32TypeInContext = try b.required("LLVMInt32TypeInContext")
        int64TypeInContext = try b.required("LLVMInt64TypeInContext")
        pointerType = try b.required("LLVMPointerType")
        vectorType = try b.required("LLVMVectorType")
        arrayType = try b.required("LLVMArrayType")
        functionType = try b.required("LLVMFunctionType")
        typeOf = try b.required("LLVMTypeOf")
        getTypeKind = try b.required("LLVMGetTypeKind")
        getIntTypeWidth = try b.required("LLVMGetIntTypeWidth")
        getVectorSize = try b.required("LLVMGetVectorSize")
        getArrayLength = try b.required("LLVMGetArrayLength")
        getElementType = try b.required("LLVMGetElementType")
        getReturnType = try b.required("LLVMGetReturnType")
        pointerTypeIsOpaque = b.optional("LLVMPointerTypeIsOpaque")

        constReal = try b.required("LLVMConstReal")
        constInt = try b.required("LLVMConstInt")
        constVector = try b.required("LLVMConstVector")
        getUndef = try b.required("LLVMGetUndef")
        constNull = try b.required("LLVMConstNull")
        constStringInContext = try b.required("LLVMConstStringInContext")
        addGlobal = try b.required("LLVMAddGlobal")
        setInitializer = try b.required("LLVMSetInitializer")
        setGlobalConstant = try b.required("LLVMSetGlobalConstant")
        setLinkage = try b.required("LLVMSetLinkage")
        setUnnamedAddress = try b.required("LLVMSetUnnamedAddress")
        setAlignment = try b.required("LLVMSetAlignment")
        setSection = try b.required("LLVMSetSection")

        addFunction = try b.required("LLVMAddFunction")
        getNamedFunction = try b.required("LLVMGetNamedFunction")
        getParam = try b.required("LLVMGetParam")
        getEnumAttributeKindForName = try b.required("LLVMGetEnumAttributeKindForName")
        createEnumAttribute = try b.required("LLVMCreateEnumAttribute")
        createStringAttribute = try b.required("LLVMCreateStringAttribute")
        addAttributeAtIndex = try b.required("LLVMAddAttributeAtIndex")

        appendBasicBlockInContext = try b.required("LLVMAppendBasicBlockInContext")
        positionBuilderAtEnd = try b.required("LLVMPositionBuilderAtEnd")
        getInsertBlock = try b.required("LLVMGetInsertBlock")
        getBasicBlockParent = try b.required("LLVMGetBasicBlockParent")
        getFirstInstruction = try b.required("LLVMGetFirstInstruction")
        positionBuilderBefore = try b.required("LLVMPositionBuilderBefore")
        buildAlloca = try b.required("LLVMBuildAlloca")

        buildAdd = try b.required("LLVMBuildAdd")
        buildNSWAdd = try b.required("LLVMBuildNSWAdd")
        buildSub = try b.required("LLVMBuildSub")
        buildMul = try b.required("LLVMBuildMul")
        buildSDiv = try b.required("LLVMBuildSDiv")
        buildSRem = try b.required("LLVMBuildSRem")
        buildAnd = try b.required("LLVMBuildAnd")
        buildOr = try b.required("LLVMBuildOr")
        buildXor = try b.required("LLVMBuildXor")
        buildShl = try b.required("LLVMBuildShl")
        buildLShr = try b.required("LLVMBuildLShr")
        buildAShr = try b.required("LLVMBuildAShr")
        buildFAdd = try b.required("LLVMBuildFAdd")
        buildFSub = try b.required("LLVMBuildFSub")
        buildFMul = try b.required("LLVMBuildFMul")
        buildFDiv = try b.required("LLVMBuildFDiv")
        buildFNeg = try b.required("LLVMBuildFNeg")
        buildICmp = try b.required("LLVMBuildICmp")
        buildFCmp = try b.required("LLVMBuildFCmp")
        buildSelect = try b.required("LLVMBuildSelect")
        buildInBoundsGEP2 = try b.required("LLVMBuildInBoundsGEP2")
        buildGEP2 = try b.required("LLVMBuildGEP2")
        buildLoad2 = try b.required("LLVMBuildLoad2")
        buildStore = try b.required("LLVMBuildStore")
        buildBitCast = try b.required("LLVMBuildBitCast")
        buildSIToFP = try b.required("LLVMBuildSIToFP")
        buildUIToFP = try b.required("LLVMBuildUIToFP")
        buildFPToSI = try b.required("LLVMBuildFPToSI")
        buildSExt = try b.required("LLVMBuildSExt")
        buildZExt = try b.required("LLVMBuildZExt")
        buildTrunc = try b.required("LLVMBuildTrunc")
        buildFPExt = try b.required("LLVMBuildFPExt")
        buildFPTrunc = try b.required("LLVMBuildFPTrunc")
        buildCall2 = try b.required("LLVMBuildCall2")
        buildInsertElement = try b.required("LLVMBuildInsertElement")
        buildExtractElement = try b.required("LLVMBuildExtractElement")
        buildShuffleVector = try b.required("LLVMBuildShuffleVector")
        buildPhi = try b.required("LLVMBuildPhi")
        addIncoming = try b.required("LLVMAddIncoming")
        buildBr = try b.required("LLVMBuildBr")
        buildCondBr = try b.required("LLVMBuildCondBr")
        buildRetVoid = try b.required("LLVMBuildRetVoid")
        buildRet = try b.required("LLVMBuildRet")

        getDefaultTargetTriple = try b.required("LLVMGetDefaultTargetTriple")
        normalizeTargetTriple = try b.required("LLVMNormalizeTargetTriple")
        getHostCPUName = try b.required("LLVMGetHostCPUName")
        getHostCPUFeatures = try b.required("LLVMGetHostCPUFeatures")
        getFirstTarget = try b.required("LLVMGetFirstTarget")
        getNextTarget = try b.required("LLVMGetNextTarget")
        getTargetName = try b.required("LLVMGetTargetName")
        getTargetFromTriple = try b.required("LLVMGetTargetFromTriple")
        createTargetMachine = try b.required("LLVMCreateTargetMachine")
        disposeTargetMachine = try b.required("LLVMDisposeTargetMachine")
        createTargetDataLayout = try b.required("LLVMCreateTargetDataLayout")
        copyStringRepOfTargetData = try b.required("LLVMCopyStringRepOfTargetData")
        disposeTargetData = try b.required("LLVMDisposeTargetData")
        targetMachineEmitToMemoryBuffer = try b.required("LLVMTargetMachineEmitToMemoryBuffer")
        getBufferStart = try b.required("LLVMGetBufferStart")
        getBufferSize = try b.required("LLVMGetBufferSize")
        disposeMemoryBuffer = try b.required("LLVMDisposeMemoryBuffer")

        runPasses = try b.required("LLVMRunPasses")
        createPassBuilderOptions = try b.required("LLVMCreatePassBuilderOptions")
        disposePassBuilderOptions = try b.required("LLVMDisposePassBuilderOptions")
        passBuilderOptionsSetLoopVectorization = try b.required(
            "LLVMPassBuilderOptionsSetLoopVectorization")
        passBuilderOptionsSetSLPVectorization = try b.required(
            "LLVMPassBuilderOptionsSetSLPVectorization")
        passBuilderOptionsSetLoopInterleaving = try b.required(
            "LLVMPassBuilderOptionsSetLoopInterleaving")
        passBuilderOptionsSetLoopUnrolling = try b.required(
            "LLVMPassBuilderOptionsSetLoopUnrolling")
        getErrorMessage = try b.required("LLVMGetErrorMessage")
        disposeErrorMessage = try b.required("LLVMDisposeErrorMessage")

        getVersion = b.optional("LLVMGetVersion")
    }

    /// Copies an LLVM-allocated message into a Swift string and frees it.
    func takeMessage(_ message: OwnedCString) -> String {
        guard let message else { return "" }
        defer { disposeMessage(message) }
        return String(cString: message)
    }
}
