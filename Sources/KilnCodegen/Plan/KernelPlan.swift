import KilnIR

/// One ``KernelChoice`` per node of a graph for one ISA level: the prepare
/// step of code generation.
///
/// Selection and its validation happen here, as a pure function of the graph
/// and the level, so a plan for any target can be made and checked on any
/// host; ``ModelCodegen`` then only emits the chosen kernels.
public struct KernelPlan: Sendable {
    /// The level the kernels were chosen for.
    public let isa: ISALevel
    /// The choice for each node, in node order.
    public let choices: [KernelChoice]

    /// Chooses a kernel for every node of `graph`.
    public init(graph: Graph, isa: ISALevel) {
        self.isa = isa
        let roundings = Self.absorbedRoundings(in: graph, isa: isa)
        var choices: [KernelChoice] = []
        for (index, node) in graph.nodes.enumerated() {
            let chooser = Chooser(graph: graph, node: node, isa: isa)
            if let layer = roundings.first(where: { $0.value == index })?.key {
                choices.append(KernelChoice(kernel: .absorbed(into: layer), name: "absorbed into \(graph.nodes[layer].name)"))
            } else if let rounding = roundings[index] {
                choices.append(chooser.dynamicRange(rounding: rounding))
            } else {
                choices.append(chooser.choice())
            }
        }
        // A residual add fused into the layer before it (the graph's lifetimes already let the
        // layer write the add's result).
        for (add, fusion) in graph.residualAdds() where !choices[fusion.layer].isAbsorbed {
            choices[fusion.layer].residualAdd = add
            choices[fusion.layer].name += "+add"
            choices[add] = KernelChoice(
                kernel: .absorbed(into: fusion.layer), name: "absorbed into \(graph.nodes[fusion.layer].name)")
        }
        for index in choices.indices {
            choices[index].split = Self.split(graph.nodes[index], choices[index].kernel, in: graph, isa: isa)
        }
        // A banded chain's layers take row ranges (the bands'); the chain decides what threads do.
        for chain in graph.bandedChains {
            for index in chain.nodes where choices.indices.contains(index) {
                let output = graph.type(of: graph.nodes[index].outputs[0]).shape
                let rows = index == chain.depthwise ? output[1] : output.elementCount / max(output.dimensions.last ?? 1, 1)
                choices[index].split = .init(units: rows, granularity: 1)
                choices[index].band = chain
            }
        }
        // Results the memory plan writes over their operand: a reshape that changes no byte is then done.
        let inPlace = graph.memoryPlan?.inPlace ?? [:]
        for (index, node) in graph.nodes.enumerated() where node.outputs.count == 1 {
            guard let operand = inPlace[node.outputs[0]] else { continue }
            choices[index].inPlace = true
            if case .reshape = node.op, graph.type(of: operand).dtype == graph.type(of: node.outputs[0]).dtype,
                graph.type(of: operand).quantization == graph.type(of: node.outputs[0]).quantization
            {
                choices[index] = KernelChoice(kernel: .elided, name: "in_place_no_copy", inPlace: true)
            }
        }
        for (index, node) in graph.nodes.enumerated() {
            choices[index].decodedSteps = Self.decodedSteps(node, choices[index], in: graph, isa: isa)
        }
        self.choices = choices
    }

    /// The steps of shared weights a matrix product decodes at a time into a stack buffer of at
    /// most ``stagingLimit`` bytes, so each is decoded once for all its rows rather than once per
    /// block of rows: for layers of at least two blocks of rows whose output may hold partial
    /// sums between chunks (not computed in place over an operand, which a fused residual add
    /// reads only at the end).
    /// A convolution decodes whole window taps at a time (its steps are then a multiple of the
    /// input's channels).
    static func decodedSteps(_ node: Node, _ choice: KernelChoice, in graph: Graph, isa: ISALevel) -> Int? {
        guard choice.sharesWeights, !choice.inPlace, node.inputs.count > 1 else { return nil }
        let filter = graph.type(of: node.inputs[1]).shape
        let units = max(filter[0], 1)
        let rows = graph.type(of: node.outputs[0]).elementCount / units
        let steps = max(1, stagingLimit / 4 / (isa.laneWidth * PackedFilter.vectorsPerTile))
        switch choice.kernel {
        case .gemm(let rowsPerBlock): return rows >= 2 * rowsPerBlock ? steps : nil
        case .conv(let pixelsPerBlock):
            guard rows >= 2 * pixelsPerBlock, filter.rank == 4 else { return nil }
            return max(1, steps / max(filter[3], 1)) * filter[3]
        default: return nil
        }
    }

