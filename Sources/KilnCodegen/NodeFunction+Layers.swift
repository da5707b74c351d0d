import KilnIR

/// The kernels of layers with filters and of the layout ops, emitted for one node.
extension NodeFunction {
    /// The epilogue of a fully-connected or convolution node: float (optionally
    /// dequantizing int8 weights) or int8 requantization. With `repeats` above 1, every
    /// per-channel constant holds its channels that many times over (for merged pixels).
    func epilogue(activation: Activation?, filterScales: [Float]?, repeats: Int = 1) throws -> Epilogue {
        let filterScales = filterScales.map { Array(repeatElement($0, count: repeats).joined()) }
        let biasGlobal = node.inputs.count > 2
            ? graph.constantData(node.inputs[2]).map {
                ir.addConstantBytes(
                    name: "bias.\(node.name)", bytes: Array(repeatElement($0.bytes, count: repeats).joined()), alignment: 64)
            } : nil
        guard resultType.dtype == .int8 else {
            let scales = filterScales.map {
                ir.addConstantBytes(name: "scales.\(node.name)", bytes: TensorData($0, shape: [$0.count]).bytes, alignment: 64)
            }
            return .float(scales: scales, bias: biasGlobal, activation: activation)
        }
        let input = try parameters(operandType(0))
        let output = try parameters(resultType)
        guard let filterScales else { throw CodegenError("layer '\(node.name)': an int8 layer needs a quantized filter") }
        let multipliers = filterScales.map {
            QuantizedArithmetic.requantizationScale(input: input.scales[0], filter: $0, output: output.scales[0])
        }
        let scales = ir.addConstantBytes(
            name: "requantize.\(node.name)", bytes: TensorData(multipliers, shape: [multipliers.count]).bytes, alignment: 64)
        return .quantized(
            bias: biasGlobal, scales: scales, inputZeroPoint: input.zeroPoints[0], outputZeroPoint: output.zeroPoints[0],
            range: try range(activation), stepsBound: stepsBound(multipliers: multipliers))
    }

    /// A bound on `|accumulator · multiplier|` for this int8 layer: each of the
    /// filter's taps per output adds at most `255 · 128` (`|x − zx| ≤ 255`,
    /// `|w| ≤ 128`), the bias at most its largest magnitude; with a margin for
    /// the float rounding of the product.
    func stepsBound(multipliers: [Float]) -> Float {
        let filter = operandType(1).shape
        var units = filter[0]
        if case .depthwiseConv2D = node.op { units = filter[3] }
        units = max(units, 1)
        let depth = Double(filter.elementCount / units)
        let bias = node.inputs.count > 2 ? (graph.constantData(node.inputs[2])?.int32s() ?? []) : []
        let largestBias = Double(bias.map { Int64($0).magnitude }.max() ?? 0)
        let largestMultiplier = Double(multipliers.map(\.magnitude).max() ?? 0)
        return Float((255 * 128 * depth + largestBias) * largestMultiplier * 1.001)
    }

    /// `epilogue` followed by the residual add fused into this layer, if the plan fused one.
    func withResidualAdd(_ epilogue: Epilogue) throws -> Epilogue {
        guard let index = choice.residualAdd else { return epilogue }
        let add = graph.nodes[index]
        guard case .add(let activation) = add.op, let residual = add.inputs.first(where: { $0 != node.outputs[0] }) else {
            throw CodegenError("internal error: layer '\(node.name)' has no residual add to fuse")
        }
        let operand = pointers[pointers.count - 2]
        guard resultType.dtype == .int8 else { return .residual(epilogue, ResidualAdd(operand: operand, arithmetic: .float(activation: activation))) }
        let result = try parameters(graph.type(of: add.outputs[0]))
        guard let range = QuantizedArithmetic.activationRange(activation, scale: result.scales[0], zeroPoint: result.zeroPoints[0])
        else {
            throw CodegenError("layer '\(add.name)': a fused \(activation?.rawValue ?? "") activation is not supported on int8")
        }
        return .residual(
            epilogue,
            ResidualAdd(
                operand: operand,
                arithmetic: .int8(
                    layer: try parameters(resultType), residual: try parameters(graph.type(of: residual)), result: result,
                    range: range)))
    }

