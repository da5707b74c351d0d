import KilnIR

/// How a level looks a vector of 4-bit weight indices up in a 16-entry table of floats.
enum CodebookLookup: Hashable {
    /// AVX-512's `vpermps` over one 16-float register.
    case permute16
    /// AVX2's `vpermps` over two 8-float registers, blended on the index's fourth bit.
    case permute8
    /// AArch64's `tbl` over the table's 64 bytes in four registers.
    case byteTable
    /// One scalar load per lane (SSE4.1).
    case scalar
}

extension ISALevel {
    /// How this level decodes the 4-bit indices of shared weights.
    var codebookLookup: CodebookLookup {
        switch self {
        case .avx512vnni, .avx512: .permute16
        case .avx2: .permute8
        case .neon, .neonDotProd: .byteTable
        case .sse41: .scalar
        }
    }
}

extension KernelEmitter {
    /// The `lanes` weights at element `offset` of a filter packed as 4-bit indices
    /// (``PackedFilter/init(_:codebook:laneWidth:)``), looked up in `table`, a global of 16 floats.
    /// `offset` is a multiple of `lanes`, which divides 16.
    func codebookWeights(_ indices: IRValue, table: IRValue, offset: IRValue, lanes: Int) -> IRValue {
        let words = ir.vector(ir.i32, lanes)
        func splat(_ value: Int) -> IRValue { ir.splat(ir.constant(value, ir.i32), count: lanes) }
        // Step `s` of the float layout (16 elements) shares 16 bytes with its neighbour: its
        // indices are the low nibbles when `s` is even, the high ones when odd.
        let step = ir.lshr(offset, index(4))
        let byte = ir.add(ir.mul(ir.lshr(step, index(1)), index(16)), ir.and(offset, index(15)))
        let shift = ir.trunc(ir.mul(ir.and(step, index(1)), index(4)), to: ir.i32)
        let raw = ir.load(ir.vector(ir.i8, lanes), from: ir.gep(ir.i8, indices, [byte]), alignment: 1)
        let positions: IRValue
        if lookup == .permute16, lanes == 16 {
            // `vpermps` reads only each lane's low 4 bits, so the high nibbles move down with a
            // 16-bit shift that carries the neighbouring byte's bits in above them: one `vpsrlw`,
            // no mask, and two steps share one load.
            let halves = ir.vector(ir.i16, 8)
            let moved = ir.lshr(ir.bitcast(raw, to: halves), ir.broadcast(ir.trunc(shift, to: ir.i16), count: 8))
            positions = ir.zext(ir.bitcast(moved, to: ir.vector(ir.i8, 16)), to: words)
        } else {
            positions = ir.and(ir.lshr(ir.zext(raw, to: words), ir.broadcast(shift, count: lanes)), splat(15))
        }
        switch (lookup, lanes) {
        case (.permute16, 16):
            let vector = ir.vector(ir.f32, 16)
            let permute = ir.intrinsic(
                "llvm.x86.avx512.permvar.sf.512", overloads: [], returning: vector, parameters: [vector, words])
            return ir.call(permute.function, type: permute.type, [loadVector(table, offset: index(0), lanes: 16), positions])
        case (.permute16, 8), (.permute8, 8):
            let vector = ir.vector(ir.f32, 8)
            let permute = ir.intrinsic("llvm.x86.avx2.permps", overloads: [], returning: vector, parameters: [vector, words])
            let halves = [0, 8].map {
                ir.call(permute.function, type: permute.type, [loadVector(table, offset: index($0), lanes: 8), positions])
            }
            return ir.select(ir.icmp(.ne, ir.and(positions, splat(8)), splat(0)), halves[1], halves[0])
        case (.byteTable, 4):
            // Lane i's four bytes are table bytes 4·index + 0…3.
            let bytes = ir.vector(ir.i8, 16)
            let lookup = ir.intrinsic(
                "llvm.aarch64.neon.tbl4", overloads: [bytes], returning: bytes, parameters: Array(repeating: bytes, count: 5))
            let quarters = (0..<4).map { ir.load(bytes, from: ir.gep(ir.i8, table, [index(16 * $0)]), alignment: 1) }
            let selectors = ir.add(ir.mul(positions, splat(0x0404_0404)), splat(0x0302_0100))
            let found = ir.call(lookup.function, type: lookup.type, quarters + [ir.bitcast(selectors, to: bytes)])
            return ir.bitcast(found, to: ir.vector(ir.f32, 4))
        default:
            var result = ir.undef(ir.vector(ir.f32, lanes))
            for lane in 0..<lanes {
                let position = ir.zext(ir.extractElement(positions, at: lane), to: ir.i64)
                let value = ir.load(ir.f32, from: ir.gep(ir.f32, table, [position]), alignment: 4)
                result = ir.insertElement(result, value, at: lane)
            }
            return result
        }
    }
}
