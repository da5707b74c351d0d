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
    /// The first pixel's output column where the block sits at a build-time
    /// position (blocks holding border columns); `nil` for blocks in a loop,
    /// whose taps all lie inside the input horizontally.
    var firstColumn: Int?
    /// Whether every tap row of the block lies inside the input.
    var rowsInside: Bool
    /// Whether every tap column of each pixel lies inside the input.
    var columnsInside: [Bool]

    /// Whether pixel `index` reads only inside the input (no bounds checks needed).
    func isInside(_ index: Int) -> Bool { rowsInside && columnsInside[index] }
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
    /// output row, a row's last block holding the pixels left over.
    ///
    /// The blocks that hold border columns sit at build-time positions, so
    /// only their border pixels check bounds and the rest share the interior's
    /// constant tap offsets; the interior columns run in a loop. Every block
    /// keeps its full count of independent accumulator chains, which hide the
    /// multiply-add latency. With `checkingEveryRow`, all rows share one loop and
    /// their blocks check the rows at run time (less code where that check is cheap).
    func forEachBlock(pixels: Int, checkingEveryRow: Bool = false, _ body: (PixelBlock) -> Void) {
        let (rows, columns) = (interior(axis: 0), interior(axis: 1))
        let width = output[2]
        // Leading blocks cover the left border, a loop the interior, trailing blocks the rest.
        let leading = min(width, (columns.lowerBound + pixels - 1) / pixels * pixels)
        let middle = columns.isEmpty ? leading : leading + max(0, columns.upperBound - leading) / pixels * pixels
        ir.loop("batch", from: 0, to: output[0]) { batch in
            func block(_ oy: IRValue, _ first: IRValue, count: Int, at firstColumn: Int?, rowsInside: Bool) {
                let rowBase = emitter.affine(ir.add(emitter.affine(batch, times: output[1]), oy), times: width)
                let pixelColumns = (0..<count).map { ir.add(first, emitter.index($0)) }
                body(
                    PixelBlock(
                        batch: batch, outputRow: oy, columns: pixelColumns,
                        outputBases: pixelColumns.map { emitter.affine(ir.add(rowBase, $0), times: output[3]) },
                        firstColumn: firstColumn, rowsInside: rowsInside,
                        columnsInside: firstColumn.map { first in (first..<(first + count)).map(columns.contains) }
                            ?? Array(repeating: true, count: count)))
            }
            /// Blocks of `pixels` at build-time columns `first..<last`, the last one possibly smaller.
            func place(_ oy: IRValue, from first: Int, to last: Int, rowsInside: Bool) {
                for start in stride(from: first, to: last, by: pixels) {
                    block(oy, emitter.index(start), count: min(pixels, last - start), at: start, rowsInside: rowsInside)
                }
            }
            func row(_ oy: IRValue, rowsInside: Bool) {
                place(oy, from: 0, to: leading, rowsInside: rowsInside)
                if middle > leading {
                    ir.loop("ox", from: leading, to: middle, step: pixels) { ox in
                        block(oy, ox, count: pixels, at: nil, rowsInside: rowsInside)
                    }
                }
                place(oy, from: middle, to: width, rowsInside: rowsInside)
            }
            guard !checkingEveryRow else { return emitter.rowLoop("oy", from: 0, to: output[1]) { row($0, rowsInside: false) } }
            emitter.rowLoop("oy", from: 0, to: rows.lowerBound) { row($0, rowsInside: false) }
            emitter.rowLoop("oy", from: rows.lowerBound, to: rows.upperBound) { row($0, rowsInside: true) }
            emitter.rowLoop("oy", from: rows.upperBound, to: output[1]) { row($0, rowsInside: false) }
        }
    }

    /// Input columns a block of `pixels` reads on each window row.
    func stagedColumns(pixels: Int) -> Int {
        Self.stagedColumns(pixels: pixels, kernelWidth: kernel.width, attributes: attributes)
    }

    /// Input columns a block of `pixels` reads on each window row of a kernel `kernelWidth` wide.
    static func stagedColumns(pixels: Int, kernelWidth: Int, attributes: Conv2DAttributes) -> Int {
        (pixels - 1) * attributes.strides[1] + (kernelWidth - 1) * attributes.dilations[1] + 1
    }

    /// Bytes of the staging buffer of ``forEachStagedTap(of:input:buffer:zeroRow:transform:_:)``
    /// for blocks of `pixels` int8 pixels of `channels` channels under a `kernel`-sized window,
    /// with room for a last 4-byte group read past its end.
    static func stagedByteCount(
        pixels: Int, kernel: (height: Int, width: Int), channels: Int, attributes: Conv2DAttributes
    ) -> Int {
        kernel.height * stagedColumns(pixels: pixels, kernelWidth: kernel.width, attributes: attributes) * channels + 4
    }

    /// ``stagedByteCount(pixels:kernel:channels:attributes:)`` for this layer.
    func stagedByteCount(pixels: Int) -> Int {
        Self.stagedByteCount(pixels: pixels, kernel: kernel, channels: input[3], attributes: attributes)
    }

    /// Copies the int8 input a block reads (for each window row, the input
    /// columns from the first pixel's window to the last one's) into `buffer`
    /// through `transform` (applied to each vector of bytes and its length), reading `zeroRow`
    /// (zero points, at least a staged row long) where the window leaves the
    /// input; then runs `body` once per tap, as ``forEachTap(of:input:elementType:zeroRow:unrolled:_:)``
    /// does, with pointers into the buffer. With `wholeRows` (no horizontal
    /// dilation), each window row is one tap of `kernel.width · C` consecutive
    /// bytes, so groups of channels run on across the row's columns.
    ///
    /// Kernels that must change every input byte before multiplying (VNNI's
    /// unsigned inputs) change each byte once here instead of once per tap
    /// and output tile, and then read the buffer without bounds checks.
    func forEachStagedTap(
        of block: PixelBlock, input pointer: IRValue, buffer: IRValue, zeroRow: IRValue, wholeRows: Bool = false,
        transform: (_ bytes: IRValue, _ count: Int) -> IRValue, _ body: (_ tap: IRValue, _ sources: [IRValue]) -> Void
    ) {
        let (rows, columns) = geometry
        let (height, width, channels) = (input[1], input[2], input[3])
        let (strideX, dilationX) = (attributes.strides[1], attributes.dilations[1])
        let span = stagedColumns(pixels: block.columns.count)
        let originY = emitter.affine(block.outputRow, times: attributes.strides[0], plus: -rows.padBefore)
        let originX = emitter.affine(block.columns[0], times: strideX, plus: -columns.padBefore)
        // The staged columns inside the input; a block in a loop reads inside only.
        var inside = 0..<span
        if let first = block.firstColumn {
            let origin = first * strideX - columns.padBefore
            let start = min(span, max(0, -origin))
            inside = start..<max(start, min(span, width - origin))
        }
        let zeros = ir.bitcast(zeroRow, to: ir.pointer(to: ir.i8))
        for ky in 0..<kernel.height {
            let row = ir.gep(ir.i8, buffer, [emitter.index(ky * span * channels)])
            let y = emitter.affine(originY, times: 1, plus: ky * attributes.dilations[0])
            let offset = emitter.affine(
                ir.add(emitter.affine(ir.add(emitter.affine(block.batch, times: height), y), times: width), originX),
                times: channels)
            var source = ir.gep(ir.i8, pointer, [offset])
            if !block.rowsInside {
                // Outside the input the offset may be negative or past the end: only the selected pointer is formed.
                let rowInside = emitter.isInRange(y, below: height)
                source = ir.select(rowInside, ir.gep(ir.i8, pointer, [ir.select(rowInside, offset, emitter.index(0))]), zeros)
            }
            let segments = [(0..<inside.lowerBound, zeros, false), (inside, source, true), (inside.upperBound..<span, zeros, false)]
            for (range, from, offsetByColumn) in segments where !range.isEmpty {
                let start = offsetByColumn ? emitter.index(range.lowerBound * channels) : emitter.index(0)
                emitter.copyBytes(
                    range.count * channels, from: ir.gep(ir.i8, from, [start]),
                    to: ir.gep(ir.i8, row, [emitter.index(range.lowerBound * channels)]), transform: transform)
            }
        }
        let pixelOffsets = block.columns.indices.map { emitter.index($0 * strideX * channels) }
        if wholeRows {
            precondition(dilationX == 1, "a window row is consecutive bytes only without horizontal dilation")
            return ir.loop("ky", from: 0, to: kernel.height) { ky in
                let row = ir.gep(ir.i8, buffer, [emitter.affine(ky, times: span * channels)])
                body(ky, pixelOffsets.map { ir.gep(ir.i8, row, [$0]) })
            }
        }
        ir.loop("ky", from: 0, to: kernel.height) { ky in
            ir.loop("kx", from: 0, to: kernel.width) { kx in
                let column = emitter.affine(ir.add(emitter.affine(ky, times: span), emitter.affine(kx, times: dilationX)), times: channels)
                let tap = ir.gep(ir.i8, buffer, [column])
                let sources = pixelOffsets.map { ir.gep(ir.i8, tap, [$0]) }
                body(ir.add(emitter.affine(ky, times: kernel.width), kx), sources)
            }
        }
    }

    /// Each pixel's window origin (the input element of tap (0, 0), channel 0) when every
    /// pixel of `block` reads only inside the input, so each tap is a constant offset from it;
    /// `nil` when some pixel's window touches the padding.
    func windowOrigins(of block: PixelBlock, input pointer: IRValue, elementType: IRType) -> [IRValue]? {
        guard !touchesPadding || block.columns.indices.allSatisfy(block.isInside) else { return nil }
        let (rows, columns) = geometry
        let originY = emitter.affine(block.outputRow, times: attributes.strides[0], plus: -rows.padBefore)
        let inputRow = ir.add(emitter.affine(block.batch, times: input[1]), originY)
        return block.columns.map { column in
            let originX = emitter.affine(column, times: attributes.strides[1], plus: -columns.padBefore)
            return ir.gep(elementType, pointer, [emitter.affine(ir.add(emitter.affine(inputRow, times: input[2]), originX), times: input[3])])
        }
    }

    /// The input offset of window tap (`ky`, `kx`), channel `channel`, from a window's origin.
    func tapOffset(ky: Int, kx: Int, channel: Int) -> Int {
        ((ky * attributes.dilations[0]) * input[2] + kx * attributes.dilations[1]) * input[3] + channel
    }

    /// Runs `body` once per window tap with the tap's index (`ky · kw + kx`, i64)
    /// and, for each pixel of `block`, a pointer to the tap's first input channel,
    /// or to `zeroRow` (a row of `C` zero-point elements) where the tap lies in the padding.
    ///
    /// With `unrolled`, the taps are emitted one after another with constant
    /// indices, and `body` runs once per tap at build time. With `taps`, only the `count` taps
    /// from index `first` run, in one loop.
    func forEachTap(
        of block: PixelBlock, input pointer: IRValue, elementType: IRType, zeroRow: IRValue, unrolled: Bool = false,
        taps: (first: IRValue, count: Int)? = nil, _ body: (_ tap: IRValue, _ sources: [IRValue]) -> Void
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
        let zeros = ir.bitcast(zeroRow, to: ir.pointer(to: elementType))
        let originY = emitter.affine(block.outputRow, times: attributes.strides[0], plus: -rows.padBefore)
        let originXs = block.columns.map { emitter.affine($0, times: attributes.strides[1], plus: -columns.padBefore) }
        let inputRow = ir.add(emitter.affine(block.batch, times: height), originY)
        let inside = block.columns.indices.map { !touchesPadding || block.isInside($0) }
        // Each inside pixel's window origin: every tap is a constant distance from it.
        let origins = zip(originXs, inside).map { originX, inside in
            inside
                ? ir.gep(elementType, pointer, [emitter.affine(ir.add(emitter.affine(inputRow, times: width), originX), times: channels)])
                : nil
        }
        func emitTap(_ ky: IRValue, _ kx: IRValue, rowInside: IRValue?) {
            let dy = emitter.affine(ky, times: attributes.dilations[0])
            let dx = emitter.affine(kx, times: attributes.dilations[1])
            let tap = ir.add(emitter.affine(ky, times: kernel.width), kx)
            let insideOffset = emitter.affine(ir.add(emitter.affine(dy, times: width), dx), times: channels)
            let sources = block.columns.indices.map { index -> IRValue in
                if let origin = origins[index] { return ir.gep(elementType, origin, [insideOffset]) }
                let ix = ir.add(originXs[index], dx)
                let offset = emitter.affine(
                    ir.add(emitter.affine(ir.add(inputRow, dy), times: width), ix), times: channels)
                // Outside the input the offset may be negative or past the end: only the selected pointer is formed.
                let checks = [rowInside, block.columnsInside[index] ? nil : emitter.isInRange(ix, below: width)]
                let inside = checks.compactMap { $0 }.reduce(ir.constant(1, ir.i1)) { ir.and($0, $1) }
                let clamped = ir.select(inside, offset, emitter.index(0))
                return ir.select(inside, ir.gep(elementType, pointer, [clamped]), zeros)
            }
            body(tap, sources)
        }
        func rowInside(_ ky: IRValue) -> IRValue? {
            block.rowsInside
                ? nil : emitter.isInRange(ir.add(originY, emitter.affine(ky, times: attributes.dilations[0])), below: height)
        }
        if let taps {
            ir.loop("tap", from: taps.first, to: ir.add(taps.first, emitter.index(taps.count))) { tap in
                let ky = ir.sdiv(tap, emitter.index(kernel.width))
                emitTap(ky, ir.sub(tap, emitter.affine(ky, times: kernel.width)), rowInside: rowInside(ky))
            }
            return
        }
        loop("ky", to: kernel.height) { ky in
            let inside = rowInside(ky)
            loop("kx", to: kernel.width) { kx in emitTap(ky, kx, rowInside: inside) }
        }
    }
}
