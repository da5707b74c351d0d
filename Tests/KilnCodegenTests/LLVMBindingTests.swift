import Foundation
import Testing

@testable import KilnCodegen

/// Builds `void kiln_test_add(float* a, float* b, float* out)` over 37 floats: two 16-lane
/// vector iterations and a 5-element scalar remainder.
private func buildAdd(_ ir: IRModule) {
    let pointer = ir.pointer(to: ir.f32)
    let function = beginFunction(
        ir, "kiln_test_add", returning: ir.void, parameters: [pointer, pointer, pointer])
    for index in 0..<3 {
        ir.addParameterAttribute("noalias", to: function, parameter: index)
        ir.addParameterAttribute("nocapture", to: function, parameter: index)
    }
    let (a, b, out) = (
        ir.parameter(function, 0), ir.parameter(function, 1), ir.parameter(function, 2)
    )
    let lanes = ir.vector(ir.f32, 16)
    ir.loop("v", from: 0, to: 32, step: 16) { i in
        let x = ir.load(lanes, from: ir.gep(ir.f32, a, [i]), alignment: 4)
        let y = ir.load(lanes, from: ir.gep(ir.f32, b, [i]), alignment: 4)
        ir.store(ir.fadd(x, y), to: ir.gep(ir.f32, out, [i]), alignment: 4)
    }
    ir.loop("s", from: 32, to: 37) { i in
        let x = ir.load(ir.f32, from: ir.gep(ir.f32, a, [i]), alignment: 4)
        let y = ir.load(ir.f32, from: ir.gep(ir.f32, b, [i]), alignment: 4)
        ir.store(ir.fadd(x, y), to: ir.gep(ir.f32, out, [i]), alignment: 4)
    }
    ir.returnVoid()
}

/// Builds `void kiln_test_fma(float* a, float* b, float* c, float* out)`: out = a*b+c over 32
/// floats with `llvm.fma.v16f32`.
private func buildFMA(_ ir: IRModule) {
    let pointer = ir.pointer(to: ir.f32)
    let function = beginFunction(
        ir, "kiln_test_fma", returning: ir.void, parameters: [pointer, pointer, pointer, pointer])
    let lanes = ir.vector(ir.f32, 16)
    let fma = ir.intrinsic(
        "fma", overloads: [lanes], returning: lanes, parameters: [lanes, lanes, lanes])
    ir.loop("i", from: 0, to: 32, step: 16) { i in
        let operands = (0..<3).map { index in
            ir.load(lanes, from: ir.gep(ir.f32, ir.parameter(function, index), [i]), alignment: 4)
        }
        let result = ir.call(fma.function, type: fma.type, operands)
        ir.store(result, to: ir.gep(ir.f32, ir.parameter(function, 3), [i]), alignment: 4)
    }
    ir.returnVoid()
}

/// Builds `void kiln_test_affine(float* x, float* out, i64 n)`: out[i] = x[i] * 3 + table[i],
/// with a runtime trip count and the table in a constant global.
private func buildAffine(_ ir: IRModule, table: [Float]) {
    let pointer = ir.pointer(to: ir.f32)
    let function = beginFunction(
        ir, "kiln_test_affine", returning: ir.void, parameters: [pointer, pointer, ir.i64])
    let bytes = table.withUnsafeBytes { Array($0) }
    let global = ir.addConstantBytes(name: "kiln_test_table", bytes: bytes, alignment: 64)
    let (x, out, n) = (
        ir.parameter(function, 0), ir.parameter(function, 1), ir.parameter(function, 2)
    )
    ir.loop("i", from: ir.constant(0, ir.i64), to: n) { i in
        let value = ir.load(ir.f32, from: ir.gep(ir.f32, x, [i]), alignment: 4)
        let bias = ir.load(ir.f32, from: ir.gep(ir.f32, global, [i]), alignment: 4)
        let result = ir.fadd(ir.fmul(value, ir.constant(Float(3))), bias)
        ir.store(result, to: ir.gep(ir.f32, out, [i]), alignment: 4)
    }
    ir.returnVoid()
}

