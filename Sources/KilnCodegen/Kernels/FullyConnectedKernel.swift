import KilnIR

/// `y[r, n] = act(Σ_k x[r, k] · w[n, k] · scale[n] + b[n])` for every row `r`
/// of the input's leading axes.
struct FullyConnectedKernel {
    let emitter: KernelEmitter
    let dot: DotProductKernel
    let rows: Int
    let depth: Int
    let units: Int
    /// Rows that share each weight load.
    let rowsPerBlock: Int

    func emit(input: IRValue, output: IRValue) {
        let ir = emitter.ir
        let block = rowsPerBlock
        let accumulators = dot.makeAccumulators(positions: block)
        // Blocks of rows share each weight load; leftover rows go one at a time.
        let blocked = rows / block * block
        for (start, end, size) in [(0, blocked, block), (blocked, rows, 1)] where end > start {
            ir.loop("row", from: start, to: end, step: size) { first in
                let rows = (0..<size).map { ir.add(first, emitter.index($0)) }
                dot.emitPositions(
                    output: output, outputBases: rows.map { emitter.affine($0, times: units) },
                    accumulators: accumulators
                ) { tap in
                    ir.loop("k", from: 0, to: depth) { k in
                        tap(k, rows.map { dot.epilogue.tap(emitter, input: input, offset: ir.add(emitter.affine($0, times: depth), k)) })
                    }
                }
            }
        }
    }
}