    /// Whether threads share `chain`'s pieces: it has several, and work enough for ``parallelMACs``.
    public static func isParallel(_ chain: BandedChain, in graph: Graph) -> Bool {
        guard chain.slots >= 2 else { return false }
        let macs = chain.nodes.reduce(0) { total, index in
            let node = graph.nodes[index]
            guard node.inputs.count > 1 else { return total }
            let filter = graph.type(of: node.inputs[1]).shape
            let perOutput = index == chain.depthwise ? filter[1] * filter[2] : filter.elementCount / max(filter[0], 1)
            return total + graph.type(of: node.outputs[0]).elementCount * perOutput
        }
        return macs >= parallelMACs
    }

    /// Multiply-accumulates below which a layer stays on one thread: handing a layer to spinning
    /// workers and waiting for them costs about as much as this much work (measured on the
    /// keyword-spotting and MobileNetV1 0.25 models at 2 threads: 150k → 40k took kws from 17.8
    /// to 13.0 µs).
    public static let parallelMACs = 40_000

    /// How `node`'s work divides among threads under `kernel`: by output rows for convolutions,
    /// by rows in blocks for matrix products; `nil` for other kernels, for layers under
    /// ``parallelMACs`` and for those with under two blocks of rows.
    static func split(_ node: Node, _ kernel: KernelChoice.Kernel, in graph: Graph, isa: ISALevel) -> KernelChoice.RowSplit? {
        let output = graph.type(of: node.outputs[0]).shape
        guard node.inputs.count > 1, output.rank >= 2 else { return nil }
        let filter = graph.type(of: node.inputs[1]).shape
        var split: KernelChoice.RowSplit
        let macsPerOutput: Int
        switch kernel {
        case .gemm(let rows), .sparseGEMM(let rows), .gemmVNNI(let rows, _), .gemmPairwise(let rows, _, _),
            .dynamicRangeGEMMVNNI(_, let rows):
            let units = max(filter[0], 1)
            split = .init(units: output.elementCount / units, granularity: rows)
            macsPerOutput = filter.elementCount / units
            // Too few rows (a matrix-vector product): float layers split their output channels
            // in whole register tiles instead (PackedFilter's widest tile).
            var tile = isa.laneWidth * PackedFilter.vectorsPerTile
            var splitsChannels = false
            switch kernel {
            case .gemm: splitsChannels = true
            case .sparseGEMM: (splitsChannels, tile) = (true, PackedFilter.blockColumns)
            default: break
            }
            if splitsChannels, split.units < 2 * split.granularity, graph.type(of: node.outputs[0]).dtype == .float32,
                units >= 2 * tile
            {
                split = .init(units: units, granularity: tile, axis: .outputChannels)
            }
        case .sparseGEMV, .sparseGEMVPermuted, .sparseGEMVSemiStructured, .codebookGEMV:
            let units = max(filter[0], 1)
            let granularity: Int
            switch kernel {
            case .sparseGEMVPermuted: granularity = ChunkedNonzeros.groupUnits
            case .sparseGEMVSemiStructured(let lanes, _): granularity = lanes
            case .codebookGEMV: granularity = isa.laneWidth
            default: granularity = PackedFilter.blockColumns
            }
            split = .init(units: units, granularity: granularity, axis: .outputChannels)
            macsPerOutput = filter.elementCount / units
        case .conv, .convVNNI, .convPairwise, .sparseConv:
            guard output.rank == 4 else { return nil }
            split = .init(units: output[1], granularity: 1)
            macsPerOutput = filter.elementCount / max(filter[0], 1)
        case .winograd(let tiles):
            guard output.rank == 4 else { return nil }
            split = .init(units: output[0] * ((output[1] + 1) / 2) * ((output[2] + 1) / 2), granularity: tiles)
            macsPerOutput = filter.elementCount / max(filter[0], 1)
        case .depthwise, .depthwisePairwise:
            guard output.rank == 4, filter.rank == 4 else { return nil }
            split = .init(units: output[1], granularity: 1)
            macsPerOutput = filter[1] * filter[2]
        case .absorbed, .elided, .standard:
            return nil
        }
        let macs = output.elementCount.multipliedReportingOverflow(by: macsPerOutput)
        guard macs.overflow || macs.partialValue >= parallelMACs, split.units >= 2 * split.granularity else { return nil }
        return split
    }

