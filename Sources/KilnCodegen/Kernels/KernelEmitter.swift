import KilnIR

/// Shared helpers the op kernels use to emit vector code into one node function.
///
/// Every f32 vector op works on `<lanes x float>` for any lane count, so a
/// kernel written once handles full vectors and, with narrower lane counts,
/// the remainder (1-lane vectors become scalars after legalization).
struct KernelEmitter {
    /// The module being emitted.
    let ir: IRModule
    /// f32 lanes in one full vector register of the target (16 for AVX-512).
    let laneWidth: Int
    /// The node function's entry block, where accumulators are allocated so
    /// LLVM promotes them to registers.
    let entryBlock: IRBlock
    /// Whether the target has fused multiply-add instructions (every level but SSE4.1).
    var hasFMA = true
    /// Whether the target converts half to single precision in hardware (``ISALevel/hasHalfConversion``).
    var hasHalfConversion = true
    /// How the target decodes 4-bit indices of shared weights.
    var lookup = CodebookLookup.scalar
    /// The positions of the node's split axis (``KernelChoice/RowSplit``) this call computes,
    /// as `i64` parameters; `nil` computes them all.
    var rowRange: (begin: IRValue, end: IRValue)?

    /// `ir.loop` over positions `start..<end` (by `step`) of the split axis, limited to
    /// ``rowRange``; without one, exactly `ir.loop`. A caller's chunk boundaries are multiples of
    /// the split's granularity, so a stepped loop starting at a multiple keeps its blocks.
    func rowLoop(_ name: String, from start: Int, to end: Int, step: Int = 1, body: (IRValue) -> Void) {
        guard rowRange != nil else { return ir.loop(name, from: start, to: end, step: step, body: body) }
        guard end > start else { return }
        rowLoop(name, from: index(start), to: index(end), step: step, body: body)
    }

    /// Blocks of `block` rows over rows `first ..< first + count` (`first` 0 when `nil`; the rows
    /// left over as one smaller block), limited to ``rowRange``: `body(row, rows)` for each block.
    ///
    /// Without `exact`, a range's ends must be multiples of `block` or the row count (as thread
    /// chunks are), and a block may run past the range's end. With `exact`, the range's rows
    /// exactly, whatever its ends (a banded chain's layers are called on each band's rows): whole
    /// blocks, then, with `overlapping`, one more whole block ending at the range's end, which
    /// computes some rows again with the same values, where the range holds a block's rows; single
    /// rows otherwise (and without `overlapping`: where sums wait in the output between passes).
    func rowBlocks(
        from first: IRValue?, count: Int, block: Int, exact: Bool, overlapping: Bool, _ body: (IRValue, Int) -> Void
    ) {
        guard exact, let rowRange else {
            let blocked = count / block * block
            for (start, end, step) in [(0, blocked, block), (blocked, count, count - blocked)] where end > start {
                guard let first else {
                    rowLoop("row", from: start, to: end, step: step) { body($0, step) }
                    continue
                }
                rowLoop("row", from: ir.add(first, index(start)), to: ir.add(first, index(end)), step: step) { body($0, step) }
            }
            return
        }
        let first = first ?? index(0)
        let end = ir.add(first, index(count))
        let low = ir.select(ir.icmp(.sgt, first, rowRange.begin), first, rowRange.begin)
        let high = ir.select(ir.icmp(.slt, end, rowRange.end), end, rowRange.end)
        let rows = ir.select(ir.icmp(.sgt, high, low), ir.sub(high, low), index(0))
        let wholeEnd = ir.add(low, ir.mul(ir.sdiv(rows, index(block)), index(block)))
        ir.loop("row", from: low, to: wholeEnd, step: block) { body($0, block) }
        guard block > 1 else { return }
        var singles = wholeEnd
        if overlapping {
            let lastBlock = ir.sub(high, index(block))
            let fits = ir.and(ir.icmp(.sgt, high, wholeEnd), ir.icmp(.sge, rows, index(block)))
            // One iteration where the last block fits, none otherwise.
            ir.loop("row_last", from: lastBlock, to: ir.select(fits, ir.add(lastBlock, index(1)), lastBlock), step: block) {
                body($0, block)
            }
            singles = ir.select(fits, high, wholeEnd)
        }
        ir.loop("row_single", from: singles, to: high) { body($0, 1) }
    }

