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

    func emit(input inputPointer: IRValue, output outputPointer: IRValue) {
        let ir = emitter.ir
        let channels = windows.input[3]
        let elementType = dot.epilogue.isQuantized ? ir.i8 : ir.f32
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
}