    /// Layers (by node index) that absorb the per-row dynamic-range rounding
    /// node just before them (its index): int8-weight fully-connected and 1×1
    /// layers on VNNI quantize each input row once into int8 and multiply in
    /// integers, which is how LiteRT runs them too. The rounding's own result
    /// is then never materialized.
    static func absorbedRoundings(in graph: Graph, isa: ISALevel) -> [Int: Int] {
        guard isa.hasVNNI else { return [:] }
        let consumers = graph.consumers()
        var result: [Int: Int] = [:]
        for (index, node) in graph.nodes.enumerated().dropLast() {
            guard case .dynamicRangeQuantize(.perRow) = node.op else { continue }
            let rounded = node.outputs[0]
            let layer = graph.nodes[index + 1]
            guard consumers[rounded] == [index + 1], !graph.outputs.contains(rounded), layer.inputs.first == rounded,
                let filter = layer.inputs.dropFirst().first, graph.isConstant(filter), graph.type(of: filter).dtype == .int8,
                layer.inputs.count < 3 || graph.type(of: layer.inputs[2]).dtype == .float32
            else { continue }
            let shapes = layer.inputs.map { graph.type(of: $0).shape }
            let units = shapes[1][0]
            let depth = shapes[1].dimensions.dropFirst().reduce(1, *)
            var eligible = false
            switch layer.op {
            case .fullyConnected: eligible = true
            case .conv2D(let attributes):
                eligible = attributes.isPointwise(input: shapes[0], filter: shapes[1], output: graph.type(of: layer.outputs[0]).shape)
            default: break
            }
            // The quantized rows live on the stack: keep them small.
            if eligible, units > 0, depth <= 4096 { result[index + 1] = index }
        }
        return result
    }

    /// The largest share of a float filter's reduction steps (``BlockSparsity/density``) for
    /// which the block-sparse kernel is chosen: its one-block tiles load an input per
    /// multiply-add where the dense kernel's four-vector tiles load one per four, so it must skip
    /// enough to win.
    public static let sparseDensity = 0.7

    /// The largest share of a 3×3 stride-1 float filter's reduction steps for which the
    /// block-sparse direct kernel is chosen over Winograd's, which does 2.25× fewer
    /// multiply-adds than the dense direct kernel but pays for its transforms (measured on
    /// ResNet-8: Winograd 0.68× the dense direct kernel's time).
    public static let sparseWinogradDensity = 0.5

    /// The largest share of stored elements (nonzeros and their padding, ``SlicedNonzeros/fill``)
    /// over all weights for which a few-row float layer gathers its inputs
    /// (``KernelChoice/Kernel/sparseGEMV(lanes:)``): a gather costs several loads' time, so it must
    /// replace several times as many dense weight loads (measured on the autoencoder's layers on
    /// Zen 4: 0.77× dense at a fill of 0.10, 1.2× at 0.20).
    public static let gatherDensity = 0.1

    /// The most rows a semi-structured layer (``KernelChoice/Kernel/sparseGEMVSemiStructured(lanes:kept:)``)
    /// has: each row shifts and permutes again, where the dense kernel shares each weight load
    /// between rows. Measured on Zen 4 (single 2:4 layers, 640→128, 128→128, 1024→1024): one row
    /// 0.47–0.60× the dense time, two rows 0.95–1.06×.
    public static let semiStructuredRows = 1

    /// The most rows a layer of shared weights runs on ``KernelChoice/Kernel/codebookGEMV``: each row
    /// decodes every weight again, where the tiled kernel decodes a chunk once for all rows.
    public static let codebookGEMVRows = 1

    /// The most rows a gathering layer has: each row gathers again.
    public static let gatherRows = 4

    /// The largest share of stored lanes (``ChunkedNonzeros/fill``) for which a few-row float
    /// layer picks its inputs by permutes (``KernelChoice/Kernel/sparseGEMVPermuted``): a step
    /// costs about two vector multiply-adds' time (its loads), so it must replace more than two.
    public static let permuteDensity = 0.4

    /// The largest stack buffer, in bytes, into which a convolution or matrix product stages the input a block reads.
    static let stagingLimit = 32 * 1024


    /// Bytes the artifact stores for node `index`'s filter under its kernel: a block-sparse
    /// filter's kept weights with their positions and block starts, an unstructured sparse one's
    /// nonzeros with their positions and unit starts, a shared-weights filter's
    /// 4-bit indices and codebook, a Winograd filter's 16 transformed weights per 9 of its own,
    /// else the filter as stored (with per-channel scales); 0 for a node without a constant filter.
    public func filterByteCount(ofNode index: Int, in graph: Graph) -> Int {
        let node = graph.nodes[index]
        guard node.inputs.count > 1, graph.isConstant(node.inputs[1]) else { return 0 }
        if case .sparseGEMM = choices[index].kernel, let filter = graph.constantData(node.inputs[1]),
            let sparsity = BlockSparsity(filter)
        {
            return sparsity.storedByteCount(channels: filter.shape[0])
        }
        if case .sparseConv = choices[index].kernel, let filter = graph.constantData(node.inputs[1]),
            let sparsity = BlockSparsity(filter), filter.shape.rank == 4
        {
            return sparsity.convolutionByteCount(channels: filter.shape[0], taps: filter.shape[1] * filter.shape[2])
        }
        let type = graph.type(of: node.inputs[1])
        if case .winograd = choices[index].kernel {
            return type.byteCount / 9 * WinogradFilter.positions
        }
        if case .sparseGEMV = choices[index].kernel, let filter = graph.constantData(node.inputs[1]),
            let nonzeros = SlicedNonzeros(filter)
        {
            return nonzeros.storedByteCount
        }
        if case .sparseGEMVPermuted = choices[index].kernel, let filter = graph.constantData(node.inputs[1]),
            let nonzeros = ChunkedNonzeros(filter)
        {
            return nonzeros.storedByteCount
        }
        if case .sparseGEMVSemiStructured(let lanes, _) = choices[index].kernel,
            let filter = graph.constantData(node.inputs[1]), let nonzeros = SemiStructuredNonzeros(filter, lanes: lanes)
        {
            return nonzeros.storedByteCount
        }
        if case .codebookGEMV = choices[index].kernel, let filter = graph.constantData(node.inputs[1]),
            let codebook = WeightCodebook(filter), let indices = CodebookWords(filter, codebook: codebook, lanes: isa.laneWidth)
        {
            return indices.storedByteCount
        }
        if choices[index].sharesWeights {
            let units = max(type.shape[0], 1)
            return WeightCodebook.storedByteCount(channels: units, depth: type.elementCount / units)
        }
        return type.byteCount + (type.quantization.map { $0.scales.count * MemoryLayout<Float>.size } ?? 0)
    }