    /// Slices of `width` output units, limited to ``rowRange`` (a split along output channels,
    /// whose ends are multiples of `width` or `units`): `body(slice, width)` for each whole slice
    /// in the range, then for the narrower last slice, where the range ends at the last unit.
    func unitSlices(units: Int, width: Int, _ body: (IRValue, Int) -> Void) {
        var sliceEmitter = self
        if let rowRange {
            let size = index(width)
            sliceEmitter.rowRange = (ir.sdiv(rowRange.begin, size), ir.sdiv(rowRange.end, size))
        }
        let whole = units / width
        sliceEmitter.rowLoop("slice", from: 0, to: whole) { body($0, width) }
        let last = units - whole * width
        guard last > 0 else { return }
        guard let rowRange else { return body(index(whole), last) }
        ifTrue(ir.icmp(.sge, rowRange.end, index(units))) { body(index(whole), last) }
    }

    /// ``rowLoop(_:from:to:step:body:)`` with bounds known at run time.
    func rowLoop(_ name: String, from start: IRValue, to end: IRValue, step: Int = 1, body: (IRValue) -> Void) {
        guard let rowRange else { return ir.loop(name, from: start, to: end, step: step, body: body) }
        let first = ir.select(ir.icmp(.sgt, start, rowRange.begin), start, rowRange.begin)
        let last = ir.select(ir.icmp(.slt, end, rowRange.end), end, rowRange.end)
        ir.loop(name, from: first, to: last, step: step, body: body)
    }

    /// `<lanes x float>`.
    func vectorType(_ lanes: Int) -> IRType { ir.vector(ir.f32, lanes) }

    /// An i64 constant.
    func index(_ value: Int) -> IRValue { ir.constant(value, ir.i64) }

    /// A constant f32 vector with every lane `value`.
    func splat(_ value: Float, lanes: Int) -> IRValue { ir.splat(ir.constant(value), count: lanes) }

    /// `a * b + c`: one rounding where the target has FMA instructions (as the
    /// reference's `+=` is under FMA contraction), a multiply and an add where it
    /// has none (SSE4.1), rather than a call to libm's `fmaf` that a model
    /// artifact cannot link.
    func fma(_ a: IRValue, _ b: IRValue, _ c: IRValue, lanes: Int) -> IRValue {
        let type = vectorType(lanes)
        let fma = ir.intrinsic("llvm.fmuladd", overloads: [type], returning: type, parameters: [type, type, type])
        return ir.call(fma.function, type: fma.type, [a, b, c])
    }

    /// `x / divisor`, correctly rounded, for a constant positive `divisor`.
    ///
    /// With FMA, Markstein's sequence replaces the slow division: with
    /// `y = 1/divisor` rounded once at build time, `q = x·y` and the exact
    /// remainder `r = x − q·divisor`, `q + r·y` is the correctly rounded quotient
    /// (no overflow or underflow). Where `q` is infinite the remainder is not
    /// defined and `q` is kept; NaN stays NaN. With `finite`, the caller
    /// guarantees `x` and the quotient are finite, and that check is left out.
    func divide(_ x: IRValue, byConstant divisor: Float, lanes: Int, finite: Bool = false) -> IRValue {
        let reciprocal = 1 / divisor
        guard hasFMA, divisor.isNormal, divisor > 0, reciprocal.isNormal else {
            return ir.fdiv(x, splat(divisor, lanes: lanes))
        }
        let type = vectorType(lanes)
        let fused = ir.intrinsic("llvm.fma", overloads: [type], returning: type, parameters: [type, type, type])
        let y = splat(reciprocal, lanes: lanes)
        let q = ir.fmul(x, y)
        let r = ir.call(fused.function, type: fused.type, [ir.fneg(q), splat(divisor, lanes: lanes), x])
        let corrected = ir.call(fused.function, type: fused.type, [r, y, q])
        return finite ? corrected : ir.select(ir.fcmp(.uno, corrected, corrected), q, corrected)
    }

