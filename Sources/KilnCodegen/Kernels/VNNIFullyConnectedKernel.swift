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
/// Used for int8 layers whose unit count is a multiple of 16.
struct VNNIFullyConnectedKernel {
    let emitter: KernelEmitter
    let rows: Int
    let depth: Int
    let units: Int
    /// Requantization after the sums (its bias is `nil`: the bias is in `initial`).
    let epilogue: Epilogue
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
            initial = (0..<units).map { channel in
                let sum = (0..<depth).reduce(Int32(0)) { $0 &+ Int32(filter[channel * depth + $1]) }
                return (bias?[channel] ?? 0) &- (128 &+ inputZeroPoint) &* sum
            }
        }
    }

    func emit(input: IRValue, output: IRValue) {
        let ir = emitter.ir
        let vectorType = ir.vector(ir.i32, 16)
        let weights = ir.addConstantBytes(name: "vnni.weights", bytes: packed.bytes, alignment: 64)
        let initial = ir.addConstantBytes(
            name: "vnni.initial", bytes: TensorData(int32: packed.initial, shape: [units]).bytes, alignment: 64)
        let dot = ir.intrinsic(
            "llvm.x86.avx512.vpdpbusd.512", overloads: [], returning: vectorType,
            parameters: [vectorType, vectorType, vectorType])
        let block = emitter.laneWidth >= 16 ? 4 : 2
        let slots = (0..<block).map { _ in
            (0..<Self.vectorsPerTile).map { _ in emitter.accumulator(vectorType) }
        }
        let flip = ir.constant(Int(Int32(bitPattern: 0x8080_8080)), ir.i32)
        let fullGroups = depth / 4
        let blocked = rows / block * block
        for (first, last, size) in [(0, blocked, block), (blocked, rows, 1)] where last > first {
            ir.loop("row", from: first, to: last, step: size) { row in
                let inputBases = (0..<size).map { emitter.affine(ir.add(row, emitter.index($0)), times: depth) }
                for tile in packed.tiles {
                    for position in 0..<size {
                        for vector in 0..<tile.vectors {
                            let channel = emitter.index(tile.start + vector * 16)
                            let start = ir.load(vectorType, from: ir.gep(ir.i32, initial, [channel]), alignment: 4)
                            ir.store(start, to: slots[position][vector], alignment: 4)
                        }
                    }
                    /// One group of four depths: each row's four input bytes against each vector's weights.
                    func accumulate(group: IRValue, inputs: [IRValue]) {
                        let broadcasts = inputs.map { ir.broadcast(ir.xor($0, flip), count: 16) }
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
                    ir.loop("group", from: 0, to: fullGroups) { group in
                        let inputs = inputBases.map { base in
                            ir.load(ir.i32, from: ir.gep(ir.i8, input, [ir.add(base, ir.mul(group, emitter.index(4)))]), alignment: 1)
                        }
                        accumulate(group: group, inputs: inputs)
                    }
                    if depth % 4 != 0 {
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
                            epilogue.store(
                                emitter, ir.load(vectorType, from: slots[position][vector], alignment: 4), channel: channel,
                                lanes: 16, output: output, offset: ir.add(emitter.affine(ir.add(row, emitter.index(position)), times: units), channel))
                        }
                    }
                }
            }
        }
    }
}
