import KilnIR

/// int8 fully-connected layers (and 1×1 convolutions) on AVX-512 VNNI.
///
/// `vpdpbusd` multiplies four unsigned input bytes by four signed weight
/// bytes in each of 16 lanes and adds the products into int32: 64
/// multiply-adds per instruction. Inputs are made unsigned by flipping their
/// sign bit (`x + 128`); the resulting `128 · Σw` and the zero point's
/// `-zx · Σw` are folded, with the bias, into each channel's starting value at
/// build time, so the integer sums equal `Σ (x - zx) · w + bias` exactly and
/// requantization is the same as everywhere else.
///
/// Used for int8 layers whose unit count is a multiple of 16, and for
/// dynamic-range ("hybrid") layers: float inputs rounded per row to their own
/// int8 grid (``QuantizedArithmetic/dynamicRangeParameters(minimum:maximum:)``),
/// int8 weights, float outputs.
struct VNNIFullyConnectedKernel {
    /// What the inputs and outputs are.
    enum Mode {
        /// int8 inputs; `epilogue` requantizes (its bias is `nil`: the bias is in the starting sums).
        case int8(Epilogue)
        /// float inputs quantized per row on the fly; results are `sum · step · scale[c] + bias[c]`, then `activation`.
        case dynamicRange(scales: IRValue, bias: IRValue?, activation: Activation?)
    }

    let emitter: KernelEmitter
    let rows: Int
    let depth: Int
    let units: Int
    let mode: Mode
    let packed: Packed

    /// Accumulator vectors per tile of channels.
    static let vectorsPerTile = 4

    /// Whether a layer of `units` outputs can run on this kernel for `emitter`'s target.
    static func applies(units: Int, emitter: KernelEmitter) -> Bool {
        emitter.hasVNNI && units % 16 == 0 && units > 0
    }

    /// The filter packed `[tile][group of 4 depths][vector][16 channels][4 bytes]`, and each channel's starting sum.
    struct Packed {
        /// Tiles: first channel and vectors of 16 channels.
        var tiles: [(start: Int, vectors: Int, offset: Int)]
        var bytes: [UInt8]
        var initial: [Int32]
        /// Each channel's `Σ w`, for the per-row zero-point correction of dynamic-range inputs.
        var weightSums: [Int32]
        var groups: Int

        init(filter: [Int8], units: Int, depth: Int, bias: [Int32]?, inputZeroPoint: Int32) {
            groups = (depth + 3) / 4
            tiles = []
            bytes = []
            var start = 0
            while start < units {
                let vectors = min(VNNIFullyConnectedKernel.vectorsPerTile, (units - start) / 16)
                tiles.append((start, vectors, bytes.count))
                for group in 0..<groups {
                    for vector in 0..<vectors {
                        for lane in 0..<16 {
                            let channel = start + vector * 16 + lane
                            for byte in 0..<4 {
                                let k = group * 4 + byte
                                bytes.append(k < depth ? UInt8(bitPattern: filter[channel * depth + k]) : 0)
                            }
                        }
                    }
                }
                start += vectors * 16
            }
            let sums = (0..<units).map { channel in
                (0..<depth).reduce(Int32(0)) { $0 &+ Int32(filter[channel * depth + $1]) }
            }
            weightSums = sums
            initial = (0..<units).map { (bias?[$0] ?? 0) &- (128 &+ inputZeroPoint) &* sums[$0] }
        }
    }