    /// A fixed-width table of node names and kernel names.
    public func table(for graph: Graph) -> String {
        let names = graph.nodes.map(\.name)
        let width = names.map(\.count).max() ?? 0
        return zip(names, choices).map { name, choice in
            name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + choice.name
        }.joined(separator: "\n")
    }
}

/// Chooses the kernel of one node.
private struct Chooser {
    let graph: Graph
    let node: Node
    let isa: ISALevel
    /// The float filter's block sparsity, when the block-sparse kernel may win; found once.
    private(set) var sparsity: BlockSparsity?
    /// The float filter's sliced nonzeros, when gathering may win; found once.
    private(set) var nonzeros: SlicedNonzeros?
    /// The float filter's chunked nonzeros, when permuting may win; found once.
    private(set) var chunked: ChunkedNonzeros?
    /// The float filter's N:4 nonzeros, when the semi-structured kernel may run it; found once.
    private(set) var semiStructured: SemiStructuredNonzeros?
    /// The float filter's codebook, when its kernel decodes one; found once.
    private(set) var codebook: WeightCodebook?

    /// The chooser for `node`, with what its filter's values allow (each filter scanned once).
    init(graph: Graph, node: Node, isa: ISALevel) {
        self.graph = graph
        self.node = node
        self.isa = isa
        sparsity = blockSparsity()
        chunked = chunkedNonzeros()
        nonzeros = chunked == nil ? slicedNonzeros() : nil
        semiStructured = semiStructuredNonzeros()
        codebook = sparsity == nil && nonzeros == nil && chunked == nil && semiStructured == nil ? weightCodebook() : nil
    }

    var shapes: [Shape] { node.inputs.map { graph.type(of: $0).shape } }
    var resultType: TensorType { graph.type(of: node.outputs[0]) }
    var isQuantized: Bool { resultType.dtype == .int8 }

    func choice() -> KernelChoice {
        var choice = kernelChoice()
        switch choice.kernel {
        case .gemm, .conv, .codebookGEMV: choice.sharesWeights = codebook != nil
        default: break
        }
        return choice
    }

    /// The codebook of a float layer's filter of at most 16 distinct values, when its kernel
    /// would decode one: not for int8 layers, nor for block-sparse ones (``sparsity``).
    private func weightCodebook() -> WeightCodebook? {
        guard !isQuantized, node.inputs.count > 1, let filter = graph.constantData(node.inputs[1]) else {
            return nil
        }
        switch node.op {
        case .fullyConnected, .conv2D: return WeightCodebook(filter)
        default: return nil
        }
    }

    /// The block sparsity of a float fully-connected or convolution layer's filter when few
    /// enough of its steps are kept for the block-sparse kernel to win (``KernelPlan/sparseDensity``).
    private func blockSparsity() -> BlockSparsity? {
        guard !isQuantized, node.inputs.count > 1, let filter = graph.constantData(node.inputs[1]),
            let sparsity = BlockSparsity(filter), sparsity.density <= KernelPlan.sparseDensity
        else { return nil }
        switch node.op {
        case .fullyConnected: return sparsity
        case .conv2D: return shapes[1].rank == 4 && shapes[0].rank == 4 ? sparsity : nil
        default: return nil
        }
    }

    /// The nonzeros of a float fully-connected layer of a few rows whose filter is so sparse that
    /// gathering each unit's inputs may win (``KernelPlan/gatherDensity``), on levels that gather.
    private func slicedNonzeros() -> SlicedNonzeros? {
        guard !isQuantized, case .fullyConnected = node.op, gatherLanes != nil,
            resultType.elementCount / max(shapes[1][0], 1) <= KernelPlan.gatherRows,
            let filter = graph.constantData(node.inputs[1]), let nonzeros = SlicedNonzeros(filter),
            nonzeros.fill <= KernelPlan.gatherDensity
        else { return nil }
        return nonzeros
    }

