import KilnIR

/// NHWC resize: `out[n, y, x, c]` reads the input rows and columns that
/// ``ResizeAttributes/sources(input:output:)`` gives for `y` and `x`, computed
/// at build time into tables of element offsets and weights.
///
/// Nearest copies the channel vector of one pixel. Bilinear computes
/// `top = a + (b − a)·wx`, `bottom = c + (d − c)·wx`, `top + (bottom − top)·wy`
/// over each channel vector; on int8 it interpolates steps from the input's
/// zero point and rescales once, as the reference does.
struct ResizeKernel {
    let emitter: KernelEmitter
    let inputShape: Shape
    let outputShape: Shape
    let attributes: ResizeAttributes
    /// The input and output parameters of an int8 resize.
    let quantization: (input: QuantizationParameters, output: QuantizationParameters)?

    private var ir: IRModule { emitter.ir }

    /// Offset tables (i64) and weights (f32) for one axis, scaled by the axis stride.
    private func tables(input: Int, output: Int, stride: Int, name: String) -> (lower: IRValue, upper: IRValue, weight: IRValue) {
        let sources = attributes.sources(input: input, output: output)
        func offsets(_ positions: [Int]) -> [UInt8] {
            positions.flatMap { withUnsafeBytes(of: Int64($0 * stride).littleEndian, Array.init) }
        }
        return (
            ir.addConstantBytes(name: "resize.\(name).lower", bytes: offsets(sources.map(\.lower)), alignment: 64),
            ir.addConstantBytes(name: "resize.\(name).upper", bytes: offsets(sources.map(\.upper)), alignment: 64),
            ir.addConstantBytes(
                name: "resize.\(name).weight", bytes: TensorData(sources.map(\.weight), shape: [output]).bytes, alignment: 64)
        )
    }

    func emit(input: IRValue, output: IRValue) {
        let (height, width, channels) = (inputShape[1], inputShape[2], inputShape[3])
        let rows = tables(input: height, output: outputShape[1], stride: width * channels, name: "rows")
        let columns = tables(input: width, output: outputShape[2], stride: channels, name: "columns")
        let elementType = quantization == nil ? ir.f32 : ir.i8
        func entry(_ table: IRValue, _ index: IRValue) -> IRValue {
            ir.load(ir.i64, from: ir.gep(ir.i64, table, [index]), alignment: 8)
        }
        ir.loop("n", from: 0, to: inputShape[0]) { n in
            let image = emitter.affine(n, times: height * width * channels)
            ir.loop("y", from: 0, to: outputShape[1]) { y in
                let top = ir.add(image, entry(rows.lower, y))
                let bottom = ir.add(image, entry(rows.upper, y))
                let rowWeight = ir.load(ir.f32, from: ir.gep(ir.f32, rows.weight, [y]), alignment: 4)
                let outputRow = emitter.affine(ir.add(emitter.affine(n, times: outputShape[1]), y), times: outputShape[2] * channels)
                ir.loop("x", from: 0, to: outputShape[2]) { x in
                    let left = entry(columns.lower, x)
                    let right = entry(columns.upper, x)
                    let columnWeight = ir.load(ir.f32, from: ir.gep(ir.f32, columns.weight, [x]), alignment: 4)
                    let destination = ir.add(outputRow, emitter.affine(x, times: channels))
                    for run in LaneRun.covering(channels, width: emitter.laneWidth) {
                        ir.loop("c", from: 0, to: run.count) { block in
                            let channel = emitter.affine(block, times: run.lanes, plus: run.start)
                            let target = ir.add(destination, channel)
                            if attributes.method == .nearest {
                                let value = ir.load(
                                    ir.vector(elementType, run.lanes),
                                    from: ir.gep(elementType, input, [ir.add(ir.add(top, left), channel)]), alignment: 1)
                                ir.store(value, to: ir.gep(elementType, output, [target]), alignment: 1)
                                return
                            }
                            func load(_ row: IRValue, _ column: IRValue) -> IRValue {
                                let offset = ir.add(ir.add(row, column), channel)
                                guard let quantization else { return emitter.loadVector(input, offset: offset, lanes: run.lanes) }
                                let wide = emitter.loadInt8(input, offset: offset, lanes: run.lanes)
                                let zero = ir.splat(ir.constant(Int(quantization.input.zeroPoints[0]), ir.i32), count: run.lanes)
                                return ir.sitofp(ir.sub(wide, zero), to: emitter.vectorType(run.lanes))
                            }
                            let wx = ir.broadcast(columnWeight, count: run.lanes)
                            let wy = ir.broadcast(rowWeight, count: run.lanes)
                            func lerp(_ a: IRValue, _ b: IRValue, _ weight: IRValue) -> IRValue {
                                ir.fadd(a, ir.fmul(ir.fsub(b, a), weight))
                            }
                            let upper = lerp(load(top, left), load(top, right), wx)
                            let lower = lerp(load(bottom, left), load(bottom, right), wx)
                            let value = lerp(upper, lower, wy)
                            guard let quantization else { return emitter.storeVector(value, output, offset: target) }
                            let ratio = quantization.input.scales[0] / quantization.output.scales[0]
                            emitter.storeQuantized(
                                ir.fmul(value, emitter.splat(ratio, lanes: run.lanes)),
                                zeroPoint: quantization.output.zeroPoints[0], range: QuantizedArithmetic.int8Range,
                                lanes: run.lanes, output: output, offset: target)
                        }
                    }
                }
            }
        }
    }
}
