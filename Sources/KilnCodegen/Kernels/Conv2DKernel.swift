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

    func emit(input inputPointer: IRValue, output outputPointer: IRValue) {
        let ir = emitter.ir
        let channels = windows.input[3]
        let elementType = dot.epilogue.isQuantized ? ir.i8 : ir.f32
        if let decodeBuffer {
            return emitDecodingTaps(decodeBuffer, channels: channels, input: inputPointer, output: outputPointer)
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
