import KilnIR

/// A block of output pixels next to each other on one output row: the unit of
/// work of the convolution kernels, whose pixels share every weight load.
struct PixelBlock {
    /// The batch index and output row (i64).
    var batch: IRValue
    var outputRow: IRValue
    /// The output column of each pixel (i64).
    var columns: [IRValue]
    /// Element offset of each pixel's first output channel.
    var outputBases: [IRValue]
    /// Whether every tap of every pixel lies inside the input (no bounds checks needed).
    var isInterior: Bool
}

/// Where the taps of a convolution window read their input: NHWC geometry,
/// strides, dilations and padding, resolved at build time.
///
/// Output pixels whose whole window lies inside the input are found at build
/// time; their taps are the pixel's window origin plus constant offsets. The
/// rest read each tap through a pointer that points at a row of zeros (zero
/// points for int8) where the tap falls in the padding: XNNPACK's indirection
/// with a zero buffer, so kernels never branch per tap.
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

    /// Whether some tap falls outside the input, so border pixels need bounds checks.
    var touchesPadding: Bool { geometry.rows.touchesPadding || geometry.columns.touchesPadding }

    /// The output positions along axis 0 (rows) or 1 (columns) whose whole window lies inside the input.
    func interior(axis: Int) -> Range<Int> {
        let geometry = axis == 0 ? geometry.rows : geometry.columns
        let (size, inputSize) = (output[1 + axis], input[1 + axis])
        let span = ([kernel.height, kernel.width][axis] - 1) * attributes.dilations[axis]
        let inside = (0..<size).filter { position in
            let origin = position * attributes.strides[axis] - geometry.padBefore
            return origin >= 0 && origin + span < inputSize
        }
        guard let first = inside.first, let last = inside.last else { return 0..<0 }
        return first..<(last + 1)
    }

    /// Runs `body` for blocks of up to `pixels` adjacent output pixels of each
    /// output row: the interior pixels in full blocks and one block of those
    /// left over, the border pixels of interior rows one at a time.
    func forEachBlock(pixels: Int, _ body: (PixelBlock) -> Void) {
        let (rows, columns) = (interior(axis: 0), interior(axis: 1))
        ir.loop("batch", from: 0, to: output[0]) { batch in
            /// Pixels `first..<last` of output row `oy`, in blocks of `size`.
            func run(_ oy: IRValue, from first: Int, to last: Int, size: Int, isInterior: Bool) {
                guard last > first else { return }
                let rowBase = emitter.affine(ir.add(emitter.affine(batch, times: output[1]), oy), times: output[2])
                // The pixels left over make one smaller block, not single pixels: a block's
                // accumulators are the independent chains that hide the multiply-add latency.
                let blocked = first + (last - first) / size * size
                for (start, end, count) in [(first, blocked, size), (blocked, last, last - blocked)] where end > start {
                    ir.loop("ox", from: start, to: end, step: count) { ox in
                        let pixelColumns = (0..<count).map { ir.add(ox, emitter.index($0)) }
                        body(
                            PixelBlock(
                                batch: batch, outputRow: oy, columns: pixelColumns,
                                outputBases: pixelColumns.map { emitter.affine(ir.add(rowBase, $0), times: output[3]) },
                                isInterior: isInterior))
                    }
                }
            }
            func border(_ oy: IRValue) { run(oy, from: 0, to: output[2], size: pixels, isInterior: false) }
            ir.loop("oy", from: 0, to: rows.lowerBound, body: border)
            ir.loop("oy", from: rows.lowerBound, to: rows.upperBound) { oy in
                run(oy, from: 0, to: columns.lowerBound, size: 1, isInterior: false)
                run(oy, from: columns.lowerBound, to: columns.upperBound, size: pixels, isInterior: true)
                run(oy, from: columns.upperBound, to: output[2], size: 1, isInterior: false)
            }
            ir.loop("oy", from: rows.upperBound, to: output[1], body: border)
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
        let checked = !block.isInterior && touchesPadding
        let zeros = ir.bitcast(zeroRow, to: ir.pointer(to: elementType))
        let originY = emitter.affine(block.outputRow, times: attributes.strides[0], plus: -rows.padBefore)
        let originXs = block.columns.map { emitter.affine($0, times: attributes.strides[1], plus: -columns.padBefore) }
        let inputRow = ir.add(emitter.affine(block.batch, times: height), originY)
        // Each pixel's window origin; in the interior every tap is a constant distance from it.
        let origins = checked
            ? [] : originXs.map { ir.gep(elementType, pointer, [emitter.affine(ir.add(emitter.affine(inputRow, times: width), $0), times: channels)]) }
        loop("ky", to: kernel.height) { ky in
            let dy = emitter.affine(ky, times: attributes.dilations[0])
            let rowInside = emitter.isInRange(ir.add(originY, dy), below: height)
            loop("kx", to: kernel.width) { kx in
                let dx = emitter.affine(kx, times: attributes.dilations[1])
                let tap = ir.add(emitter.affine(ky, times: kernel.width), kx)
                guard checked else {
                    let offset = emitter.affine(ir.add(emitter.affine(dy, times: width), dx), times: channels)
                    return body(tap, origins.map { ir.gep(elementType, $0, [offset]) })
                }
                let sources = originXs.map { originX in
                    let ix = ir.add(originX, dx)
                    let offset = emitter.affine(
                        ir.add(emitter.affine(ir.add(inputRow, dy), times: width), ix), times: channels)
                    // Outside the input the offset may be negative or past the end: only the selected pointer is formed.
                    let inside = ir.and(rowInside, emitter.isInRange(ix, below: width))
                    let clamped = ir.select(inside, offset, emitter.index(0))
                    return ir.select(inside, ir.gep(elementType, pointer, [clamped]), zeros)
                }
                body(tap, sources)
            }
        }
    }
}