/// Builds `void kiln_test_vector(float s, float* in, float* out)`: out[0..<16] = reverse(in) +
/// broadcast(s), out[16] = in[3], out[17] = |s|.
private func buildVectorOps(_ ir: IRModule) {
    let pointer = ir.pointer(to: ir.f32)
    let function = beginFunction(
        ir, "kiln_test_vector", returning: ir.void, parameters: [ir.f32, pointer, pointer])
    let (s, input, out) = (
        ir.parameter(function, 0), ir.parameter(function, 1), ir.parameter(function, 2)
    )
    let lanes = ir.vector(ir.f32, 16)
    let loaded = ir.load(lanes, from: input, alignment: 4)
    let reversed = ir.shuffle(loaded, ir.undef(lanes), mask: Array((0..<16).reversed()))
    ir.store(ir.fadd(reversed, ir.broadcast(s, count: 16)), to: out, alignment: 4)
    ir.store(
        ir.extractElement(loaded, at: 3), to: ir.gep(ir.f32, out, [ir.constant(16, ir.i64)]),
        alignment: 4)
    let positive = ir.fcmp(.ogt, s, ir.zero(ir.f32))
    ir.store(
        ir.select(positive, s, ir.fneg(s)), to: ir.gep(ir.f32, out, [ir.constant(17, ir.i64)]),
        alignment: 4)
    ir.returnVoid()
}

/// Builds `i64 kiln_test_integer(i64 x)` = sext(trunc((x * 3 + 1) >> 1 to i32)) ^ 5.
private func buildIntegerOps(_ ir: IRModule) {
    let function = beginFunction(ir, "kiln_test_integer", returning: ir.i64, parameters: [ir.i64])
    let x = ir.parameter(function, 0)
    let shifted = ir.ashr(
        ir.add(ir.mul(x, ir.constant(3, ir.i64)), ir.constant(1, ir.i64)), ir.constant(1, ir.i64))
    let narrowed = ir.sext(ir.trunc(shifted, to: ir.i32), to: ir.i64)
    ir.return(ir.xor(narrowed, ir.constant(5, ir.i64)))
}

