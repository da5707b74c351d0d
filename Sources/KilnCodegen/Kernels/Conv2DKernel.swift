import KilnIR

/// Direct 2-D convolution over NHWC input with an OHWI filter, one output
/// pixel at a time, all output channels per pixel in register-blocked tiles.
///
/// When no window reaches into the padding (all `.valid` layers, and `.same`
/// layers such as 1×1 convolutions), the bounds checks are left out entirely.
struct Conv2DKernel {
    let emitter: KernelEmitter
    let dot: DotProductKernel
    let input: Shape  // [N, H, W, C]
    let output: Shape  // [N, OH, OW, O]
    let kernel: (height: Int, width: Int)
    let attributes: Conv2DAttributes

    func emit(input inputPointer: IRValue, output outputPointer: IRValue) {
        let ir = emitter.ir
        let (height, width, channels) = (input[1], input[2], input[3])
        let (rows, columns) = attributes.geometry(input: input, kernel: (kernel.height, kernel.width))
        let needsBounds = rows.touchesPadding || columns.touchesPadding
        let accumulators = dot.makeAccumulators()
        emitter.forEachWindow(output: output, strides: attributes.strides, rows: rows, columns: columns) { window in
            dot.emitPositions(output: outputPointer, outputBases: [window.outputBase], accumulators: accumulators) { tap in
                ir.loop("ky", from: 0, to: kernel.height) { ky in
                    let iy = ir.add(window.originY, emitter.affine(ky, times: attributes.dilations[0]))
                    ir.loop("kx", from: 0, to: kernel.width) { kx in
                        let ix = ir.add(window.originX, emitter.affine(kx, times: attributes.dilations[1]))
                        func body() {
                            let row = ir.add(emitter.affine(window.batch, times: height), iy)
                            let inputBase = emitter.affine(ir.add(emitter.affine(row, times: width), ix), times: channels)
                            let tapBase = emitter.affine(
                                ir.add(emitter.affine(ky, times: kernel.width), kx), times: channels)
                            ir.loop("ci", from: 0, to: channels) { ci in
                                let x = dot.epilogue.tap(emitter, input: inputPointer, offset: ir.add(inputBase, ci))
                                tap(ir.add(tapBase, ci), [x])
                            }
                        }
                        if needsBounds {
                            let inside = ir.and(
                                emitter.isInRange(iy, below: height), emitter.isInRange(ix, below: width))
                            emitter.ifTrue(inside, body)
                        } else {
                            body()
                        }
                    }
                }
            }
        }
    }
}
