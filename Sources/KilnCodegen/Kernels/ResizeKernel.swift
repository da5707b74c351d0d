import KilnIR

/// NHWC resize: `out[n, y, x, c]` reads the input rows and columns that
/// ``ResizeAttributes/sources(input:output:)`` gives for `y` and `x`, computed
/// at build time into tables of element offsets and weights.
///
/// Nearest copies the channel vector of one pixel. Bilinear computes
/// `top = a + (b − a)·wx`, `bottom = c + (d − c)·wx`, `top + (bottom − top)·wy`
/// over each channel vector; bicubic sums four taps along W for each of four
/// rows, then the rows along H (``ResizeAttributes/cubicTaps(input:output:)``).
/// On int8 both interpolate steps from the input's zero point and rescale once,
/// as the reference does.
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
        if attributes.method == .bicubic { return emitBicubic(input: input, output: output) }
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
                            func pixel(_ row: IRValue, _ column: IRValue) -> IRValue {
                                load(input, offset: ir.add(ir.add(row, column), channel), lanes: run.lanes)
                            }
                            let wx = ir.broadcast(columnWeight, count: run.lanes)
                            let wy = ir.broadcast(rowWeight, count: run.lanes)
                            func lerp(_ a: IRValue, _ b: IRValue, _ weight: IRValue) -> IRValue {
                                ir.fadd(a, ir.fmul(ir.fsub(b, a), weight))
                            }
                            let upper = lerp(pixel(top, left), pixel(top, right), wx)
                            let lower = lerp(pixel(bottom, left), pixel(bottom, right), wx)
                            store(lerp(upper, lower, wy), output: output, offset: target, lanes: run.lanes)
                        }
                    }
                }
            }
        }
    }

    /// Per output position of one axis, four element offsets (i64, scaled by the axis stride) and
    /// four weights (f32), side by side.
    private func cubicTables(input: Int, output: Int, stride: Int, name: String) -> (offsets: IRValue, weights: IRValue) {
        let taps = attributes.cubicTaps(input: input, output: output).flatMap { $0 }
        return (
            ir.addConstantBytes(
                name: "resize.\(name).taps",
                bytes: taps.flatMap { withUnsafeBytes(of: Int64($0.index * stride).littleEndian, Array.init) }, alignment: 64),
            ir.addConstantBytes(
                name: "resize.\(name).weights", bytes: TensorData(taps.map(\.weight), shape: [taps.count]).bytes, alignment: 64)
        )
    }

    /// The bicubic resize: `Σ_i wy_i · (Σ_j wx_j · x[y_i, x_j])` per channel vector, each product
    /// rounded before its sum (no FMA), in the reference's order, so results match it bit for bit.
    private func emitBicubic(input: IRValue, output: IRValue) {
        let (height, width, channels) = (inputShape[1], inputShape[2], inputShape[3])
        let rows = cubicTables(input: height, output: outputShape[1], stride: width * channels, name: "rows")
        let columns = cubicTables(input: width, output: outputShape[2], stride: channels, name: "columns")
        func taps(_ table: (offsets: IRValue, weights: IRValue), _ position: IRValue) -> [(offset: IRValue, weight: IRValue)] {
            (0..<4).map { tap in
                let entry = emitter.affine(position, times: 4, plus: tap)
                return (
                    ir.load(ir.i64, from: ir.gep(ir.i64, table.offsets, [entry]), alignment: 8),
                    ir.load(ir.f32, from: ir.gep(ir.f32, table.weights, [entry]), alignment: 4)
                )
            }
        }
        ir.loop("n", from: 0, to: inputShape[0]) { n in
            let image = emitter.affine(n, times: height * width * channels)
            ir.loop("y", from: 0, to: outputShape[1]) { y in
                let rowTaps = taps(rows, y).map { (ir.add(image, $0.offset), $0.weight) }
                let outputRow = emitter.affine(ir.add(emitter.affine(n, times: outputShape[1]), y), times: outputShape[2] * channels)
                ir.loop("x", from: 0, to: outputShape[2]) { x in
                    let columnTaps = taps(columns, x)
                    let destination = ir.add(outputRow, emitter.affine(x, times: channels))
                    for run in LaneRun.covering(channels, width: emitter.laneWidth) {
                        ir.loop("c", from: 0, to: run.count) { block in
                            let channel = emitter.affine(block, times: run.lanes, plus: run.start)
                            var sum = ir.zero(emitter.vectorType(run.lanes))
                            for (row, rowWeight) in rowTaps {
                                var line = ir.zero(emitter.vectorType(run.lanes))
                                for (column, columnWeight) in columnTaps {
                                    let value = load(input, offset: ir.add(ir.add(row, column), channel), lanes: run.lanes)
                                    line = ir.fadd(line, ir.fmul(ir.broadcast(columnWeight, count: run.lanes), value))
                                }
                                sum = ir.fadd(sum, ir.fmul(ir.broadcast(rowWeight, count: run.lanes), line))
                            }
                            store(sum, output: output, offset: ir.add(destination, channel), lanes: run.lanes)
                        }
                    }
                }
            }
        }
    }

    /// `lanes` input elements at `offset` as floats: int8 ones as steps from the input's zero point.
    private func load(_ input: IRValue, offset: IRValue, lanes: Int) -> IRValue {
        guard let quantization else { return emitter.loadVector(input, offset: offset, lanes: lanes) }
        let wide = emitter.loadInt8(input, offset: offset, lanes: lanes)
        let zero = ir.splat(ir.constant(Int(quantization.input.zeroPoints[0]), ir.i32), count: lanes)
        return ir.sitofp(ir.sub(wide, zero), to: emitter.vectorType(lanes))
    }

    /// Stores an interpolated vector: as it is, or int8 steps rescaled once to the output's grid.
    private func store(_ value: IRValue, output: IRValue, offset: IRValue, lanes: Int) {
        guard let quantization else { return emitter.storeVector(value, output, offset: offset) }
        let ratio = quantization.input.scales[0] / quantization.output.scales[0]
        emitter.storeQuantized(
            ir.fmul(value, emitter.splat(ratio, lanes: lanes)), zeroPoint: quantization.output.zeroPoints[0],
            range: QuantizedArithmetic.int8Range, lanes: lanes, output: output, offset: offset)
    }
}
