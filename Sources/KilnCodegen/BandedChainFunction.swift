import KilnIR

/// Emits the function that runs a ``BandedChain`` a band of rows at a time:
/// `chain(input, [window,] band, [residual,] output, i64 firstPiece, i64 endPiece)`.
///
/// A call computes the depthwise output rows of pieces `firstPiece ..< endPiece` in slot
/// `firstPiece` of the intermediates' storage. For each band of ``BandedChain/bandRows`` rows it
/// computes the expansion rows the band's windows need and do not yet hold into the window (whose
/// rows the expansion and depthwise kernels address from a base as if it held every row), after
/// moving the rows it shares with the previous band to the window's start; then the band's
/// depthwise rows into the band slot, then their projection into the output. Every layer's
/// kernel is the one it has on its own, called on a row range, so results are bit-identical to
/// running the layers one after the other.
struct BandedChainFunction {
    /// A member layer's function, which takes a row range after its pointers.
    typealias Layer = (function: IRValue, type: IRType)

    let chain: BandedChain
    let geometry: BandGeometry
    let expand: Layer?
    let depthwise: Layer
    let project: Layer
    /// Whether the projection reads a fused residual add's other operand.
    let hasResidual: Bool
    /// Per-node cycle counters and the clock, when the model is profiled: the call that computes
    /// the first piece (the caller's) adds each layer's cycles to its counter.
    let profile: (counters: IRValue, clock: (function: IRValue, type: IRType))?

