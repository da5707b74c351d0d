import KilnIR

/// `out[o, r] = argmax_k x[o, k, r]` (or argmin) as int32: a scan along the
/// axis that keeps the first extreme, and stops improving once it holds a NaN,
/// so the first NaN wins, as in the reference.
struct ArgExtremumKernel {
    let emitter: KernelEmitter
    /// Whether the input is int8 (compared as raw integers: the scale is positive).
    let isQuantized: Bool
    let extremum: Extremum
    /// Elements before the axis, its length, and elements after it.
    let outer: Int, count: Int, inner: Int

    private var ir: IRModule { emitter.ir }

    func emit(input: IRValue, output: IRValue) {
        let elementType = isQuantized ? ir.i8 : ir.f32
        let best = emitter.accumulator(ir.i64)
        let bestValue = emitter.accumulator(elementType)
        ir.loop("outer", from: 0, to: outer) { o in
            ir.loop("inner", from: 0, to: inner) { r in
                let base = ir.add(emitter.affine(o, times: count * inner), r)
                func value(at k: IRValue) -> IRValue {
                    ir.load(elementType, from: ir.gep(elementType, input, [ir.add(base, emitter.affine(k, times: inner))]), alignment: 1)
                }
                ir.store(emitter.index(0), to: best, alignment: 8)
                ir.store(value(at: emitter.index(0)), to: bestValue, alignment: 1)
                ir.loop("k", from: 1, to: count) { k in
                    let candidate = value(at: k)
                    let current = ir.load(elementType, from: bestValue, alignment: 1)
                    let takes: IRValue
                    if isQuantized {
                        takes = ir.icmp(extremum == .maximum ? .sgt : .slt, candidate, current)
                    } else {
                        let better = ir.fcmp(extremum == .maximum ? .ogt : .olt, candidate, current)
                        let candidateIsNaN = ir.fcmp(.uno, candidate, candidate)
                        let currentIsNaN = ir.fcmp(.uno, current, current)
                        takes = ir.and(ir.or(better, candidateIsNaN), ir.xor(currentIsNaN, ir.constant(1, ir.i1)))
                    }
                    ir.store(ir.select(takes, k, ir.load(ir.i64, from: best, alignment: 8)), to: best, alignment: 8)
                    ir.store(ir.select(takes, candidate, current), to: bestValue, alignment: 1)
                }
                let position = ir.trunc(ir.load(ir.i64, from: best, alignment: 8), to: ir.i32)
                ir.store(position, to: ir.gep(ir.i32, output, [ir.add(emitter.affine(o, times: inner), r)]), alignment: 4)
            }
        }
    }
}