    /// The nonzeros of a float fully-connected layer of a few rows, in chunks, on AVX-512 levels,
    /// when few enough lanes are stored for permuting to win (``KernelPlan/permuteDensity``) and
    /// a staged row fits the stack's ``KernelPlan/stagingLimit``.
    private func chunkedNonzeros() -> ChunkedNonzeros? {
        guard !isQuantized, case .fullyConnected = node.op, isa == .avx512 || isa == .avx512vnni,
            resultType.elementCount / max(shapes[1][0], 1) <= KernelPlan.gatherRows,
            4 * PermutedSparseGEMVKernel.stagedFloats(depth: shapes[1].elementCount / max(shapes[1][0], 1))
                <= KernelPlan.stagingLimit,
            let filter = graph.constantData(node.inputs[1]),
            // Storing fewer lanes than the density allows needs at least as many zeros.
            Double(filter.floats().lazy.filter { $0 == 0 }.count) >= (1 - KernelPlan.permuteDensity) * Double(filter.elementCount),
            let nonzeros = ChunkedNonzeros(filter), nonzeros.fill <= KernelPlan.permuteDensity
        else { return nil }
        return nonzeros
    }

    /// The N:4 nonzeros of a float fully-connected layer, or 1×1 convolution, of a few rows
    /// (``KernelPlan/semiStructuredRows``) on levels with a variable in-lane permute (AVX2,
    /// AVX-512), in slices of one vector.
    private func semiStructuredNonzeros() -> SemiStructuredNonzeros? {
        var isMatrixProduct = false
        switch node.op {
        case .fullyConnected: isMatrixProduct = true
        case .conv2D(let attributes):
            isMatrixProduct = attributes.isPointwise(input: shapes[0], filter: shapes[1], output: resultType.shape)
        default: break
        }
        guard !isQuantized, isMatrixProduct, isa == .avx512 || isa == .avx512vnni || isa == .avx2,
            resultType.elementCount / max(shapes[1][0], 1) <= KernelPlan.semiStructuredRows,
            let filter = graph.constantData(node.inputs[1])
        else { return nil }
        return SemiStructuredNonzeros(filter, lanes: isa.laneWidth)
    }

    /// Vector operations per row of the semi-structured kernel, in the units of ``permuteCost(_:)``:
    /// a pick (a weight load, a shift, a permute and a multiply-add; a group's load shared) counts
    /// as two, scaled to 16-lane slices.
    private func semiStructuredCost(_ nonzeros: SemiStructuredNonzeros) -> Int {
        2 * nonzeros.multiplyAdds * nonzeros.lanes / 16
    }

    /// Vector operations per row of the permuting kernel: a step (three loads, a permute and a
    /// multiply-add; a chunk's two loads per pair) counts as two.
    private func permuteCost(_ nonzeros: ChunkedNonzeros) -> Int { 2 * nonzeros.steps }

    /// Vector operations per row of the gathering kernel: a gather of a vector of stored
    /// elements (nonzeros and padding) counts as six.
    private func gatherCost(_ nonzeros: SlicedNonzeros, lanes: Int) -> Int {
        6 * (nonzeros.values.count + lanes - 1) / lanes
    }

    /// Vector multiply-adds per row of the block-sparse kernel: each kept step of a block is one
    /// per vector of the block.
    private func blockCost(_ sparsity: BlockSparsity) -> Int {
        sparsity.steps.reduce(0) { $0 + $1.count } * max(1, PackedFilter.blockColumns / isa.laneWidth)
    }

    /// Lanes of one gather where the level has a gather instruction (AVX2, AVX-512).
    var gatherLanes: Int? {
        switch isa {
        case .avx512vnni, .avx512, .avx2: isa.laneWidth
        case .sse41, .neon, .neonDotProd: nil
        }
    }