    /// Copies `count` bytes, each vector of them through `transform` (given the
    /// bytes and their number), in vectors of 64 bytes and narrower tails.
    func copyBytes(_ count: Int, from source: IRValue, to destination: IRValue, transform: (IRValue, Int) -> IRValue) {
        for run in LaneRun.covering(count, width: 64) {
            ir.loop("copy", from: 0, to: run.count) { index in
                let offset = affine(index, times: run.lanes, plus: run.start)
                let type = ir.vector(ir.i8, run.lanes)
                let value = ir.load(type, from: ir.gep(ir.i8, source, [offset]), alignment: 1)
                ir.store(transform(value, run.lanes), to: ir.gep(ir.i8, destination, [offset]), alignment: 1)
            }
        }
    }

    /// Calls a one-operand floating-point intrinsic such as `llvm.floor` on a vector.
    func unaryIntrinsic(_ name: String, _ value: IRValue, lanes: Int) -> IRValue {
        let type = vectorType(lanes)
        let function = ir.intrinsic(name, overloads: [type], returning: type, parameters: [type])
        return ir.call(function.function, type: function.type, [value])
    }

    /// Loads `lanes` consecutive elements of `type` at element `offset` of `base`, widened to f32.
    func loadVector(_ base: IRValue, elementType: IRType, offset: IRValue, lanes: Int) -> IRValue {
        let pointer = ir.gep(elementType, base, [offset])
        let raw = ir.load(ir.vector(elementType, lanes), from: pointer, alignment: 1)
        if elementType == ir.f32 { return raw }
        if elementType == ir.f16 { return widenHalf(raw, lanes: lanes) }
        return ir.sitofp(raw, to: vectorType(lanes))
    }

    /// `<lanes x half>` widened to f32 exactly, in integer operations where the target has no
    /// conversion instruction: for h = s·e·m (1, 5, 10 bits), the f32 bits are s·(e + 112)·m·2¹³
    /// for a normal number, s·255·m·2¹³ for infinity and NaN (so NaN stays NaN), and
    /// s·(m·2⁻²⁴) for zero and subnormals, computed as (2⁻¹⁴·(1 + m/1024)) − 2⁻¹⁴.
    func widenHalf(_ half: IRValue, lanes: Int) -> IRValue {
        guard !hasHalfConversion else { return ir.fpext(half, to: vectorType(lanes)) }
        let words = ir.vector(ir.i32, lanes)
        func constant(_ value: Int) -> IRValue { ir.splat(ir.constant(value, ir.i32), count: lanes) }
        let bits = ir.zext(ir.bitcast(half, to: ir.vector(ir.i16, lanes)), to: words)
        let magnitude = ir.shl(ir.and(bits, constant(0x7fff)), constant(13))
        let exponent = ir.and(magnitude, constant(0x7c00 << 13))
        let normal = ir.add(magnitude, constant((127 - 15) << 23))
        let special = ir.add(normal, constant((128 - 16) << 23))
        let subnormal = ir.fsub(
            ir.bitcast(ir.add(normal, constant(1 << 23)), to: vectorType(lanes)), splat(Float(bitPattern: 113 << 23), lanes: lanes))
        let widened = ir.select(
            ir.icmp(.eq, exponent, constant(0)), subnormal,
            ir.bitcast(ir.select(ir.icmp(.eq, exponent, constant(0x7c00 << 13)), special, normal), to: vectorType(lanes)))
        let sign = ir.shl(ir.and(bits, constant(0x8000)), constant(16))
        return ir.bitcast(ir.or(ir.bitcast(widened, to: words), sign), to: vectorType(lanes))
    }