    func emit(input: IRValue, output: IRValue) {
        let ir = emitter.ir
        let vectorType = ir.vector(ir.i32, 16)
        let weights = ir.addConstantBytes(name: "vnni.weights", bytes: packed.bytes, alignment: 64)
        let initial = ir.addConstantBytes(
            name: "vnni.initial", bytes: TensorData(int32: packed.initial, shape: [units]).bytes, alignment: 64)
        let weightSums = ir.addConstantBytes(
            name: "vnni.sums", bytes: TensorData(int32: packed.weightSums, shape: [units]).bytes, alignment: 64)
        let dot = ir.intrinsic(
            "llvm.x86.avx512.vpdpbusd.512", overloads: [], returning: vectorType,
            parameters: [vectorType, vectorType, vectorType])
        let block = emitter.laneWidth >= 16 ? 4 : 2
        let slots = (0..<block).map { _ in
            (0..<Self.vectorsPerTile).map { _ in emitter.accumulator(vectorType) }
        }
        let flip = ir.constant(Int(Int32(bitPattern: 0x8080_8080)), ir.i32)
        let fullGroups = depth / 4
        let paddedDepth = packed.groups * 4

        // Dynamic-range inputs: each row of the block quantized once into unsigned bytes on the stack.
        var quantizedRows: IRValue?
        var rowGrids: [(zeroPoint: IRValue, step: IRValue)] = []
        let extremeSlots = QuantizedKernels(emitter: emitter).extremeSlots(depth)
        if case .dynamicRange = mode {
            quantizedRows = emitter.accumulator(ir.array(ir.i8, block * paddedDepth))
            rowGrids = (0..<block).map { _ in (emitter.accumulator(ir.i32), emitter.accumulator(ir.f32)) }
        }

        let blocked = rows / block * block
        for (first, last, size) in [(0, blocked, block), (blocked, rows, 1)] where last > first {
            ir.loop("row", from: first, to: last, step: size) { row in
                let inputBases = (0..<size).map { emitter.affine(ir.add(row, emitter.index($0)), times: depth) }
                var source = input
                var sourceBases = inputBases
                if let quantizedRows {
                    quantizeRows(input: input, bases: inputBases, into: quantizedRows, paddedDepth: paddedDepth, grids: rowGrids, slots: extremeSlots)
                    source = quantizedRows
                    sourceBases = (0..<size).map { emitter.index($0 * paddedDepth) }
                }
                for tile in packed.tiles {
                    for position in 0..<size {
                        for vector in 0..<tile.vectors {
                            let channel = emitter.index(tile.start + vector * 16)
                            let start = quantizedRows == nil
                                ? ir.load(vectorType, from: ir.gep(ir.i32, initial, [channel]), alignment: 4) : ir.zero(vectorType)
                            ir.store(start, to: slots[position][vector], alignment: 4)
                        }
                    }
                    /// One group of four depths: each row's four input bytes against each vector's weights.
                    func accumulate(group: IRValue, inputs: [IRValue]) {
                        let broadcasts = inputs.map { ir.broadcast(quantizedRows == nil ? ir.xor($0, flip) : $0, count: 16) }
                        let groupBase = emitter.affine(group, times: tile.vectors * 64, plus: tile.offset)
                        for vector in 0..<tile.vectors {
                            let offset = ir.add(groupBase, emitter.index(vector * 64))
                            let w = ir.load(vectorType, from: ir.gep(ir.i8, weights, [offset]), alignment: 64)
                            for (position, broadcast) in broadcasts.enumerated() {
                                let slot = slots[position][vector]
                                let sum = ir.call(dot.function, type: dot.type, [ir.load(vectorType, from: slot, alignment: 4), broadcast, w])
                                ir.store(sum, to: slot, alignment: 4)
                            }
                        }
                    }
                    // Quantized rows are padded to whole groups; raw int8 rows end with a partial one.
                    let wholeGroups = quantizedRows == nil ? fullGroups : packed.groups
                    ir.loop("group", from: 0, to: wholeGroups) { group in
                        let inputs = sourceBases.map { base in
                            ir.load(ir.i32, from: ir.gep(ir.i8, source, [ir.add(base, ir.mul(group, emitter.index(4)))]), alignment: 1)
                        }
                        accumulate(group: group, inputs: inputs)
                    }
                    if quantizedRows == nil, depth % 4 != 0 {
                        // The last, partial group: gather the bytes that exist; their weights beyond `depth` are zero.
                        let inputs = inputBases.map { base in
                            (0..<(depth % 4)).reduce(ir.constant(0, ir.i32)) { word, byte in
                                let offset = ir.add(base, emitter.index(fullGroups * 4 + byte))
                                let value = ir.zext(ir.load(ir.i8, from: ir.gep(ir.i8, input, [offset]), alignment: 1), to: ir.i32)
                                return ir.or(word, ir.shl(value, ir.constant(8 * byte, ir.i32)))
                            }
                        }
                        accumulate(group: emitter.index(fullGroups), inputs: inputs)
                    }
                    for position in 0..<size {
                        for vector in 0..<tile.vectors {
                            let channel = emitter.index(tile.start + vector * 16)
                            let sums = ir.load(vectorType, from: slots[position][vector], alignment: 4)
                            let offset = ir.add(emitter.affine(ir.add(row, emitter.index(position)), times: units), channel)
                            switch mode {
                            case .int8(let epilogue):
                                epilogue.store(emitter, sums, channel: channel, lanes: 16, output: output, offset: offset)
                            case .dynamicRange(let scales, let bias, let activation):
                                // Σ (u - 128 - zp) · w = Σ u · w - (128 + zp) · Σ w.
                                let grid = rowGrids[position]
                                let shift = ir.add(ir.load(ir.i32, from: grid.zeroPoint, alignment: 4), ir.constant(128, ir.i32))
                                let sumsOfWeights = ir.load(vectorType, from: ir.gep(ir.i32, weightSums, [channel]), alignment: 4)
                                let centered = ir.sub(sums, ir.mul(sumsOfWeights, ir.broadcast(shift, count: 16)))
                                // (sum · step) · scale + bias: the order XNNPACK's dynamic-range kernels use.
                                let step = ir.broadcast(ir.load(ir.f32, from: grid.step, alignment: 4), count: 16)
                                let stepped = ir.fmul(ir.sitofp(centered, to: emitter.vectorType(16)), step)
                                let scale = emitter.loadVector(scales, offset: channel, lanes: 16)
                                var value = ir.fmul(stepped, scale)
                                if let bias {
                                    value = emitter.fma(stepped, scale, emitter.loadVector(bias, offset: channel, lanes: 16), lanes: 16)
                                }
                                emitter.storeVector(emitter.activate(value, activation, lanes: 16), output, offset: offset)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Quantizes each row at `bases` to its own grid, storing `q + 128` as bytes
    /// row after row (`paddedDepth` apart) and each row's zero point and step.
    private func quantizeRows(
        input: IRValue, bases: [IRValue], into buffer: IRValue, paddedDepth: Int,
        grids: [(zeroPoint: IRValue, step: IRValue)], slots: QuantizedKernels.ExtremeSlots
    ) {
        let ir = emitter.ir
        let kernels = QuantizedKernels(emitter: emitter)
        for (position, base) in bases.enumerated() {
            let (minimum, maximum) = kernels.extremes(of: input, base: base, count: depth, slots: slots)
            let grid = kernels.parameters(minimum: minimum, maximum: maximum)
            ir.store(grid.zeroPoint, to: grids[position].zeroPoint, alignment: 4)
            ir.store(grid.step, to: grids[position].step, alignment: 4)
            let shift = ir.add(grid.zeroPoint, ir.constant(128, ir.i32))
            for run in LaneRun.covering(depth, width: emitter.laneWidth) {
                ir.loop("quantize", from: 0, to: run.count) { block in
                    let k = emitter.affine(block, times: run.lanes, plus: run.start)
                    let steps = kernels.roundedSteps(emitter.loadVector(input, offset: ir.add(base, k), lanes: run.lanes), grid, lanes: run.lanes)
                    let unsigned = ir.trunc(ir.add(steps, ir.broadcast(shift, count: run.lanes)), to: ir.vector(ir.i8, run.lanes))
                    ir.store(unsigned, to: ir.gep(ir.i8, buffer, [emitter.affine(k, times: 1, plus: position * paddedDepth)]), alignment: 1)
                }
            }
        }
    }
}