    private func kernelChoice() -> KernelChoice {
        switch node.op {
        case .fullyConnected:
            return gemm(units: shapes[1][0])
        case .conv2D(let attributes):
            let filter = shapes[1]
            if attributes.isPointwise(input: shapes[0], filter: filter, output: resultType.shape) {
                return gemm(units: filter[0])
            }
            let winograd = winogradTilesPerBlock(attributes)
            let op = "conv\(filter[1])x\(filter[2])s\(attributes.strides[0])" + dilation(attributes)
            if let sparsity, winograd == nil || sparsity.density <= KernelPlan.sparseWinogradDensity {
                let pixels = pixelsPerBlock(vectors: max(1, PackedFilter.blockColumns / isa.laneWidth))
                return KernelChoice(
                    kernel: .sparseConv(pixelsPerBlock: pixels),
                    name: name("sp" + op, tile: "\(pixels)x\(min(filter[0], PackedFilter.blockColumns))"))
            }
            if let tiles = winograd {
                return KernelChoice(
                    kernel: .winograd(tilesPerBlock: tiles),
                    name: name("winograd2x2_conv3x3s1", tile: "\(tiles)x\(tileColumns(units: filter[0], vnni: false))"))
            }
            let vnni = isQuantized && usesVNNI(units: filter[0])
            if isQuantized, !vnni, let (multiply, lanes) = pairwiseGEMM {
                let pixels = pixelsPerBlock(vectors: vectorsPerTile(units: filter[0], lanes: lanes))
                return KernelChoice(
                    kernel: .convPairwise(pixelsPerBlock: pixels, multiply: multiply, lanes: lanes),
                    name: name(op, tile: "\(pixels)x\(tileColumns(units: filter[0], lanes: lanes))c2"))
            }
            let pixels = pixelsPerBlock(vectors: vnni ? vnniVectorsPerTile(units: filter[0]) : vectorsPerTile(units: filter[0]))
            // Staging copies at most a few window rows per block; past that the buffer would crowd the stack.
            let staged = ConvolutionWindows.stagedByteCount(
                pixels: pixels, kernel: (filter[1], filter[2]), channels: shapes[0][3], attributes: attributes
            ) <= KernelPlan.stagingLimit
            return KernelChoice(
                kernel: vnni ? .convVNNI(pixelsPerBlock: pixels, staged: staged) : .conv(pixelsPerBlock: pixels),
                name: name(op, tile: "\(pixels)x\(tileColumns(units: filter[0], vnni: vnni))"))
        case .depthwiseConv2D(let attributes):
            let filter = shapes[1]
            let channels = filter[3]
            let op = "dwconv\(filter[1])x\(filter[2])s\(attributes.strides[0])" + dilation(attributes)
            // Channel vectors that fill a cache line (AVX-512 float) run outermost: one vector's tap
            // weights stay in registers over all pixels, with blocks of 8 pixels' sums beside them.
            // A shorter vector (int8, or narrower levels) would make that order read each input line
            // and write each output line once per vector in it: on MobileNetV2 int8 it saved 2 % on
            // one thread but cost 7 % on two (1180 → 1270 µs). Those run each block over every channel.
            let plain = channels == shapes[0][3]
            let channelsOutermost = !isQuantized && isa.laneWidth * 4 >= 64
            let pixels = plain ? (isa.vectorRegisters >= 32 ? (channelsOutermost ? 8 : 4) : 2) : 1
            let pairwise = isQuantized ? pairwiseMultiply : nil
            let merged = plain ? mergedPixels(attributes, filter: filter, widest: pairwise?.1 ?? isa.laneWidth) : 1
            let lanes = channels * merged
            let packing = merged > 1 ? "p\(merged)" : ""
            if isQuantized, plain, let (multiply, widest) = pairwise, lanes >= 8 {
                let tile = sequence(first: widest) { $0 / 2 }.first { $0 <= lanes } ?? 8
                return KernelChoice(
                    kernel: .depthwisePairwise(
                        pixelsPerBlock: pixels, multiply: multiply, widestLanes: widest, pixelsPerVector: merged,
                        channelsOutermost: channelsOutermost),
                    name: name(op, tile: "\(pixels)x\(tile)\(packing)"))
            }
            return KernelChoice(
                kernel: .depthwise(pixelsPerBlock: pixels, pixelsPerVector: merged, channelsOutermost: channelsOutermost),
                name: name(op, tile: "\(pixels)x\(min(isa.laneWidth, lanes))\(packing)"))
        default:
            return KernelChoice(kernel: .standard, name: "\(dtypes)_\(node.op.kindName)")
        }
    }

    func dynamicRange(rounding: Int) -> KernelChoice {
        let rows = rowsPerBlock(units: shapes[1][0], vnni: true)
        return KernelChoice(
            kernel: .dynamicRangeGEMMVNNI(rounding: rounding, rowsPerBlock: rows),
            name: "qd8_f32_qc8w_gemm_\(isa.rawValue)_\(rows)x\(tileColumns(units: shapes[1][0], vnni: true))")
    }