@Suite("LLVM bindings")
struct LLVMBindingTests {
    @Test("vector add with scalar remainder and llvm.fma compile, link and run")
    func addAndFMARun() throws {
        let ir = try IRModule(name: "kiln_test")
        buildAdd(ir)
        buildFMA(ir)
        #expect(ir.textualIR.contains("llvm.fma.v16f32"))
        let library = try compileAndLoad(ir, for: try TargetMachine.host())

        typealias Binary =
            @convention(c) (
                UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>
            ) -> Void
        let add = try library.function("kiln_test_add", as: Binary.self)
        let a = (0..<37).map { Float($0) * 0.5 }
        let b = (0..<37).map { Float(100 - $0) }
        var out = [Float](repeating: -1, count: 37)
        add(a, b, &out)
        for i in 0..<37 { #expect(out[i] == a[i] + b[i], "element \(i)") }

        typealias Ternary =
            @convention(c) (
                UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                UnsafeMutablePointer<Float>
            ) -> Void
        let fma = try library.function("kiln_test_fma", as: Ternary.self)
        let x = (0..<32).map { Float($0) / 3 }
        let y = (0..<32).map { 1 + Float($0) / 7 }
        let z = (0..<32).map { Float($0) - 16 }
        var fused = [Float](repeating: .nan, count: 32)
        fma(x, y, z, &fused)
        for i in 0..<32 { #expect(fused[i] == z[i].addingProduct(x[i], y[i]), "element \(i)") }
    }

    @Test("runtime-bounded loop, constant global, vector and integer operations run")
    func miscellaneousKernelsRun() throws {
        let ir = try IRModule(name: "kiln_misc")
        let table = (0..<64).map { Float($0) * 0.25 }
        buildAffine(ir, table: table)
        buildVectorOps(ir)
        buildIntegerOps(ir)
        let library = try compileAndLoad(ir, for: try TargetMachine.host())

        typealias Affine =
            @convention(c) (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int64) -> Void
        let affine = try library.function("kiln_test_affine", as: Affine.self)
        let x = (0..<64).map { Float($0) - 20 }
        for n in [0, 1, 7, 64] {
            var out = [Float](repeating: .nan, count: 64)
            affine(x, &out, Int64(n))
            for i in 0..<64 {
                if i < n {
                    #expect(out[i] == x[i] * 3 + table[i], "n \(n) element \(i)")
                } else {
                    #expect(out[i].isNaN, "n \(n) element \(i) was written")
                }
            }
        }

        typealias Vector =
            @convention(c) (Float, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
        let vector = try library.function("kiln_test_vector", as: Vector.self)
        let input = (0..<16).map { Float($0 * $0) }
        for s: Float in [-2.5, 4] {
            var out = [Float](repeating: 0, count: 18)
            vector(s, input, &out)
            for i in 0..<16 { #expect(out[i] == input[15 - i] + s, "lane \(i)") }
            #expect(out[16] == input[3])
            #expect(out[17] == abs(s))
        }

        typealias Integer = @convention(c) (Int64) -> Int64
        let integer = try library.function("kiln_test_integer", as: Integer.self)
        for value: Int64 in [0, 1, -7, 1_000_003, 3_000_000_000] {
            let expected = Int64(Int32(truncatingIfNeeded: (value &* 3 &+ 1) >> 1)) ^ 5
            #expect(integer(value) == expected, "x = \(value)")
        }
    }

    @Test("host code for a 16-lane add uses 512-bit registers on AVX-512 machines")
    func hostAssemblyUsesZMM() throws {
        let machine = try TargetMachine.host()
        let ir = try IRModule(name: "kiln_asm")
        buildAdd(ir)
        try ir.verify()
        try machine.optimize(ir)
        let assembly = try machine.emitAssembly(ir)
        #expect(assembly.contains("kiln_test_add"))
        if machine.vectorWidthBits == 512 { #expect(assembly.contains("zmm")) }
    }

    @Test("a block without a terminator fails verification with LLVM's message")
    func verifierRejectsInvalidModule() throws {
        let ir = try IRModule(name: "kiln_invalid")
        _ = beginFunction(ir, "broken", returning: ir.void, parameters: [])
        _ = ir.add(ir.constant(1, ir.i32), ir.constant(2, ir.i32))
        let error = try #require(throws: CodegenError.self) { try ir.verify() }
        #expect(error.message.contains("invalid"))
        #expect(error.message.contains("terminator") || error.message.contains("broken"))
    }

    @Test("loops with no or one iteration emit no loop")
    func degenerateLoops() throws {
        let ir = try IRModule(name: "kiln_loops")
        _ = beginFunction(ir, "degenerate", returning: ir.void, parameters: [])
        var seen: [String] = []
        ir.loop("never", from: 5, to: 5) { _ in seen.append("never") }
        ir.loop("backwards", from: 5, to: 2) { _ in seen.append("backwards") }
        ir.loop("once", from: 3, to: 10, step: 8) { i in
            seen.append("once")
            #expect(i == ir.constant(3, ir.i64))
        }
        ir.returnVoid()
        try ir.verify()
        #expect(seen == ["once"])
        #expect(!ir.textualIR.contains("phi"))
    }

    @Test("nested loops verify, keep source order and leave the builder at the outer exit")
    func nestedLoops() throws {
        let ir = try IRModule(name: "kiln_nested")
        let function = beginFunction(
            ir, "nested", returning: ir.void, parameters: [ir.pointer(to: ir.i64)])
        ir.loop("outer", from: 0, to: 4) { i in
            ir.loop("inner", from: 0, to: 3) { j in
                let offset = ir.add(ir.mul(i, ir.constant(3, ir.i64)), j)
                ir.store(
                    ir.add(i, j), to: ir.gep(ir.i64, ir.parameter(function, 0), [offset]),
                    alignment: 8)
            }
        }
        // Had the builder been left anywhere but the (unterminated) outer exit, this `ret`
        // would follow another terminator or leave a block open, and verification would fail.
        ir.returnVoid()
        try ir.verify()
        let text = ir.textualIR
        let innerExit = try #require(text.range(of: "inner.exit:"))
        let outerLatch = try #require(text.range(of: "outer.latch:"))
        #expect(innerExit.lowerBound < outerLatch.lowerBound)
    }

    @Test("intrinsics are mangled from their overload types and declared once")
    func intrinsicMangling() throws {
        let ir = try IRModule(name: "kiln_intrinsics")
        let v8i32 = ir.vector(ir.i32, 8)
        let first = ir.intrinsic(
            "smax", overloads: [v8i32], returning: v8i32, parameters: [v8i32, v8i32])
        let again = ir.intrinsic(
            "llvm.smax", overloads: [v8i32], returning: v8i32, parameters: [v8i32, v8i32])
        #expect(first.function == again.function)
        _ = ir.intrinsic("exp", overloads: [ir.f32], returning: ir.f32, parameters: [ir.f32])
        let text = ir.textualIR
        #expect(text.contains("@llvm.smax.v8i32("))
        #expect(text.contains("@llvm.exp.f32("))
        #expect(ir.mangledName(ir.vector(ir.f16, 32)) == "v32f16")
    }

    @Test("integer constants wrap to their type's width")
    func integerConstants() throws {
        let ir = try IRModule(name: "kiln_constants")
        #expect(ir.constant(-1, ir.i8) == ir.constant(255, ir.i8))
        #expect(ir.constant(1, ir.i1) == ir.constant(-1, ir.i1))
        _ = beginFunction(ir, "constants", returning: ir.i64, parameters: [])
        ir.return(ir.add(ir.constant(-3, ir.i64), ir.zext(ir.constant(-1, ir.i16), to: ir.i64)))
        try ir.verify()
        #expect(ir.textualIR.contains("ret i64 65532"))
    }

    @Test("a module calling an external function fails to link under -z defs")
    func linkerRejectsUndefinedSymbols() throws {
        let ir = try IRModule(name: "kiln_undefined")
        let sinfType = ir.functionType(returning: ir.f32, parameters: [ir.f32])
        let sinf = ir.addFunction(name: "sinf", type: sinfType, linkage: .external)
        let function = beginFunction(ir, "uses_libm", returning: ir.f32, parameters: [ir.f32])
        ir.return(ir.call(sinf, type: sinfType, [ir.parameter(function, 0)]))
        let error = try #require(throws: CodegenError.self) {
            _ = try compileAndLoad(ir, for: try TargetMachine.host())
        }
        #expect(error.message.contains("sinf"))
    }
}

@Suite("Locating LLVM and targets")
struct LLVMLocationTests {
    @Test("a failed search names every path and says how to fix it")
    func searchFailureMessage() throws {
        let candidates = ["/nonexistent/llvm-99/lib/libLLVM-99.so", "/nonexistent/libLLVM.so"]
        guard case .failure(let error) = LLVMLibrary.open(candidates: candidates) else {
            Issue.record("opening nonexistent libraries succeeded")
            return
        }
        for path in candidates { #expect(error.message.contains(path)) }
        #expect(error.message.contains("libLLVM was not found"))
        #expect(error.message.contains("apt-get install -y llvm-dev"))
        #expect(error.message.contains("KILN_LIBLLVM"))
    }

    @Test("a KILN_LIBLLVM that cannot be loaded is reported as such, with no fallback")
    func explicitLibraryFailure() throws {
        let candidates = LLVMLibrary.candidatePaths(environment: [
            "KILN_LIBLLVM": "/nonexistent/libLLVM.so"
        ])
        #expect(candidates == ["/nonexistent/libLLVM.so"])
        guard
            case .failure(let error) = LLVMLibrary.open(
                candidates: candidates, explicitlyChosen: true)
        else {
            Issue.record("opening a nonexistent KILN_LIBLLVM succeeded")
            return
        }
        #expect(error.message.contains("KILN_LIBLLVM is set to /nonexistent/libLLVM.so"))
    }

    @Test("the default search prefers the newest LLVM and versions are read from paths")
    func defaultSearchOrder() throws {
        let candidates = LLVMLibrary.candidatePaths(environment: [:])
        #expect(candidates.first == "/usr/lib/llvm-19/lib/libLLVM-19.so")
        #expect(candidates.contains("/usr/lib/llvm-14/lib/libLLVM.so"))
        #expect(candidates.contains("/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1"))
        #expect(LLVMLibrary.majorVersion(fromPath: "/usr/lib/llvm-14/lib/libLLVM.so") == 14)
        #expect(
            LLVMLibrary.majorVersion(fromPath: "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1") == 15)
        #expect(
            LLVMLibrary.majorVersion(fromPath: "/opt/homebrew/opt/llvm/lib/libLLVM.dylib") == nil)
        let loaded = try LLVMLibrary.shared()
        #expect(loaded.majorVersion.map { $0 >= 14 } == true, "loaded \(loaded.path)")
    }

    @Test("pointers are typed on LLVM 14 and opaque from LLVM 15, and both produce valid IR")
    func pointerMode() throws {
        let ir = try IRModule(name: "kiln_pointers")
        let function = beginFunction(
            ir, "copy", returning: ir.void,
            parameters: [ir.pointer(to: ir.f32), ir.pointer(to: ir.i8)])
        let value = ir.load(ir.vector(ir.f32, 4), from: ir.parameter(function, 0), alignment: 4)
        ir.store(
            value, to: ir.gep(ir.f32, ir.parameter(function, 1), [ir.constant(4, ir.i64)]),
            alignment: 4)
        ir.returnVoid()
        try ir.verify()
        let version = try #require(try LLVMLibrary.shared().majorVersion)
        if version == 14 {
            #expect(ir.textualIR.contains("bitcast i8* %1 to float*"))
        } else {
            #expect(ir.textualIR.contains("ptr %1") && !ir.textualIR.contains("bitcast"))
        }
    }

    @Test("the host machine uses 512-bit vectors when the CPU has AVX-512")
    func hostVectorWidth() throws {
        let machine = try TargetMachine.host()
        #expect(!machine.triple.isEmpty)
        #expect(!machine.cpu.isEmpty)
        if hostHasAVX512 {
            #expect(machine.enabledFeatures.contains("avx512f"))
            #expect(machine.vectorWidthBits == 512)
        }
    }

    @Test("explicit feature strings decide the vector width")
    func explicitFeatures() throws {
        let machine = try TargetMachine(
            triple: "x86_64-pc-linux-gnu", cpu: "x86-64", features: "+sse2, -avx512f,+avx2")
        #expect(machine.features == "+sse2,-avx512f,+avx2")
        #expect(machine.enabledFeatures == ["sse2", "avx2"])
        #expect(machine.vectorWidthBits == 256)
    }

    @Test("an AArch64 machine reports 128-bit vectors and emits an AArch64 object")
    func crossCompileAArch64() throws {
        guard try TargetMachine.registeredTargets().contains("aarch64") else { return }
        let machine = try TargetMachine(
            triple: "aarch64-unknown-linux-gnu", cpu: "generic", features: "+neon")
        #expect(machine.vectorWidthBits == 128)
        let ir = try IRModule(name: "kiln_arm")
        buildAdd(ir)
        try ir.verify()
        try machine.optimize(ir)
        let object = try machine.emitObject(ir)
        #expect(Array(object.prefix(4)) == [0x7f, 0x45, 0x4c, 0x46])  // ELF
        #expect(object.count > 19 && object[18] == 183 && object[19] == 0)  // EM_AARCH64
    }

    @Test("an unknown triple throws an error listing the available backends")
    func unknownTriple() throws {
        let error = try #require(throws: CodegenError.self) {
            _ = try TargetMachine(triple: "nonsense-unknown-nowhere", cpu: "generic", features: "")
        }
        #expect(error.message.contains("nonsense-unknown-nowhere"))
        #expect(error.message.contains("x86-64"))
    }
}