    /// Loads `lanes` consecutive f32 elements at `offset` of `base`.
    func loadVector(_ base: IRValue, offset: IRValue, lanes: Int) -> IRValue {
        loadVector(base, elementType: ir.f32, offset: offset, lanes: lanes)
    }

    /// Stores an f32 vector at element `offset` of `base`.
    func storeVector(_ value: IRValue, _ base: IRValue, offset: IRValue) {
        ir.store(value, to: ir.gep(ir.f32, base, [offset]), alignment: 4)
    }

    /// Loads one f32 at `offset` and repeats it in every lane.
    func broadcastLoad(_ base: IRValue, offset: IRValue, lanes: Int) -> IRValue {
        let scalar = ir.load(ir.f32, from: ir.gep(ir.f32, base, [offset]), alignment: 4)
        return ir.broadcast(scalar, count: lanes)
    }

    /// A stack slot for a `type` accumulator, placed in the entry block so
    /// LLVM's mem2reg keeps it in a register.
    func accumulator(_ type: IRType) -> IRValue {
        let current = ir.insertBlock
        ir.positionAtStart(of: entryBlock)
        let slot = ir.alloca(type)
        ir.position(at: current)
        return slot
    }

    /// A cache-line-aligned stack buffer of `floats` f32 elements, allocated once per node
    /// function, as an f32 pointer.
    func stackBuffer(floats: Int) -> IRValue {
        let current = ir.insertBlock
        ir.positionAtStart(of: entryBlock)
        let buffer = ir.alloca(ir.array(ir.f32, floats), alignment: 64)
        ir.position(at: current)
        return ir.bitcast(buffer, to: ir.pointer(to: ir.f32))
    }

    /// Emits `body` only where `condition` holds at run time, or unconditionally
    /// when `needed` is false (the condition is known to hold).
    func ifTrue(_ condition: IRValue, when needed: Bool = true, _ body: () throws -> Void) rethrows {
        guard needed else { return try body() }
        let function = ir.currentFunction
        let then = ir.appendBlock("if.then", to: function)
        let merge = ir.appendBlock("if.end", to: function)
        ir.conditionalBranch(condition, then: then, else: merge)
        ir.position(at: then)
        try body()
        ir.branch(to: merge)
        ir.position(at: merge)
    }

    /// `0 <= value < limit` for an i64 value.
    func isInRange(_ value: IRValue, below limit: Int) -> IRValue {
        // One unsigned comparison covers both bounds: negatives wrap to huge values.
        ir.icmp(.ult, value, index(limit))
    }

    /// `a * b + c` on i64 values with constant `b` and `c`.
    func affine(_ a: IRValue, times b: Int, plus c: Int = 0) -> IRValue {
        var result = b == 1 ? a : ir.mul(a, index(b))
        if c != 0 { result = ir.add(result, index(c)) }
        return result
    }

    /// Sums the lanes of an f32 vector.
    func horizontalSum(_ vector: IRValue, lanes: Int) -> IRValue {
        reduce(vector, lanes: lanes) { ir.fadd($0, $1) }
    }

    /// The largest lane of an f32 vector, NaN if any lane is NaN.
    func horizontalMax(_ vector: IRValue, lanes: Int) -> IRValue {
        reduce(vector, lanes: lanes) { maximumPropagatingNaN($0, $1) }
    }

    /// Lane-wise `a > b ? a : b`: `b` where either is NaN, so a NaN in `a` is dropped.
    func maximum(_ a: IRValue, _ b: IRValue) -> IRValue { ir.select(ir.fcmp(.ogt, a, b), a, b) }

    /// Lane-wise `a < b ? a : b`: `b` where either is NaN, so a NaN in `a` is dropped.
    func minimum(_ a: IRValue, _ b: IRValue) -> IRValue { ir.select(ir.fcmp(.olt, a, b), a, b) }