    /// Packs the filter and bakes filter, scales and bias into globals.
    /// The register-blocked dot product of a fully-connected or convolution layer; with
    /// `pairwise`, an int8 filter of `taps` window taps packed in pairs of channels.
    func dotProduct(
        activation: Activation?, pairwise: (multiply: KernelChoice.PairwiseMultiply, lanes: Int, taps: Int)? = nil
    ) throws -> DotProductKernel {
        guard let filterData = graph.constantData(node.inputs[1]) else {
            throw CodegenError("layer '\(node.name)': filters must be constants")
        }
        let quantization = operandType(1).quantization
        let filter: PackedFilter
        if let pairwise {
            guard filterData.dtype == .int8 else {
                throw CodegenError("layer '\(node.name)': a pairwise int8 kernel needs an int8 filter")
            }
            filter = PackedFilter(pairing: filterData, taps: pairwise.taps, quantization: quantization, lanes: pairwise.lanes)
        } else if choice.sharesWeights, let codebook = WeightCodebook(filterData) {
            filter = PackedFilter(filterData, codebook: codebook, laneWidth: emitter.laneWidth)
        } else {
            filter = PackedFilter(filterData, quantization: quantization, laneWidth: emitter.laneWidth)
        }
        let weights = ir.addConstantBytes(name: "weights.\(node.name)", bytes: filter.bytes, alignment: 64)
        var layerEpilogue = try epilogue(activation: activation, filterScales: filter.scales)
        var initialSums: IRValue?
        if pairwise != nil {
            // A padding tap reads zero points, which adds exactly what the fold removes.
            let units = filterData.shape[0]
            let depth = filterData.elementCount / max(units, 1)
            let values = filterData.int8s()
            let sums = (0..<units).map { unit in (0..<depth).reduce(Int32(0)) { $0 &+ Int32(values[unit * depth + $1]) } }
            if let folded = foldingZeroPoint(into: layerEpilogue, weightSums: sums) {
                // Padded to whole vectors, which the kernel loads.
                initialSums = startingSums(folded.starts + Array(repeating: 0, count: 16))
                layerEpilogue = folded.epilogue
            }
        }
        return DotProductKernel(
            emitter: emitter, filter: filter, weights: weights, epilogue: try withResidualAdd(layerEpilogue),
            pairwise: pairwise?.multiply, initialSums: initialSums,
            codebook: filter.codebook.map {
                ir.addConstantBytes(
                    name: "codebook.\(node.name)", bytes: TensorData($0.values, shape: [$0.values.count]).bytes, alignment: 64)
            })
    }

    /// A float fully-connected or pointwise layer whose filter is block-pruned: only the
    /// reduction steps each block of output channels keeps are packed and multiplied.
    func emitBlockSparseGEMM(rowsPerBlock: Int) throws {
        guard let filterData = graph.constantData(node.inputs[1]), let sparsity = BlockSparsity(filterData) else {
            throw CodegenError("internal error: layer '\(node.name)' has no block-sparse float filter")
        }
        let filter = PackedFilter(filterData, keeping: sparsity, laneWidth: emitter.laneWidth)
        let steps = FullyConnectedKernel.KeptSteps(
            indices: ir.addConstantBytes(
                name: "kept.\(node.name)", bytes: TensorData(int32: sparsity.indices, shape: [sparsity.indices.count]).bytes,
                alignment: 64),
            starts: ir.addConstantBytes(
                name: "starts.\(node.name)", bytes: TensorData(int32: sparsity.starts, shape: [sparsity.starts.count]).bytes,
                alignment: 64))
        let dot = DotProductKernel(
            emitter: emitter, filter: filter,
            weights: ir.addConstantBytes(name: "weights.\(node.name)", bytes: filter.bytes, alignment: 64),
            epilogue: try withResidualAdd(try epilogue(activation: node.op.fusedActivation, filterScales: nil)))
        let layer = gemmShape
        var kernel = FullyConnectedKernel(
            emitter: emitter, dot: dot, rows: layer.rows, depth: layer.depth, units: layer.units, rowsPerBlock: rowsPerBlock)
        kernel.splitsOutputChannels = choice.split?.axis == .outputChannels
        kernel.keptSteps = steps
        kernel.exactRowRange = choice.band != nil
        kernel.emit(input: pointers[0], output: output)
    }

