import KilnIR

/// Multiplies of 16-bit pairs on x86, shared by the int8 depthwise, matrix-product and
/// convolution kernels of levels without `vpdpbusd`: `pmaddwd` multiplies two i16 pairs per
/// i32 lane and adds each pair into one i32, exactly (`|x − zx| ≤ 255`, `|w| ≤ 128`).
extension KernelEmitter {
    /// `sums + pairs(x · w)` on vectors of `lanes` i16 (passed as `lanes / 2` i32): each i32 lane
    /// gains the two products of its pair.
    func pairwiseMultiplyAdd(
        _ multiply: KernelChoice.PairwiseMultiply, lanes: Int
    ) -> (IRValue, IRValue, IRValue) -> IRValue {
        let words = ir.vector(ir.i32, lanes / 2)
        switch multiply {
        case .vpdpwssd:
            let dot = ir.intrinsic(
                "llvm.x86.avx512.vpdpwssd.\(lanes * 16)", overloads: [], returning: words,
                parameters: [words, words, words])
            return { sums, x, w in ir.call(dot.function, type: dot.type, [sums, x, w]) }
        case .pmaddwd:
            let halves = ir.vector(ir.i16, lanes)
            let name =
                switch lanes {
                case 32: "llvm.x86.avx512.pmaddw.d.512"
                case 16: "llvm.x86.avx2.pmadd.wd"
                default: "llvm.x86.sse2.pmadd.wd"
                }
            let madd = ir.intrinsic(name, overloads: [], returning: words, parameters: [halves, halves])
            return { sums, x, w in
                ir.add(sums, ir.call(madd.function, type: madd.type, [ir.bitcast(x, to: halves), ir.bitcast(w, to: halves)]))
            }
        }
    }

    /// Two consecutive int8 inputs at `offset`, each minus `zeroPoint`, as the halves of one i32
    /// (the first in the low half), ready to broadcast against pairs of weights; with `count` 1,
    /// the one input and a zero, so nothing past it is read.
    func centeredPair(_ input: IRValue, offset: IRValue, zeroPoint: Int32, count: Int) -> IRValue {
        let zero = ir.constant(Int(zeroPoint), ir.i16)
        guard count == 2 else {
            let value = ir.sext(ir.load(ir.i8, from: ir.gep(ir.i8, input, [offset]), alignment: 1), to: ir.i16)
            return ir.zext(zeroPoint == 0 ? value : ir.sub(value, zero), to: ir.i32)
        }
        let pair = ir.vector(ir.i8, 2)
        let bytes = ir.load(pair, from: ir.bitcast(ir.gep(ir.i8, input, [offset]), to: ir.pointer(to: pair)), alignment: 1)
        let halves = ir.sext(bytes, to: ir.vector(ir.i16, 2))
        return ir.bitcast(zeroPoint == 0 ? halves : ir.sub(halves, ir.splat(zero, count: 2)), to: ir.i32)
    }
}

extension PackedFilter {
    /// Packs an int8 `filter` (`[units, taps · channels]`) for pairwise multiplies: each tap's
    /// channels in pairs, an odd last channel paired with a zero weight, each pair one i32 word
    /// (first weight in the low half), tiled like any filter over vectors of `lanes` i32.
    init(pairing filter: TensorData, taps: Int, quantization: QuantizationParameters?, lanes: Int) {
        let units = filter.shape[0]
        let channels = units == 0 || taps == 0 ? 0 : filter.elementCount / units / taps
        let pairs = (channels + 1) / 2
        let weights = filter.int8s()
        var words: [Int32] = []
        words.reserveCapacity(units * taps * pairs)
        for unit in 0..<units {
            for tap in 0..<taps {
                let base = (unit * taps + tap) * channels
                for pair in 0..<pairs {
                    let low = UInt16(bitPattern: Int16(weights[base + 2 * pair]))
                    let high = 2 * pair + 1 < channels ? UInt16(bitPattern: Int16(weights[base + 2 * pair + 1])) : 0
                    words.append(Int32(bitPattern: UInt32(high) << 16 | UInt32(low)))
                }
            }
        }
        self.init(TensorData(int32: words, shape: [units, taps * pairs]), quantization: quantization, laneWidth: lanes)
    }
}