    /// Lane-wise IEEE 754-2019 `maximum`: the larger value, or NaN where either is NaN.
    func maximumPropagatingNaN(_ a: IRValue, _ b: IRValue) -> IRValue {
        ir.select(ir.fcmp(.uno, a, b), ir.fadd(a, b), maximum(a, b))
    }

    /// Lane-wise `x` limited to `[low, high]` (either bound optional), NaN staying NaN.
    func clamp(_ x: IRValue, low: IRValue? = nil, high: IRValue? = nil) -> IRValue {
        var result = x
        if let low { result = ir.select(ir.fcmp(.olt, result, low), low, result) }
        if let high { result = ir.select(ir.fcmp(.ogt, result, high), high, result) }
        return result
    }

    /// Lane-wise `x`, with NaN replaced by `replacement`.
    func replacingNaN(_ x: IRValue, with replacement: IRValue) -> IRValue {
        ir.select(ir.fcmp(.uno, x, x), replacement, x)
    }

    private func reduce(_ vector: IRValue, lanes: Int, _ combine: (IRValue, IRValue) -> IRValue) -> IRValue {
        // Pairwise halving keeps the dependency chain log2(lanes) long.
        var value = vector
        var width = lanes
        while width > 1 {
            let half = width / 2
            let low = ir.shuffle(value, value, mask: Array(0..<half))
            let high = ir.shuffle(value, value, mask: Array(half..<(2 * half)))
            var combined = combine(low, high)
            if width % 2 == 1 {
                let last = ir.extractElement(value, at: width - 1)
                let first = combine(ir.extractElement(combined, at: 0), last)
                combined = ir.insertElement(combined, first, at: 0)
            }
            value = combined
            width = half
        }
        return ir.extractElement(value, at: 0)
    }
}

/// Splits `count` elements into runs of vectors: full-width vectors first,
/// then narrower ones (8, 4 lanes) and finally single elements.
struct LaneRun: Hashable {
    /// First element of the run.
    var start: Int
    /// Lanes per vector.
    var lanes: Int
    /// Vectors in the run.
    var count: Int

    /// The runs covering `0..<total` with vectors of at most `width` lanes.
    static func covering(_ total: Int, width: Int) -> [LaneRun] {
        var runs: [LaneRun] = []
        var start = 0
        var lanes = width
        while start < total {
            let count = (total - start) / lanes
            if count > 0 {
                runs.append(LaneRun(start: start, lanes: lanes, count: count))
                start += count * lanes
            }
            lanes = lanes > 8 ? 8 : (lanes > 4 ? 4 : 1)
        }
        return runs
    }
}

/// Where one output pixel of a sliding-window kernel reads and writes.
struct WindowPosition {
    /// The batch index (i64).
    var batch: IRValue
    /// Input row and column of the window's top-left tap, negative inside the padding (i64).
    var originY: IRValue
    var originX: IRValue
    /// Element offset of the pixel's first output channel.
    var outputBase: IRValue
}

extension KernelEmitter {
    /// Loops over every output pixel of an NHWC sliding-window op, handing `body` its window origin and output offset.
    func forEachWindow(
        output: Shape, strides: [Int], rows: WindowGeometry, columns: WindowGeometry, _ body: (WindowPosition) -> Void
    ) {
        ir.loop("batch", from: 0, to: output[0]) { batch in
            rowLoop("oy", from: 0, to: output[1]) { oy in
                ir.loop("ox", from: 0, to: output[2]) { ox in
                    let pixel = affine(ir.add(affine(batch, times: output[1]), oy), times: output[2])
                    body(
                        WindowPosition(
                            batch: batch, originY: affine(oy, times: strides[0], plus: -rows.padBefore),
                            originX: affine(ox, times: strides[1], plus: -columns.padBefore),
                            outputBase: affine(ir.add(pixel, ox), times: output[3])))
                }
            }
        }
    }
}