    /// A float fully-connected layer of a few rows over an unstructured sparse filter: slices of
    /// units gathering their inputs.
    func emitSparseGEMV(lanes: Int) throws {
        guard let filterData = graph.constantData(node.inputs[1]), let nonzeros = SlicedNonzeros(filterData) else {
            throw CodegenError("internal error: layer '\(node.name)' has no sparse float filter")
        }
        let layer = gemmShape
        SparseGEMVKernel(
            emitter: emitter, epilogue: try floatEpilogue(), rows: layer.rows, depth: layer.depth, units: layer.units,
            lanes: lanes, sliceStarts: constantTable("slices", nonzeros.sliceStarts),
            counts: constantTable("counts", nonzeros.counts),
            positions: nonzeros.hasShortPositions
                ? constantTable("positions", nonzeros.positions.map { UInt16(truncatingIfNeeded: $0) })
                : constantTable("positions", nonzeros.positions),
            values: constantTable("weights", nonzeros.values), hasShortPositions: nonzeros.hasShortPositions
        ).emit(input: pointers[0], output: output)
    }

    /// A float fully-connected layer of a few rows over an unstructured sparse filter on AVX-512:
    /// slices of units picking their inputs from chunks held in registers.
    func emitPermutedSparseGEMV() throws {
        guard let filterData = graph.constantData(node.inputs[1]), let nonzeros = ChunkedNonzeros(filterData) else {
            throw CodegenError("internal error: layer '\(node.name)' has no sparse float filter")
        }
        let layer = gemmShape
        PermutedSparseGEMVKernel(
            emitter: emitter, epilogue: try floatEpilogue(), rows: layer.rows, depth: layer.depth, units: layer.units,
            sliceStarts: constantTable("slices", nonzeros.sliceStarts), bases: constantTable("bases", nonzeros.bases),
            positions: constantTable("positions", nonzeros.positions), values: constantTable("weights", nonzeros.values),
            sources: constantTable("sources", nonzeros.sources), isStrided: nonzeros.isStrided
        ).emit(input: pointers[0], output: output)
    }

    /// A float fully-connected layer of a few rows over a filter pruned N:4 (AVX2, AVX-512): each
    /// group of four inputs gives each unit its picks by in-lane permutes.
    func emitSemiStructuredSparseGEMV(lanes: Int) throws {
        guard let filterData = graph.constantData(node.inputs[1]),
            let nonzeros = SemiStructuredNonzeros(filterData, lanes: lanes)
        else {
            throw CodegenError("internal error: layer '\(node.name)' has no semi-structured float filter")
        }
        SemiStructuredSparseGEMVKernel(
            emitter: emitter, epilogue: try floatEpilogue(), rows: gemmShape.rows, nonzeros: nonzeros,
            controls: constantTable("controls", nonzeros.controls), values: constantTable("weights", nonzeros.values)
        ).emit(input: pointers[0], output: output)
    }

    /// A float matrix-vector product over shared weights on AVX-512 or AVX2: each step's indices shifted
    /// out of words that serve eight.
    func emitCodebookGEMV() throws {
        guard let filterData = graph.constantData(node.inputs[1]), let codebook = WeightCodebook(filterData),
            let indices = CodebookWords(filterData, codebook: codebook, lanes: emitter.laneWidth)
        else {
            throw CodegenError("internal error: layer '\(node.name)' has no shared float filter")
        }
        CodebookGEMVKernel(
            emitter: emitter, epilogue: try floatEpilogue(), rows: gemmShape.rows, indices: indices,
            words: constantTable("indices", indices.words), table: constantTable("codebook", codebook.values)
        ).emit(input: pointers[0], output: output)
    }

    /// The epilogue of a float layer's sparse or shared-weight kernel: its fused activation and
    /// any fused residual add.
    private func floatEpilogue() throws -> Epilogue {
        try withResidualAdd(try epilogue(activation: node.op.fusedActivation, filterScales: nil))
    }