    private func gemm(units: Int) -> KernelChoice {
        let vnni = isQuantized && usesVNNI(units: units)
        if isQuantized, !vnni, let (multiply, lanes) = pairwiseGEMM {
            let rows = pixelsPerBlock(vectors: vectorsPerTile(units: units, lanes: lanes))
            return KernelChoice(
                kernel: .gemmPairwise(rowsPerBlock: rows, multiply: multiply, lanes: lanes),
                name: name("gemm", tile: "\(rows)x\(tileColumns(units: units, lanes: lanes))c2"))
        }
        // Against the dense kernel, the semi-structured one wins wherever it applies (half the weight
        // stream at 2:4); against the other sparse kernels, by cost.
        if let semiStructured, chunked.map({ semiStructuredCost(semiStructured) <= permuteCost($0) }) ?? true,
            sparsity.map({ semiStructuredCost(semiStructured) <= blockCost($0) }) ?? true,
            nonzeros.map({ semiStructuredCost(semiStructured) <= gatherCost($0, lanes: isa.laneWidth) }) ?? true
        {
            return KernelChoice(
                kernel: .sparseGEMVSemiStructured(lanes: isa.laneWidth, kept: semiStructured.kept),
                name: name("spmv\(semiStructured.kept)of4", tile: "1x\(isa.laneWidth)"))
        }
        if let chunked, sparsity.map({ permuteCost(chunked) < blockCost($0) }) ?? true {
            return KernelChoice(
                kernel: .sparseGEMVPermuted, name: name(chunked.isStrided ? "spmv_perm32_strided" : "spmv_perm32", tile: "1x16"))
        }
        if let lanes = gatherLanes, let nonzeros, sparsity.map({ gatherCost(nonzeros, lanes: lanes) < blockCost($0) }) ?? true {
            return KernelChoice(kernel: .sparseGEMV(lanes: lanes), name: name("spmv", tile: "1x\(lanes)"))
        }
        // One row of shared weights on AVX-512 and AVX2: eight steps' indices per word, each shifted
        // into place (on AVX-512 two vector operations and a multiply-add per 16 weights, one
        // operation fewer than the tiled kernel's layout).
        if codebook != nil, isa.codebookLookup == .permute16 || isa.codebookLookup == .permute8,
            resultType.elementCount / max(units, 1) <= KernelPlan.codebookGEMVRows
        {
            return KernelChoice(kernel: .codebookGEMV, name: name("gemv", tile: "1x\(isa.laneWidth)"))
        }
        if sparsity != nil {
            let rows = pixelsPerBlock(vectors: max(1, PackedFilter.blockColumns / isa.laneWidth))
            return KernelChoice(
                kernel: .sparseGEMM(rowsPerBlock: rows),
                name: name("spgemm", tile: "\(rows)x\(min(units, PackedFilter.blockColumns))"))
        }
        let rows = rowsPerBlock(units: units, vnni: vnni)
        let depth = shapes[1].elementCount / max(units, 1)
        let stagedRows = min(rows, resultType.elementCount / max(units, 1))
        return KernelChoice(
            kernel: vnni
                ? .gemmVNNI(rowsPerBlock: rows, staged: stagedRows * depth + 4 <= KernelPlan.stagingLimit)
                : .gemm(rowsPerBlock: rows),
            name: name("gemm", tile: "\(rows)x\(tileColumns(units: units, vnni: vnni))"))
    }

    private func usesVNNI(units: Int) -> Bool { isa.hasVNNI && units > 0 }

    /// Pixels side by side in each vector of a depthwise layer (multiplier 1) with fewer channels
    /// than the `widest` vector: with stride 1 along rows, the pixels of an output row and each
    /// of their taps are consecutive elements. 1 where that does not hold, or where the pixels
    /// whose windows lie inside a row fill under two vectors.
    private func mergedPixels(_ attributes: Conv2DAttributes, filter: Shape, widest: Int) -> Int {
        let (input, output, channels) = (shapes[0], resultType.shape, filter[3])
        guard attributes.strides[1] == 1, channels < widest, widest % channels == 0 else { return 1 }
        let padBefore = attributes.geometry(input: input, kernel: (filter[1], filter[2])).columns.padBefore
        let span = (filter[2] - 1) * attributes.dilations[1]
        let inside = (0..<output[2]).filter { $0 - padBefore >= 0 && $0 - padBefore + span < input[2] }.count
        return inside * channels >= 2 * widest ? widest / channels : 1
    }

    /// How int8 depthwise layers multiply 16-bit pairs on x86, and the widest block in channels
    /// (two vectors of i32 sums: even and odd channels); `nil` on AArch64, whose widening
    /// multiply-accumulate needs no pairing.
    private var pairwiseMultiply: (KernelChoice.PairwiseMultiply, Int)? {
        switch isa {
        case .avx512vnni: (.vpdpwssd, 32)
        // AVX-512 without BW has no 512-bit `pmaddwd`; AVX2's covers 16 channels.
        case .avx512, .avx2: (.pmaddwd, 16)
        case .sse41: (.pmaddwd, 8)
        case .neon, .neonDotProd: nil
        }
    }

    /// How int8 matrix products and convolutions multiply pairs of 16-bit values on x86 levels
    /// without `vpdpbusd`, and the i32 lanes of a vector of sums; `nil` where the plan uses
    /// `vpdpbusd` or on AArch64.
    private var pairwiseGEMM: (KernelChoice.PairwiseMultiply, Int)? {
        // The depthwise layers' multiply, on vectors of i32 pairs: half as many lanes as its i16 ones.
        guard !isa.hasVNNI, let (multiply, halves) = pairwiseMultiply else { return nil }
        return (multiply, halves / 2)
    }

