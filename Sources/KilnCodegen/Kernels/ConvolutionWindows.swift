import KilnIR

/// A block of output pixels next to each other on one output row: the unit of
/// work of the implicit-GEMM convolution kernels, whose pixels share every weight load.
struct PixelBlock {
    /// The batch index and output row (i64).
    var batch: IRValue
    var outputRow: IRValue
    /// The output column of each pixel (i64).
    var columns: [IRValue]
    /// Element offset of each pixel's first output channel.
    var outputBases: [IRValue]
}

/// Where the taps of a convolution window read their input: NHWC geometry,
/// strides, dilations and padding, resolved at build time.
struct ConvolutionWindows {
    let emitter: KernelEmitter
    let input: Shape  // [N, H, W, C]
    let output: Shape  // [N, OH, OW, O]
    let kernel: (height: Int, width: Int)
    let attributes: Conv2DAttributes

    private var ir: IRModule { emitter.ir }
    private var geometry: (rows: WindowGeometry, columns: WindowGeometry) {
        attributes.geometry(input: input, kernel: (kernel.height, kernel.width))
    }

    /// Whether some tap falls outside the input, so tap pointers need a bounds check.
    var touchesPadding: Bool { geometry.rows.touchesPadding || geometry.columns.touchesPadding }

    /// Runs `body` for every block of `pixels` adjacent output pixels of each
    /// output row; the pixels left at a row's end go in blocks of one.
    func forEachBlock(pixels: Int, _ body: (PixelBlock) -> Void) {
        let width = output[2]
        let blocked = width / pixels * pixels
        ir.loop("batch", from: 0, to: output[0]) { batch in
            ir.loop("oy", from: 0, to: output[1]) { oy in
                let rowBase = emitter.affine(ir.add(emitter.affine(batch, times: output[1]), oy), times: width)
                for (first, last, size) in [(0, blocked, pixels), (blocked, width, 1)] where last > first {
                    ir.loop("ox", from: first, to: last, step: size) { ox in
                        let columns = (0..<size).map { ir.add(ox, emitter.index($0)) }
                        body(
                            PixelBlock(
                                batch: batch, outputRow: oy, columns: columns,
                                outputBases: columns.map { emitter.affine(ir.add(rowBase, $0), times: output[3]) }))
                    }
                }
            }
        }
    }

    /// Runs `body` once per window tap with the tap's index (`ky · kw + kx`, i64)
    /// and, for each pixel of `block`, a pointer to the tap's first input channel,
    /// or to `zeroRow` (a row of `C` zero-point elements) where the tap lies in the padding.
    ///
    /// With `unrolled`, the taps are emitted one after another with constant
    /// indices, and `body` runs once per tap at build time.
    func forEachTap(
        of block: PixelBlock, input pointer: IRValue, elementType: IRType, zeroRow: IRValue, unrolled: Bool = false,
        _ body: (_ tap: IRValue, _ sources: [IRValue]) -> Void
    ) {
        func loop(_ name: String, to end: Int, _ body: (IRValue) -> Void) {
            if unrolled {
                for index in 0..<end { body(emitter.index(index)) }
            } else {
                ir.loop(name, from: 0, to: end, body: body)
            }
        }
        let (rows, columns) = geometry
        let (height, width, channels) = (input[1], input[2], input[3])
        let checked = touchesPadding
        let zeros = ir.bitcast(zeroRow, to: ir.pointer(to: elementType))
        loop("ky", to: kernel.height) { ky in
            let iy = ir.add(
                emitter.affine(block.outputRow, times: attributes.strides[0], plus: -rows.padBefore),
                emitter.affine(ky, times: attributes.dilations[0]))
            let rowInside = emitter.isInRange(iy, below: height)
            let inputRow = ir.add(emitter.affine(block.batch, times: height), iy)
            loop("kx", to: kernel.width) { kx in
                let sources = block.columns.map { ox in
                    let ix = ir.add(
                        emitter.affine(ox, times: attributes.strides[1], plus: -columns.padBefore),
                        emitter.affine(kx, times: attributes.dilations[1]))
                    let offset = emitter.affine(ir.add(emitter.affine(inputRow, times: width), ix), times: channels)
                    guard checked else { return ir.gep(elementType, pointer, [offset]) }
                    // Outside the input the offset may be negative or past the end: only the selected pointer is formed.
                    let inside = ir.and(rowInside, emitter.isInRange(ix, below: width))
                    let clamped = ir.select(inside, offset, emitter.index(0))
                    return ir.select(inside, ir.gep(elementType, pointer, [clamped]), zeros)
                }
                body(ir.add(emitter.affine(ky, times: kernel.width), kx), sources)
            }
        }
    }
}