    func emit(ir: IRModule, laneWidth: Int, name: String, configure: (IRValue) -> Void) -> Layer {
        let bytePointer = ir.pointer(to: ir.i8)
        let pointerCount = (expand == nil ? 3 : 4) + (hasResidual ? 1 : 0)
        let type = ir.functionType(returning: ir.void, parameters: Array(repeating: bytePointer, count: pointerCount) + [ir.i64, ir.i64])
        let function = ir.addFunction(name: name, type: type, linkage: .internal)
        configure(function)
        for parameter in 0..<pointerCount { ir.addParameterAttribute("nocapture", to: function, parameter: parameter) }
        let caller = ir.insertBlock
        let entry = ir.appendBlock("entry", to: function)
        ir.position(at: entry)
        let emitter = KernelEmitter(ir: ir, laneWidth: laneWidth, entryBlock: entry)
        var parameters = (0..<pointerCount).map { ir.parameter(function, $0) }
        let input = parameters.removeFirst()
        let window = expand == nil ? nil : parameters.removeFirst()
        let band = parameters.removeFirst()
        let residual = hasResidual ? parameters.removeFirst() : nil
        let output = parameters.removeFirst()
        let firstPiece = ir.parameter(function, pointerCount)
        let endPiece = ir.parameter(function, pointerCount + 1)

        func index(_ value: Int) -> IRValue { emitter.index(value) }
        func minimum(_ a: IRValue, _ b: IRValue) -> IRValue { ir.select(ir.icmp(.slt, a, b), a, b) }
        func maximum(_ a: IRValue, _ b: IRValue) -> IRValue { ir.select(ir.icmp(.sgt, a, b), a, b) }
        /// The first output row of `piece`: `piece · H / slots`.
        func firstRow(_ piece: IRValue) -> IRValue {
            ir.sdiv(ir.mul(piece, index(geometry.outputRows)), index(chain.slots))
        }
        let firstOutputRow = firstRow(firstPiece)
        let endOutputRow = firstRow(endPiece)
        let windowSlot = window.map {
            ir.gep(ir.i8, $0, [ir.mul(firstPiece, index(geometry.windowBytes(bandRows: chain.bandRows)))])
        }
        let bandSlot = ir.gep(ir.i8, band, [ir.mul(firstPiece, index(geometry.bandBytes(bandRows: chain.bandRows)))])
        // The expansion rows the window holds: `origin ..< computed`; none before the first band.
        let origin = emitter.accumulator(ir.i64)
        let computed = emitter.accumulator(ir.i64)
        ir.store(index(-1), to: computed, alignment: 8)
        ir.store(index(0), to: origin, alignment: 8)
        let isProfiling = profile.map { _ in ir.icmp(.eq, firstPiece, index(0)) }

        /// Calls `layer` (node `node`) with `arguments`, counting its cycles when profiled.
        func call(_ layer: Layer, node: Int, _ arguments: [IRValue]) {
            guard let profile, let isProfiling else { return _ = ir.call(layer.function, type: layer.type, arguments) }
            let start = ir.call(profile.clock.function, type: profile.clock.type, [])
            ir.call(layer.function, type: layer.type, arguments)
            let elapsed = ir.sub(ir.call(profile.clock.function, type: profile.clock.type, []), start)
            emitter.ifTrue(isProfiling) {
                let counter = ir.gep(ir.i64, profile.counters, [index(node)])
                ir.store(ir.add(ir.load(ir.i64, from: counter, alignment: 8), elapsed), to: counter, alignment: 8)
            }
        }

        ir.loop("band", from: firstOutputRow, to: endOutputRow, step: chain.bandRows) { row in
            let bandEnd = minimum(ir.add(row, index(chain.bandRows)), endOutputRow)
            var depthwiseInput = input
            if let expand, let expandNode = chain.expand, let windowSlot {
                let first = maximum(index(0), emitter.affine(row, times: geometry.stride, plus: -geometry.padBefore))
                let needed = minimum(
                    index(geometry.inputRows),
                    emitter.affine(bandEnd, times: geometry.stride, plus: geometry.windowSpan - geometry.stride - geometry.padBefore))
                let held = ir.load(ir.i64, from: computed, alignment: 8)
                let start = ir.load(ir.i64, from: origin, alignment: 8)
                // Rows this band shares with the window move to its start; a first band (or one
                // sharing none) starts the window afresh at its first row.
                let shares = ir.icmp(.slt, first, held)
                emitter.ifTrue(ir.and(shares, ir.icmp(.sgt, first, start))) {
                    copyRows(
                        from: ir.sub(first, start), count: ir.sub(held, first), in: windowSlot, emitter: emitter)
                }
                let fromRow = ir.select(shares, held, first)
                ir.store(first, to: origin, alignment: 8)
                ir.store(maximum(needed, fromRow), to: computed, alignment: 8)
                let base = ir.gepWrapping(ir.i8, windowSlot, [ir.sub(index(0), emitter.affine(first, times: geometry.inputRowBytes))])
                call(
                    expand, node: expandNode,
                    [
                        input, base, emitter.affine(fromRow, times: geometry.inputColumns),
                        emitter.affine(needed, times: geometry.inputColumns),
                    ])
                depthwiseInput = base
            }
            let bandBase = ir.gepWrapping(ir.i8, bandSlot, [ir.sub(index(0), emitter.affine(row, times: geometry.outputRowBytes))])
            call(depthwise, node: chain.depthwise, [depthwiseInput, bandBase, row, bandEnd])
            call(
                project, node: chain.project,
                [bandBase] + (residual.map { [$0] } ?? [])
                    + [
                        output, emitter.affine(row, times: geometry.outputColumns),
                        emitter.affine(bandEnd, times: geometry.outputColumns),
                    ])
        }
        ir.returnVoid()
        ir.position(at: caller)
        return (function, type)
    }

    /// Moves `count` input rows starting `from` rows into the window to its start, front to back
    /// (the ranges may overlap, the destination first), a vector's bytes at a time.
    private func copyRows(from sourceRow: IRValue, count: IRValue, in window: IRValue, emitter: KernelEmitter) {
        let ir = emitter.ir
        let source = ir.gep(ir.i8, window, [emitter.affine(sourceRow, times: geometry.inputRowBytes)])
        let bytes = emitter.affine(count, times: geometry.inputRowBytes)
        let width = emitter.laneWidth * 4
        let vector = ir.vector(ir.i8, width)
        let whole = ir.mul(ir.sdiv(bytes, emitter.index(width)), emitter.index(width))
        ir.loop("move", from: emitter.index(0), to: whole, step: width) { offset in
            let value = ir.load(vector, from: ir.gep(ir.i8, source, [offset]), alignment: 1)
            ir.store(value, to: ir.gep(ir.i8, window, [offset]), alignment: 1)
        }
        ir.loop("move_tail", from: whole, to: bytes) { offset in
            ir.store(ir.load(ir.i8, from: ir.gep(ir.i8, source, [offset]), alignment: 1), to: ir.gep(ir.i8, window, [offset]), alignment: 1)
        }
    }
}
