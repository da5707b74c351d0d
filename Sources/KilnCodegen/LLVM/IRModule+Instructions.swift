/// Integer comparison predicates for `icmp`.
enum IntPredicate {
    case eq, ne, slt, sle, sgt, sge, ult, ule, ugt, uge

    /// The `LLVMIntPredicate` value.
    var llvmValue: UInt32 {
        switch self {
        case .eq: 32
        case .ne: 33
        case .ugt: 34
        case .uge: 35
        case .ult: 36
        case .ule: 37
        case .sgt: 38
        case .sge: 39
        case .slt: 40
        case .sle: 41
        }
    }
}

/// Floating-point comparison predicates for `fcmp`: ordered ones (false if either is NaN),
/// `ord`/`uno` to test for NaN, and `uge` (true if either is NaN) for clamps that must send NaN to a bound.
enum RealPredicate {
    case oeq, one, olt, ole, ogt, oge, ord, uno, uge

    /// The `LLVMRealPredicate` value.
    var llvmValue: UInt32 {
        switch self {
        case .oeq: 1
        case .ogt: 2
        case .oge: 3
        case .olt: 4
        case .ole: 5
        case .one: 6
        case .ord: 7
        case .uno: 8
        case .uge: 11
        }
    }
}

extension IRModule {
    // MARK: Blocks

    /// Appends an empty basic block to `function`.
    func appendBlock(_ name: String, to function: IRValue) -> IRBlock {
        llvm.appendBasicBlockInContext(context, function, name)
    }

    /// Makes new instructions go at the end of `block`.
    func position(at block: IRBlock) { llvm.positionBuilderAtEnd(builder, block) }

    /// The block new instructions go into.
    var insertBlock: IRBlock {
        guard let block = llvm.getInsertBlock(builder) else {
            preconditionFailure("the IR builder is not positioned in a block; call position(at:)")
        }
        return block
    }

    /// Makes new instructions go at the start of `block`, before anything already in it.
    func positionAtStart(of block: IRBlock) {
        if let first = llvm.getFirstInstruction(block) {
            llvm.positionBuilderBefore(builder, first)
        } else {
            llvm.positionBuilderAtEnd(builder, block)
        }
    }

    /// The function that holds the block new instructions go into.
    var currentFunction: IRValue { llvm.getBasicBlockParent(insertBlock) }

    /// A stack slot for one value of `type`, aligned to `alignment` bytes when given; place it in
    /// the entry block so mem2reg can promote it.
    func alloca(_ type: IRType, alignment: Int? = nil, name: String = "") -> IRValue {
        let slot = llvm.buildAlloca(builder, type, name)
        if let alignment { llvm.setAlignment(slot, UInt32(alignment)) }
        return slot
    }

    // MARK: Arithmetic

    /// Integer `a + b` (wrapping).
    func add(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildAdd(builder, a, b, name)
    }
    /// Integer `a - b` (wrapping).
    func sub(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildSub(builder, a, b, name)
    }
    /// Integer `a * b` (wrapping).
    func mul(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildMul(builder, a, b, name)
    }
    /// Signed integer division, rounding toward zero.
    func sdiv(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildSDiv(builder, a, b, name)
    }
    /// Signed remainder, with the sign of `a`.
    func srem(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildSRem(builder, a, b, name)
    }
    /// Bitwise and.
    func and(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildAnd(builder, a, b, name)
    }
    /// Bitwise or.
    func or(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildOr(builder, a, b, name)
    }
    /// Bitwise exclusive or.
    func xor(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildXor(builder, a, b, name)
    }
    /// Shift left.
    func shl(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildShl(builder, a, b, name)
    }
    /// Logical (zero-filling) shift right.
    func lshr(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildLShr(builder, a, b, name)
    }
    /// Arithmetic (sign-filling) shift right.
    func ashr(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildAShr(builder, a, b, name)
    }
    /// Floating-point `a + b`.
    func fadd(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildFAdd(builder, a, b, name)
    }
    /// Floating-point `a - b`.
    func fsub(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildFSub(builder, a, b, name)
    }
    /// Floating-point `a * b`.
    func fmul(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildFMul(builder, a, b, name)
    }
    /// Floating-point `a / b`.
    func fdiv(_ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildFDiv(builder, a, b, name)
    }
    /// Floating-point negation (flips the sign bit, also of NaN and zero).
    func fneg(_ a: IRValue, name: String = "") -> IRValue { llvm.buildFNeg(builder, a, name) }

