import KilnIR

/// `out[o, i…, r] = x[o, indices[i…], r]` along one axis, copying each picked
/// slice of `inner` elements as vectors. A negative index counts from the end;
/// one still outside `0..<count` copies a row of zeros (the zero point for
/// int8), so no index reads out of bounds.
struct GatherKernel {
    let emitter: KernelEmitter
    /// The element type moved (f32 or i8).
    let elementType: IRType
    /// Elements before the gathered axis, its length, and elements after it.
    let outer: Int, count: Int, inner: Int
    /// How many indices there are.
    let indexCount: Int
    /// What an out-of-range index copies: 0.0, or the int8 zero point.
    let fill: [UInt8]

    private var ir: IRModule { emitter.ir }

    func emit(input: IRValue, indices: IRValue, output: IRValue) {
        let zeros = ir.addConstantBytes(
            name: "gather.fill", bytes: Array([[UInt8]](repeating: fill, count: max(inner, 1)).joined()), alignment: 64)
        let layout = LayoutKernels(emitter: emitter, elementType: elementType)
        ir.loop("outer", from: 0, to: outer) { o in
            ir.loop("index", from: 0, to: indexCount) { i in
                let requested = ir.sext(ir.load(ir.i32, from: ir.gep(ir.i32, indices, [i]), alignment: 4), to: ir.i64)
                let index = ir.select(
                    ir.icmp(.slt, requested, emitter.index(0)), ir.add(requested, emitter.index(count)), requested)
                // One unsigned comparison rejects negatives too.
                let inRange = ir.icmp(.ult, index, emitter.index(count))
                let row = ir.add(emitter.affine(o, times: count), ir.select(inRange, index, emitter.index(0)))
                let source = ir.select(
                    inRange, ir.gep(elementType, input, [emitter.affine(row, times: inner)]),
                    ir.bitcast(zeros, to: ir.pointer(to: elementType)))
                let destination = emitter.affine(ir.add(emitter.affine(o, times: indexCount), i), times: inner)
                layout.emitCopy(
                    count: inner, from: source, sourceBase: emitter.index(0), to: output, destinationBase: destination)
            }
        }
    }
}