    /// Accumulator vectors of 16 units in the widest VNNI tile; a partial last vector counts as one.
    private func vnniVectorsPerTile(units: Int) -> Int { min(VNNIGEMMKernel.vectorsPerTile, (units + 15) / 16) }

    /// Rows per block: like ``pixelsPerBlock(vectors:)``, enough independent accumulator
    /// chains to hide the multiply-add latency when a tile is narrow.
    private func rowsPerBlock(units: Int, vnni: Bool) -> Int {
        pixelsPerBlock(vectors: vnni ? vnniVectorsPerTile(units: units) : vectorsPerTile(units: units))
    }

    /// Accumulator vectors in the widest register tile of a layer with `units` outputs, of
    /// `lanes` each (the level's float lanes unless given).
    private func vectorsPerTile(units: Int, lanes: Int? = nil) -> Int {
        max(1, min(PackedFilter.vectorsPerTile, units / (lanes ?? isa.laneWidth)))
    }

    private func tileColumns(units: Int, vnni: Bool) -> Int {
        vnni ? 16 * vnniVectorsPerTile(units: units) : tileColumns(units: units, lanes: isa.laneWidth)
    }

    private func tileColumns(units: Int, lanes: Int) -> Int {
        min(units, lanes * vectorsPerTile(units: units, lanes: lanes))
    }

    /// Output pixels per block: as many as keep `vectors` accumulators per pixel,
    /// the weight vectors and a broadcast in registers, at most 8, or 12 with one
    /// vector per pixel: two multiply-add ports of 4–5 cycles' latency need about
    /// ten independent chains.
    private func pixelsPerBlock(vectors: Int) -> Int {
        max(1, min(vectors == 1 ? 12 : 8, (isa.vectorRegisters - 3 - vectors) / max(vectors, 1)))
    }

    /// Tiles per block of Winograd's F(2×2, 3×3) for this convolution, or `nil` where the direct
    /// kernel is the better choice: float 3×3 stride-1 layers (dense float32 filters: not shared,
    /// not stored in half precision) with at least ``winogradChannels`` input and output
    /// channels, whose transforms cost little beside the multiply-adds they save, and an
    /// output at least two pixels high and wide, in a graph optimized for speed (its transformed
    /// filter stores 16 weights per 9). A block is a register block of rows (as
    /// ``pixelsPerBlock(vectors:)``), fewer where its transformed inputs would pass
    /// ``KernelPlan/stagingLimit``; at least two tiles.
    private func winogradTilesPerBlock(_ attributes: Conv2DAttributes) -> Int? {
        let (input, filter, output) = (shapes[0], shapes[1], resultType.shape)
        guard graph.optimizationGoal == .speed, !isQuantized, resultType.dtype == .float32, codebook == nil, filter.rank == 4, output.rank == 4,
            graph.type(of: node.inputs[1]).dtype == .float32, graph.type(of: node.inputs[1]).quantization == nil,
            graph.isConstant(node.inputs[1]), filter[1] == 3, filter[2] == 3, attributes.strides == [1, 1],
            attributes.dilations == [1, 1], input[3] >= Self.winogradChannels, filter[0] >= Self.winogradChannels,
            output[1] >= 2, output[2] >= 2
        else { return nil }
        let bytesPerTile = WinogradFilter.positions * input[3] * MemoryLayout<Float>.size
        let tiles = min(pixelsPerBlock(vectors: vectorsPerTile(units: filter[0])), KernelPlan.stagingLimit / bytesPerTile)
        return tiles >= 2 ? tiles : nil
    }

    /// The fewest input and output channels for which Winograd's transforms pay.
    static let winogradChannels = 8

    private func dilation(_ attributes: Conv2DAttributes) -> String {
        attributes.dilations == [1, 1] ? "" : "d\(attributes.dilations[0])"
    }

    private func name(_ op: String, tile: String) -> String { "\(dtypes)_\(op)_\(isa.rawValue)_\(tile)" }

    /// The element types in XNNPACK's notation: `f32`, `qs8` (int8 activations)
    /// with `qc8w` per-channel int8 weights, `f32_qc8w` / `f32_f16w` for float
    /// layers with compressed weights.
    private var dtypes: String {
        let weights = node.inputs.dropFirst().first.flatMap { graph.isConstant($0) ? graph.type(of: $0) : nil }
        let perChannel = (weights?.quantization?.scales.count ?? 1) > 1
        if codebook != nil { return "f32_lut16w" }
        switch (resultType.dtype, weights?.dtype) {
        case (.int8, .int8?): return perChannel ? "qs8_qc8w" : "qs8"
        case (.int8, _): return "qs8"
        case (_, .int8?) where weights?.quantization != nil: return "f32_qc8w"
        case (_, .float16?): return "f32_f16w"
        default: return resultType.dtype == .float32 ? "f32" : resultType.dtype.rawValue
        }
    }
}