    // MARK: Comparison and selection

    /// Integer comparison, giving `i1` (or a vector of `i1`).
    func icmp(_ predicate: IntPredicate, _ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildICmp(builder, predicate.llvmValue, a, b, name)
    }

    /// Floating-point comparison, giving `i1` (or a vector of `i1`).
    func fcmp(_ predicate: RealPredicate, _ a: IRValue, _ b: IRValue, name: String = "") -> IRValue
    {
        llvm.buildFCmp(builder, predicate.llvmValue, a, b, name)
    }

    /// `condition ? a : b`, lane-wise when `condition` is a vector.
    func select(_ condition: IRValue, _ a: IRValue, _ b: IRValue, name: String = "") -> IRValue {
        llvm.buildSelect(builder, condition, a, b, name)
    }

    // MARK: Memory

    /// The in-bounds address of `pointer[indices…]` counted in `elementType`s.
    func gep(_ elementType: IRType, _ pointer: IRValue, _ indices: [IRValue], name: String = "")
        -> IRValue
    {
        // With LLVM 14's typed pointers the base must point to elementType; with opaque
        // pointers this bitcast folds away.
        let base = bitcast(pointer, to: self.pointer(to: elementType))
        return llvm.buildInBoundsGEP2(
            builder, elementType, base, indices, UInt32(indices.count), name)
    }

    /// A GEP without `inbounds`: plain address arithmetic whose result may lie outside any object,
    /// such as the base a row window is addressed from as if it held every row.
    func gepWrapping(_ elementType: IRType, _ pointer: IRValue, _ indices: [IRValue], name: String = "") -> IRValue {
        let base = bitcast(pointer, to: self.pointer(to: elementType))
        return llvm.buildGEP2(builder, elementType, base, indices, UInt32(indices.count), name)
    }

    /// Loads a `type` from `pointer`, which need only be `alignment`-byte aligned.
    func load(_ type: IRType, from pointer: IRValue, alignment: Int, name: String = "") -> IRValue {
        let address = bitcast(pointer, to: self.pointer(to: type))
        let load = llvm.buildLoad2(builder, type, address, name)
        llvm.setAlignment(load, UInt32(alignment))
        return load
    }

    /// Stores `value` to `pointer`, which need only be `alignment`-byte aligned.
    @discardableResult
    func store(_ value: IRValue, to pointer: IRValue, alignment: Int) -> IRValue {
        let address = bitcast(pointer, to: self.pointer(to: typeOf(value)))
        let store = llvm.buildStore(builder, value, address)
        llvm.setAlignment(store, UInt32(alignment))
        return store
    }

    // MARK: Casts