    /// A constant global of `values`, little-endian, named after the node and 64-byte aligned.
    private func constantTable<T: FixedWidthInteger>(_ name: String, _ values: [T]) -> IRValue {
        ir.addConstantBytes(
            name: "\(name).\(node.name)", bytes: values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) },
            alignment: 64)
    }

    /// ``constantTable(_:_:)`` of floats.
    private func constantTable(_ name: String, _ values: [Float]) -> IRValue {
        ir.addConstantBytes(name: "\(name).\(node.name)", bytes: TensorData(values, shape: [values.count]).bytes, alignment: 64)
    }

    /// The input's zero point folded into each output channel's starting sum,
    /// `Σ (x − zx)·w + b = Σ x·w + (b − zx·Σw)`, from each channel's `Σw`: the starting sums and
    /// the epilogue without its bias. `nil` for a float epilogue.
    func foldingZeroPoint(into epilogue: Epilogue, weightSums: [Int32]) -> (starts: [Int32], epilogue: Epilogue)? {
        guard case .quantized(_, let requantize, let zeroPoint, let outputZeroPoint, let range, let bound) = epilogue else {
            return nil
        }
        let bias = node.inputs.count > 2 ? graph.constantData(node.inputs[2])?.int32s() : nil
        let starts = weightSums.indices.map { (bias?[$0] ?? 0) &- zeroPoint &* weightSums[$0] }
        return (
            starts,
            .quantized(
                bias: nil, scales: requantize, inputZeroPoint: zeroPoint, outputZeroPoint: outputZeroPoint, range: range,
                stepsBound: bound)
        )
    }

    /// A global of int32 starting sums for this node.
    private func startingSums(_ values: [Int32]) -> IRValue {
        ir.addConstantBytes(
            name: "initial.\(node.name)", bytes: TensorData(int32: values, shape: [values.count]).bytes, alignment: 64)
    }

    /// Rows, depth and units of a fully-connected or pointwise layer seen as a matrix product.
    var gemmShape: (rows: Int, depth: Int, units: Int) {
        let filter = operandType(1).shape
        let units = filter[0]
        return (resultType.elementCount / max(units, 1), filter.elementCount / max(units, 1), units)
    }

    /// The VNNI kernel of an int8 layer whose filter is `[units, taps · channels]`.
    func vnniKernel(channels: Int, taps: Int) throws -> VNNIGEMMKernel {
        guard let filter = graph.constantData(node.inputs[1]), filter.dtype == .int8,
            let filterScales = operandType(1).quantization?.scales
        else { throw CodegenError("layer '\(node.name)': an int8 layer needs a constant int8 filter") }
        let units = operandType(1).shape[0]
        let input = try parameters(operandType(0))
        let output = try parameters(resultType)
        let bias = node.inputs.count > 2 ? graph.constantData(node.inputs[2])?.int32s() : nil
        let multipliers = (0..<units).map { channel in
            QuantizedArithmetic.requantizationScale(
                input: input.scales[0], filter: filterScales.count == 1 ? filterScales[0] : filterScales[channel],
                output: output.scales[0])
        }
        let scales = ir.addConstantBytes(
            name: "requantize.\(node.name)", bytes: TensorData(multipliers, shape: [units]).bytes, alignment: 64)
        return VNNIGEMMKernel(
            emitter: emitter, units: units,
            mode: .int8(
                try withResidualAdd(
                    .quantized(
                        bias: nil, scales: scales, inputZeroPoint: input.zeroPoints[0], outputZeroPoint: output.zeroPoints[0],
                        range: try range(node.op.fusedActivation), stepsBound: stepsBound(multipliers: multipliers)))),
            packed: .init(
                filter: filter.int8s(), units: units, taps: taps, channels: channels, bias: bias,
                inputZeroPoint: input.zeroPoints[0]))
    }

    /// A dynamic-range layer (float input rounded per row, int8 filter) fused with
    /// its rounding and run on the VNNI kernel; `pointers[0]` is the unrounded input.
    func emitDynamicRangeVNNI(rowsPerBlock: Int) throws {
        let layer = gemmShape
        guard let filter = graph.constantData(node.inputs[1]), filter.dtype == .int8,
            let filterScales = operandType(1).quantization?.scales
        else { throw CodegenError("layer '\(node.name)': a dynamic-range layer needs a constant int8 filter") }
        let scales = filterScales.count == 1 ? Array(repeating: filterScales[0], count: layer.units) : filterScales
        let bias = node.inputs.count > 2
            ? graph.constantData(node.inputs[2]).map {
                ir.addConstantBytes(name: "bias.\(node.name)", bytes: $0.bytes, alignment: 64)
            } : nil
        VNNIGEMMKernel(
            emitter: emitter, units: layer.units,
            mode: .dynamicRange(
                scales: ir.addConstantBytes(
                    name: "scales.\(node.name)", bytes: TensorData(scales, shape: [layer.units]).bytes, alignment: 64),
                bias: bias, activation: node.op.fusedActivation),
            packed: .init(filter: filter.int8s(), units: layer.units, channels: layer.depth, bias: nil, inputZeroPoint: 0)
        ).emitRows(rows: layer.rows, rowsPerBlock: rowsPerBlock, input: pointers[0], output: output)
    }

    /// A convolution other than a pointwise one, as an implicit GEMM.
    func emitConvolution(
        _ attributes: Conv2DAttributes, pixelsPerBlock: Int, vnni: Bool, staged: Bool,
        pairwise: (multiply: KernelChoice.PairwiseMultiply, lanes: Int)?
    ) throws {
        let input = operandType(0)
        let filter = operandType(1).shape
        let windows = ConvolutionWindows(
            emitter: emitter, input: input.shape, output: resultType.shape, kernel: (filter[1], filter[2]),
            attributes: attributes)
        let channels = input.shape[3]
        // Staged blocks read the zero points of a whole staged row where a window row leaves the input.
        let zeroRow = try zeroRow(channels: staged ? windows.stagedColumns(pixels: pixelsPerBlock) * channels : channels)
        if vnni {
            // Staged rows without horizontal dilation are read a whole window row per tap (OHWI keeps a row's
            // columns and channels together, so the filter's layout is the same).
            let wholeRows = staged && attributes.dilations[1] == 1
            let kernel = try wholeRows
                ? vnniKernel(channels: filter[2] * channels, taps: filter[1])
                : vnniKernel(channels: channels, taps: filter[1] * filter[2])
            kernel.emitConvolution(
                windows: windows, pixelsPerBlock: pixelsPerBlock, staged: staged, wholeRows: wholeRows, zeroRow: zeroRow,
                input: pointers[0], output: output)
        } else {
            let dot = try dotProduct(
                activation: attributes.activation,
                pairwise: pairwise.map { ($0.multiply, $0.lanes, taps: filter[1] * filter[2]) })
            var kernel = Conv2DKernel(
                emitter: emitter, dot: dot, windows: windows, pixelsPerBlock: pixelsPerBlock, zeroRow: zeroRow)
            if let steps = choice.decodedSteps {
                kernel.decodeBuffer = (decodeBuffer(steps: steps, columns: dot.filter.tiles), steps / channels)
            }
            kernel.emit(input: pointers[0], output: output)
        }
    }

    /// A float convolution whose filter is block-pruned: only the (tap, channel) steps each block
    /// of 16 output channels keeps are packed and multiplied.
    func emitBlockSparseConvolution(_ attributes: Conv2DAttributes, pixelsPerBlock: Int) throws {
        guard let filterData = graph.constantData(node.inputs[1]), let sparsity = BlockSparsity(filterData) else {
            throw CodegenError("internal error: layer '\(node.name)' has no block-sparse float filter")
        }
        let input = operandType(0)
        let shape = filterData.shape
        let windows = ConvolutionWindows(
            emitter: emitter, input: input.shape, output: resultType.shape, kernel: (shape[1], shape[2]),
            attributes: attributes)
        let tables = sparsity.convolutionTables(kernelWidth: shape[2], channels: input.shape[3], windows: windows)
        func int32s(_ name: String, _ values: [Int32]) -> IRValue {
            ir.addConstantBytes(name: "\(name).\(node.name)", bytes: TensorData(int32: values, shape: [values.count]).bytes, alignment: 64)
        }
        let filter = PackedFilter(filterData, keeping: sparsity, laneWidth: emitter.laneWidth)
        let dot = DotProductKernel(
            emitter: emitter, filter: filter,
            weights: ir.addConstantBytes(name: "weights.\(node.name)", bytes: filter.bytes, alignment: 64),
            epilogue: try withResidualAdd(try epilogue(activation: attributes.activation, filterScales: nil)))
        var kernel = Conv2DKernel(
            emitter: emitter, dot: dot, windows: windows, pixelsPerBlock: pixelsPerBlock,
            zeroRow: try zeroRow(channels: input.shape[3]))
        kernel.keptSteps = Conv2DKernel.KeptTaps(
            starts: int32s("starts", sparsity.starts), indices: int32s("kept", sparsity.indices),
            offsets: int32s("offsets", tables.offsets), tapStarts: int32s("taps", tables.tapStarts))
        kernel.emit(input: pointers[0], output: output)
    }

    /// A 3×3 stride-1 float convolution by Winograd's F(2×2, 3×3), `tilesPerBlock` tiles at a time.
    func emitWinogradConvolution(_ attributes: Conv2DAttributes, tilesPerBlock: Int) throws {
        guard let filterData = graph.constantData(node.inputs[1]), filterData.dtype == .float32 else {
            throw CodegenError("internal error: layer '\(node.name)' has no float filter for Winograd's convolution")
        }
        let input = operandType(0).shape
        let filter = PackedFilter(winograd: filterData, laneWidth: emitter.laneWidth)
        let products = DotProductKernel(
            emitter: emitter, filter: filter,
            weights: ir.addConstantBytes(name: "weights.\(node.name)", bytes: filter.bytes, alignment: 64),
            epilogue: .float(scales: nil, bias: nil, activation: nil))
        let geometry = attributes.geometry(input: input, kernel: (3, 3))
        WinogradConv2DKernel(
            emitter: emitter, products: products,
            epilogue: try withResidualAdd(try epilogue(activation: attributes.activation, filterScales: nil)),
            input: input, output: resultType.shape, padding: (geometry.rows.padBefore, geometry.columns.padBefore),
            tilesPerBlock: tilesPerBlock, zeroRow: try zeroRow(channels: input[3])
        ).emit(input: pointers[0], output: output)
    }

    /// A stack buffer of `steps` reduction steps of decoded shared weights for the widest of `tiles`.
    func decodeBuffer(steps: Int, columns tiles: [ColumnTile]) -> IRValue {
        emitter.stackBuffer(floats: steps * (tiles.map(\.columns).max() ?? 1))
    }

    /// A row of `channels` elements equal to the input's zero, for window taps in the padding:
    /// the zero point for int8 inputs (at least 4 bytes, a whole VNNI group), 0.0 for float ones.
    func zeroRow(channels: Int) throws -> IRValue {
        let bytes: [UInt8]
        if resultType.dtype == .int8 {
            let zeroPoint = UInt8(bitPattern: Int8(clamping: try parameters(operandType(0)).zeroPoints[0]))
            bytes = [UInt8](repeating: zeroPoint, count: max(channels, 4))
        } else {
            bytes = [UInt8](repeating: 0, count: 4 * max(channels, 1))
        }
        return ir.addConstantBytes(name: "zeros.\(node.name)", bytes: bytes, alignment: 64)
    }

    /// A depthwise convolution; with a multiplier of 1, `pixelsPerBlock` pixels (or vectors of
    /// `pixelsPerVector` pixels) at a time, channel vectors outermost or innermost, int8 channel
    /// blocks multiplying 16-bit pairs where `pairwise` says how.
    func emitDepthwise(
        _ attributes: Conv2DAttributes, pixelsPerBlock: Int, pixelsPerVector: Int, channelsOutermost: Bool,
        pairwise: (multiply: KernelChoice.PairwiseMultiply, widestLanes: Int)?
    ) throws {
        guard let filterData = graph.constantData(node.inputs[1]) else {
            throw CodegenError("layer '\(node.name)': filters must be constants")
        }
        let inputType = operandType(0)
        let filterType = operandType(1)
        let channels = filterType.shape[3]
        let scales = filterType.quantization.map {
            $0.scales.count == 1 ? Array(repeating: $0.scales[0], count: channels) : $0.scales
        }
        let weightType: IRType =
            switch filterData.dtype {
            case .int8: ir.i8
            case .float16: ir.f16
            default: ir.f32
            }
        var epilogue = try epilogue(activation: attributes.activation, filterScales: scales, repeats: pixelsPerVector)
        var initialSums: IRValue?
        let fastPath = channels == inputType.shape[3]
        if fastPath, epilogue.isQuantized {
            let filter = filterData.int8s()
            let taps = filter.count / max(channels, 1)
            let sums = (0..<channels).map { channel in
                (0..<taps).reduce(Int32(0)) { $0 &+ Int32(filter[$1 * channels + channel]) }
            }
            if let folded = foldingZeroPoint(into: epilogue, weightSums: sums) {
                initialSums = startingSums(Array(repeatElement(folded.starts, count: pixelsPerVector).joined()))
                epilogue = folded.epilogue
            }
        }
        // Merged pixels: each tap's channels repeated once per pixel of a vector.
        let tapBytes = filterData.bytes.count / max(filterData.elementCount / max(channels, 1), 1)
        let filterBytes = stride(from: 0, to: filterData.bytes.count, by: max(tapBytes, 1)).flatMap { start in
            repeatElement(filterData.bytes[start..<min(start + tapBytes, filterData.bytes.count)], count: pixelsPerVector)
                .joined()
        }
        var kernel = DepthwiseConv2DKernel(
            emitter: emitter, epilogue: try withResidualAdd(epilogue),
            weights: ir.addConstantBytes(name: "weights.\(node.name)", bytes: filterBytes, alignment: 64),
            weightType: weightType, filterBytes: filterData.dtype == .int8 ? filterBytes.map { Int8(bitPattern: $0) } : [],
            windows: ConvolutionWindows(
                emitter: emitter, input: inputType.shape, output: resultType.shape,
                kernel: (filterType.shape[1], filterType.shape[2]), attributes: attributes),
            pixelsPerBlock: pixelsPerBlock, zeroRow: fastPath ? try zeroRow(channels: channels) : nil,
            initialSums: initialSums)
        kernel.pairwise = pairwise
        kernel.pixelsPerVector = pixelsPerVector
        kernel.channelsOutermost = channelsOutermost
        if pixelsPerVector > 1 {
            kernel.zeroRows = try zeroRow(channels: channels * inputType.shape[2])
        }
        kernel.emit(input: pointers[0], output: output)
    }

    func emitConcatenation(axis: Int, activation: Activation?, shapes: [Shape]) throws {
        let isQuantized = resultType.dtype == .int8
        let operands = shapes.indices.map { (pointers[$0], shapes[$0]) }
        var transforms: [(IRValue, Int) -> IRValue] = []
        if isQuantized {
            let output = try parameters(resultType)
            let bounds = try range(activation)
            for index in shapes.indices {
                let input = try parameters(operandType(index))
                transforms.append { value, lanes in
                    let widened = ir.sext(value, to: ir.vector(ir.i32, lanes))
                    if input == output {
                        return ir.trunc(emitter.clamped(widened, to: bounds, lanes: lanes), to: ir.vector(ir.i8, lanes))
                    }
                    let steps = ir.fdiv(
                        emitter.dequantized(value, scale: input.scales[0], zeroPoint: input.zeroPoints[0], lanes: lanes),
                        emitter.splat(output.scales[0], lanes: lanes))
                    return emitter.quantized(steps, zeroPoint: output.zeroPoints[0], range: bounds, lanes: lanes)
                }
            }
        } else {
            transforms = shapes.map { _ in { value, lanes in emitter.activate(value, activation, lanes: lanes) } }
        }
        LayoutKernels(emitter: emitter, elementType: isQuantized ? ir.i8 : ir.f32).emitConcatenation(
            shape: resultType.shape, axis: axis, operands: operands, output: output, transforms: transforms)
    }

    func emitMean(axes: [Int], inputShape: Shape) throws {
        let count = Float(inputShape.elementCount / max(resultType.elementCount, 1))
        if resultType.dtype == .int8 {
            let input = try parameters(operandType(0))
            let result = try parameters(resultType)
            // Channels kept (a global average pool): a vector of channels at a time.
            let vectorized = LayoutKernels(emitter: emitter, elementType: ir.i8).emitInnermostKeptReduction(
                input: pointers[0], inputShape: inputShape, axes: axes, accumulator: ir.i32, zero: ir.constant(0, ir.i32),
                element: { raw, lanes in
                    ir.sub(ir.sext(raw, to: ir.vector(ir.i32, lanes)), ir.splat(ir.constant(Int(input.zeroPoints[0]), ir.i32), count: lanes))
                },
                combine: { ir.add($0, $1) },
                finish: { sums, offset, lanes in
                    let real = ir.fmul(emitter.splat(input.scales[0], lanes: lanes), ir.sitofp(sums, to: emitter.vectorType(lanes)))
                    let steps = ir.fdiv(real, emitter.splat(count * result.scales[0], lanes: lanes))
                    emitter.storeQuantized(
                        steps, zeroPoint: result.zeroPoints[0], range: QuantizedArithmetic.int8Range, lanes: lanes,
                        output: output, offset: offset)
                })
            if vectorized { return }
            LayoutKernels(emitter: emitter, elementType: ir.i8).emitReduction(
                input: pointers[0], inputShape: inputShape, axes: axes, accumulator: ir.i32, zero: ir.constant(0, ir.i32),
                element: { ir.sub(ir.sext($0, to: ir.i32), ir.constant(Int(input.zeroPoints[0]), ir.i32)) },
                finish: { sum, offset in
                    let real = ir.fmul(ir.constant(input.scales[0]), ir.sitofp(sum, to: ir.f32))
                    let steps = ir.broadcast(ir.fdiv(real, ir.constant(count * result.scales[0])), count: 1)
                    emitter.storeQuantized(
                        steps, zeroPoint: result.zeroPoints[0], range: QuantizedArithmetic.int8Range, lanes: 1,
                        output: output, offset: offset)
                })
        } else {
            let layout = LayoutKernels(emitter: emitter, elementType: ir.f32)
            let vectorized = layout.emitInnermostKeptReduction(
                input: pointers[0], inputShape: inputShape, axes: axes, accumulator: ir.f32, zero: ir.constant(Float(0)),
                element: { vector, _ in vector }, combine: { ir.fadd($0, $1) },
                finish: { sums, offset, lanes in
                    emitter.storeVector(ir.fdiv(sums, emitter.splat(count, lanes: lanes)), output, offset: offset)
                })
            if vectorized { return }
            layout.emitReduction(
                input: pointers[0], inputShape: inputShape, axes: axes, accumulator: ir.f32, zero: ir.constant(Float(0)),
                element: { $0 },
                finish: { sum, offset in
                    ir.store(ir.fdiv(sum, ir.constant(count)), to: ir.gep(ir.f32, output, [offset]), alignment: 4)
                })
        }
    }

    /// Sums, products, maxima and minima over axes; int8 maxima and minima
    /// compare raw values (the scale is positive) and are requantized after.
    func emitReduce(_ function: ReduceFunction, axes: [Int], inputShape: Shape) throws {
        guard resultType.dtype == .int8 else {
            let (zero, combine): (Float, (IRValue, IRValue) -> IRValue) =
                switch function {
                case .sum: (0, { ir.fadd($0, $1) })
                case .product: (1, { ir.fmul($0, $1) })
                case .maximum: (-.infinity, { emitter.combine($0, $1, .maximum, lanes: 1) })
                case .minimum: (.infinity, { emitter.combine($0, $1, .minimum, lanes: 1) })
                }
            return LayoutKernels(emitter: emitter, elementType: ir.f32).emitReduction(
                input: pointers[0], inputShape: inputShape, axes: axes, accumulator: ir.f32, zero: ir.constant(zero),
                element: { $0 }, combine: combine,
                finish: { value, offset in ir.store(value, to: ir.gep(ir.f32, output, [offset]), alignment: 4) })
        }
        let input = try parameters(operandType(0))
        let result = try parameters(resultType)
        let layout = LayoutKernels(emitter: emitter, elementType: ir.i8)
        switch function {
        case .maximum, .minimum:
            let isMaximum = function == .maximum
            layout.emitReduction(
                input: pointers[0], inputShape: inputShape, axes: axes, accumulator: ir.i32,
                zero: ir.constant(isMaximum ? -128 : 127, ir.i32), element: { ir.sext($0, to: ir.i32) },
                combine: { ir.select(ir.icmp(isMaximum ? .sgt : .slt, $1, $0), $1, $0) },
                finish: { value, offset in
                    ir.store(ir.trunc(value, to: ir.i8), to: ir.gep(ir.i8, output, [offset]), alignment: 1)
                })
            try requantizeInPlaceIfNeeded()
        case .sum:
            let ratio = input.scales[0] / result.scales[0]
            layout.emitReduction(
                input: pointers[0], inputShape: inputShape, axes: axes, accumulator: ir.i32, zero: ir.constant(0, ir.i32),
                element: { ir.sub(ir.sext($0, to: ir.i32), ir.constant(Int(input.zeroPoints[0]), ir.i32)) },
                finish: { sum, offset in
                    let steps = ir.broadcast(ir.fmul(ir.sitofp(sum, to: ir.f32), ir.constant(ratio)), count: 1)
                    emitter.storeQuantized(
                        steps, zeroPoint: result.zeroPoints[0], range: QuantizedArithmetic.int8Range, lanes: 1, output: output,
                        offset: offset)
                })
        case .product:
            layout.emitReduction(
                input: pointers[0], inputShape: inputShape, axes: axes, accumulator: ir.f32, zero: ir.constant(Float(1)),
                element: { value in
                    let centered = ir.sub(ir.sext(value, to: ir.i32), ir.constant(Int(input.zeroPoints[0]), ir.i32))
                    return ir.fmul(ir.constant(input.scales[0]), ir.sitofp(centered, to: ir.f32))
                },
                combine: { ir.fmul($0, $1) },
                finish: { product, offset in
                    let steps = ir.broadcast(ir.fdiv(product, ir.constant(result.scales[0])), count: 1)
                    emitter.storeQuantized(
                        steps, zeroPoint: result.zeroPoints[0], range: QuantizedArithmetic.int8Range, lanes: 1, output: output,
                        offset: offset)
                })
        }
    }
}
