import KilnIR

/// 2-D convolution as an implicit GEMM over NHWC input with an OHWI filter:
/// `y[n, oy, ox, o] = Σ_{ky, kx, c} x[n, oy·s + ky·d − p, ox·s + kx·d − p, c] · w[o, ky, kx, c]`,
/// then the ``Epilogue``.
///
/// Blocks of `pixelsPerBlock` output pixels of one row × register tiles of
/// output channels accumulate together, so each packed weight vector is
/// loaded once per block. Each window tap is read through one pointer per
/// pixel that points at a row of zero points where the tap leaves the input
/// (XNNPACK's indirection with a zero buffer), so the reduction has no
/// per-element bounds checks.
struct Conv2DKernel {
    let emitter: KernelEmitter
    let dot: DotProductKernel
    let windows: ConvolutionWindows
    let pixelsPerBlock: Int
    /// `C` elements equal to the input's zero (the zero point for int8).
    let zeroRow: IRValue
    /// For shared weights decoded `taps` window taps at a time: a stack buffer of `taps · C` ×
    /// the widest tile's columns floats. `nil` decodes each weight vector where it is used.
    var decodeBuffer: (pointer: IRValue, taps: Int)? = nil
    /// For a block-pruned float filter (``BlockSparsity``, packed one block of 16 output channels
    /// per tile): the reduction steps each block keeps. `nil` multiplies every step.
    var keptSteps: KeptTaps? = nil

    /// The i32 tables of a block-sparse convolution's kept steps.
    struct KeptTaps {
        /// Each block's first kept step, then the total.
        let starts: IRValue
        /// Each kept step's reduction position, `k = tap · C + c`.
        let indices: IRValue
        /// Each kept step's input offset from its pixel's window origin (for pixels inside the input).
        let offsets: IRValue
        /// For block `b` and window tap `t`, the tap's first kept step at `b · (taps + 1) + t`, its end at `+ 1`.
        let tapStarts: IRValue
    }

    func emit(input inputPointer: IRValue, output outputPointer: IRValue) {
        let ir = emitter.ir
        let channels = windows.input[3]
        let elementType = dot.epilogue.isQuantized ? ir.i8 : ir.f32
        if let decodeBuffer {
            return emitDecodingTaps(decodeBuffer, channels: channels, input: inputPointer, output: outputPointer)
        }
        if let keptSteps {
            return emitKeptSteps(keptSteps, channels: channels, input: inputPointer, output: outputPointer)
        }
        let accumulators = dot.makeAccumulators(positions: pixelsPerBlock)
        windows.forEachBlock(pixels: pixelsPerBlock) { block in
            dot.emitPositions(output: outputPointer, outputBases: block.outputBases, accumulators: accumulators) { tap in
                windows.forEachTap(of: block, input: inputPointer, elementType: elementType, zeroRow: zeroRow) { index, sources in
                    dot.forEachStep(
                        count: channels, firstStep: emitter.affine(index, times: dot.steps(channels)),
                        sources: sources.map { ($0, emitter.index(0)) }, tap)
                }
            }
        }
    }

    /// Block-pruned weights: per block of pixels and block of output channels, only the kept
    /// steps. A block whose windows lie inside the input runs them in one loop, each step's
    /// input a build-time offset from each pixel's window origin; a border block runs each
    /// tap's kept steps through the tap's pointers, which point at zeros in the padding.
    private func emitKeptSteps(_ kept: KeptTaps, channels: Int, input: IRValue, output: IRValue) {
        let ir = emitter.ir
        let taps = windows.kernel.height * windows.kernel.width
        func load(_ table: IRValue, _ index: IRValue) -> IRValue {
            ir.sext(ir.load(ir.i32, from: ir.gep(ir.i32, table, [index]), alignment: 4), to: ir.i64)
        }
        let accumulators = dot.makeAccumulators(positions: pixelsPerBlock)
        windows.forEachBlock(pixels: pixelsPerBlock) { block in
            let origins = windows.windowOrigins(of: block, input: input, elementType: ir.f32)
            for (run, tile) in dot.filter.tiles.enumerated() {
                ir.loop("tile", from: 0, to: tile.count) { tileIndex in
                    // Tiles are one block wide; a run's first tile starts a block.
                    let filterBlock = emitter.affine(tileIndex, times: 1, plus: tile.start / PackedFilter.blockColumns)
                    dot.emitTile(
                        run: run, index: tileIndex, output: output, outputBases: block.outputBases, accumulators: accumulators
                    ) { step in
                        if let origins {
                            let end = load(kept.starts, ir.add(filterBlock, emitter.index(1)))
                            ir.loop("kept", from: load(kept.starts, filterBlock), to: end) { t in
                                let offset = load(kept.offsets, t)
                                step(t, origins.map { dot.epilogue.tap(emitter, input: $0, offset: offset) })
                            }
                            return
                        }
                        windows.forEachTap(of: block, input: input, elementType: ir.f32, zeroRow: zeroRow) { tap, sources in
                            let entry = ir.add(emitter.affine(filterBlock, times: taps + 1), tap)
                            let end = load(kept.tapStarts, ir.add(entry, emitter.index(1)))
                            let tapBase = emitter.affine(tap, times: channels)
                            ir.loop("kept", from: load(kept.tapStarts, entry), to: end) { t in
                                let channel = ir.sub(load(kept.indices, t), tapBase)
                                step(t, sources.map { dot.epilogue.tap(emitter, input: $0, offset: channel) })
                            }
                        }
                    }
                }
            }
        }
    }

    /// Shared weights: per tile, a few taps' weights at a time decoded into the buffer, then read
    /// by every block of pixels like dense weights; the sums wait in the output between passes.
    private func emitDecodingTaps(
        _ buffer: (pointer: IRValue, taps: Int), channels: Int, input: IRValue, output: IRValue
    ) {
        let ir = emitter.ir
        let view = dot.readingDecoded(from: buffer.pointer)
        let accumulators = view.makeAccumulators(positions: pixelsPerBlock)
        let taps = windows.kernel.height * windows.kernel.width
        for (run, tile) in dot.filter.tiles.enumerated() {
            ir.loop("tile", from: 0, to: tile.count) { tileIndex in
                func pass(firstTap: IRValue, count: Int, resumes: Bool, finishes: Bool) {
                    dot.decode(
                        run: run, index: tileIndex, first: emitter.affine(firstTap, times: channels), count: count * channels,
                        into: buffer.pointer)
                    windows.forEachBlock(pixels: pixelsPerBlock) { block in
                        view.emitTile(
                            run: run, index: tileIndex, output: output, outputBases: block.outputBases,
                            accumulators: accumulators, resumes: resumes, finishes: finishes
                        ) { step in
                            windows.forEachTap(
                                of: block, input: input, elementType: ir.f32, zeroRow: zeroRow, taps: (firstTap, count)
                            ) { tap, sources in
                                view.forEachStep(
                                    count: channels, firstStep: emitter.affine(ir.sub(tap, firstTap), times: channels),
                                    sources: sources.map { ($0, emitter.index(0)) }, step)
                            }
                        }
                    }
                }
                let last = (taps - 1) / buffer.taps * buffer.taps
                pass(firstTap: emitter.index(0), count: min(buffer.taps, taps), resumes: false, finishes: last == 0)
                ir.loop("taps", from: buffer.taps, to: last, step: buffer.taps) { first in
                    pass(firstTap: first, count: buffer.taps, resumes: true, finishes: false)
                }
                if last > 0 { pass(firstTap: emitter.index(last), count: taps - last, resumes: true, finishes: true) }
            }
        }
    }
}