    /// Reinterprets the bits of `value` as `type` (no instruction when the types already match).
    func bitcast(_ value: IRValue, to type: IRType, name: String = "") -> IRValue {
        llvm.buildBitCast(builder, value, type, name)
    }
    /// Signed integer to floating point.
    func sitofp(_ value: IRValue, to type: IRType, name: String = "") -> IRValue {
        llvm.buildSIToFP(builder, value, type, name)
    }
    /// Unsigned integer to floating point.
    func uitofp(_ value: IRValue, to type: IRType, name: String = "") -> IRValue {
        llvm.buildUIToFP(builder, value, type, name)
    }
    /// Floating point to signed integer, rounding toward zero (poison when out of range).
    func fptosi(_ value: IRValue, to type: IRType, name: String = "") -> IRValue {
        llvm.buildFPToSI(builder, value, type, name)
    }
    /// Sign-extends an integer to a wider one.
    func sext(_ value: IRValue, to type: IRType, name: String = "") -> IRValue {
        llvm.buildSExt(builder, value, type, name)
    }
    /// Zero-extends an integer to a wider one.
    func zext(_ value: IRValue, to type: IRType, name: String = "") -> IRValue {
        llvm.buildZExt(builder, value, type, name)
    }
    /// Truncates an integer to a narrower one.
    func trunc(_ value: IRValue, to type: IRType, name: String = "") -> IRValue {
        llvm.buildTrunc(builder, value, type, name)
    }
    /// Widens a floating-point value (e.g. f16 → f32), exactly.
    func fpext(_ value: IRValue, to type: IRType, name: String = "") -> IRValue {
        llvm.buildFPExt(builder, value, type, name)
    }
    /// Narrows a floating-point value (e.g. f32 → f16), rounding to nearest even.
    func fptrunc(_ value: IRValue, to type: IRType, name: String = "") -> IRValue {
        llvm.buildFPTrunc(builder, value, type, name)
    }

    // MARK: Calls

    /// Calls `function`, whose type is `type`; the result is unusable for `void` functions.
    @discardableResult
    func call(_ function: IRValue, type: IRType, _ arguments: [IRValue], name: String = "")
        -> IRValue
    {
        // LLVM refuses names on void values, so a name given for a void call is dropped.
        let resultName = llvm.getTypeKind(llvm.getReturnType(type)) == 0 ? "" : name
        return llvm.buildCall2(
            builder, type, function, arguments, UInt32(arguments.count), resultName)
    }

    // MARK: Vectors

    /// `vector` with lane `index` replaced by `value`.
    func insertElement(_ vector: IRValue, _ value: IRValue, at index: Int, name: String = "")
        -> IRValue
    {
        llvm.buildInsertElement(builder, vector, value, constant(index, i32), name)
    }

    /// Lane `index` of `vector`.
    func extractElement(_ vector: IRValue, at index: Int, name: String = "") -> IRValue {
        llvm.buildExtractElement(builder, vector, constant(index, i32), name)
    }

    /// Picks lanes from `a` (indices 0..<n) and `b` (n..<2n); -1 means "don't care".
    func shuffle(_ a: IRValue, _ b: IRValue, mask: [Int], name: String = "") -> IRValue {
        let lanes = mask.map { $0 < 0 ? undef(i32) : constant($0, i32) }
        return llvm.buildShuffleVector(
            builder, a, b, llvm.constVector(lanes, UInt32(lanes.count)), name)
    }

    /// A vector with `scalar` (any value, not only a constant) in each of `count` lanes.
    func broadcast(_ scalar: IRValue, count: Int, name: String = "") -> IRValue {
        let single = insertElement(undef(vector(typeOf(scalar), count)), scalar, at: 0)
        return shuffle(
            single, undef(typeOf(single)), mask: Array(repeating: 0, count: count), name: name)
    }

    // MARK: Control flow

    /// A φ node of `type`; give it one incoming value per predecessor with `addIncoming`.
    func phi(_ type: IRType, name: String = "") -> IRValue { llvm.buildPhi(builder, type, name) }

    /// Records that `phi` is `value` when control arrives from `block`.
    func addIncoming(_ phi: IRValue, _ value: IRValue, from block: IRBlock) {
        llvm.addIncoming(phi, [value], [block], 1)
    }

    /// Unconditional branch.
    @discardableResult
    func branch(to block: IRBlock) -> IRValue { llvm.buildBr(builder, block) }

    /// Branches to `then` when `condition` is true, else to `else`.
    @discardableResult
    func conditionalBranch(_ condition: IRValue, then: IRBlock, else otherwise: IRBlock) -> IRValue
    {
        llvm.buildCondBr(builder, condition, then, otherwise)
    }

    /// `ret void`.
    @discardableResult
    func returnVoid() -> IRValue { llvm.buildRetVoid(builder) }

    /// `ret value`.
    @discardableResult
    func `return`(_ value: IRValue) -> IRValue { llvm.buildRet(builder, value) }
}
