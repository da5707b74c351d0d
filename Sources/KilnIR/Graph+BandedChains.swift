extension BandedChain {
    /// Largest bytes of one slot (a window of expansion rows and a band of depthwise rows): about
    /// half of a core's L2 cache on current x86 and Arm server cores, so the weights and the
    /// projection's output fit beside it. The slots together also take at most half the bytes of
    /// the intermediates they replace.
    public static let slotByteLimit = 384 * 1024
    /// Pieces a chain's rows are cut into for threads, each with its own slot: the runtime gives
    /// each thread whole pieces, so 1, 2 and 4 threads share the work evenly.
    public static let maximumSlots = 4
    /// Bytes below which an intermediate stays whole: it fits the cache anyway, and banding would
    /// only add the rows the bands' windows share.
    public static let minimumIntermediateBytes = 1024 * 1024
}

extension Graph {
    /// The geometry of `chain`, read from its depthwise layer; `nil` if that node is not a
    /// depthwise convolution over NHWC.
    public func bandGeometry(_ chain: BandedChain) -> BandGeometry? {
        guard nodes.indices.contains(chain.depthwise) else { return nil }
        let node = nodes[chain.depthwise]
        guard case .depthwiseConv2D(let attributes) = node.op, node.inputs.count >= 2 else { return nil }
        let input = type(of: node.inputs[0]).shape
        let output = type(of: node.outputs[0]).shape
        let filter = type(of: node.inputs[1]).shape
        guard input.rank == 4, output.rank == 4, filter.rank == 4 else { return nil }
        let (rows, _) = attributes.geometry(input: input, kernel: (filter[1], filter[2]))
        return BandGeometry(
            inputRows: input[1], inputColumns: input[2], outputRows: output[1], outputColumns: output[2],
            channels: output[3], stride: attributes.strides[0], padBefore: rows.padBefore,
            windowSpan: (filter[1] - 1) * attributes.dilations[0] + 1,
            elementBytes: type(of: node.outputs[0]).dtype.byteSize)
    }

    /// The chain around depthwise layer `index`, with its band sizes, if the three layers can run
    /// in bands: float32 or int8 throughout, one image, a depthwise multiplier of 1, fed by a 1×1 stride-1
    /// convolution read by nothing else (or by anything, then without one) and read only by a 1×1
    /// stride-1 convolution right after it, with an intermediate of at least
    /// `minimumIntermediateBytes`.
    public func bandedChain(
        depthwise index: Int, minimumIntermediateBytes: Int = BandedChain.minimumIntermediateBytes
    ) -> BandedChain? {
        /// Whether `node` reads and writes float32 with a constant float32 filter, or int8 with an int8 one.
        func hasBandableTypes(_ node: Node) -> Bool {
            guard node.inputs.count >= 2, isConstant(node.inputs[1]) else { return false }
            let dtype = type(of: node.inputs[1]).dtype
            return (dtype == .float32 || dtype == .int8) && type(of: node.inputs[0]).dtype == dtype
                && type(of: node.outputs[0]).dtype == dtype
        }
        /// Whether node `index` is a 1×1 stride-1 convolution with bandable types.
        func isPointwise(_ index: Int) -> Bool {
            guard nodes.indices.contains(index) else { return false }
            let node = nodes[index]
            guard case .conv2D(let attributes) = node.op, hasBandableTypes(node) else { return false }
            let input = type(of: node.inputs[0]).shape
            let filter = type(of: node.inputs[1]).shape
            let output = type(of: node.outputs[0]).shape
            return input.rank == 4 && filter.rank == 4 && output.rank == 4
                && attributes.isPointwise(input: input, filter: filter, output: output)
        }
        guard nodes.indices.contains(index) else { return nil }
        let depthwise = nodes[index]
        // Only then the graph-wide maps: the pass asks about every node.
        guard case .depthwiseConv2D = depthwise.op, hasBandableTypes(depthwise) else { return nil }
        let consumers = consumers()
        let outputSet = Set(outputs)
        /// Whether `value` is read by node `reader` alone and is not a model output.
        func feedsOnly(_ value: ValueID, _ reader: Int) -> Bool {
            consumers[value] == [reader] && !outputSet.contains(value)
        }
        let input = type(of: depthwise.inputs[0]).shape
        let output = type(of: depthwise.outputs[0]).shape
        guard input.rank == 4, output.rank == 4, input[0] == 1, input[3] == output[3], output[1] > 0,
            isPointwise(index + 1), nodes[index + 1].inputs[0] == depthwise.outputs[0],
            feedsOnly(depthwise.outputs[0], index + 1)
        else { return nil }
        let expand =
            isPointwise(index - 1) && nodes[index - 1].outputs[0] == depthwise.inputs[0]
                && feedsOnly(depthwise.inputs[0], index)
            ? index - 1 : nil
        var chain = BandedChain(expand: expand, depthwise: index, project: index + 1, bandRows: 1, slotRows: 1, slots: 1)
        guard let geometry = bandGeometry(chain),
            max(type(of: depthwise.inputs[0]).byteCount, type(of: depthwise.outputs[0]).byteCount)
                >= minimumIntermediateBytes
        else { return nil }
        chain.slots = min(BandedChain.maximumSlots, geometry.outputRows)
        chain.slotRows = (geometry.outputRows + chain.slots - 1) / chain.slots
        // The tallest band that fits a slot, at most one piece: a band's window shares
        // `windowSpan − stride` rows with the next one, so taller bands copy less of it. The
        // slots together take at most half the bytes of the intermediates they replace.
        let slotBytes = { (rows: Int) in
            (expand == nil ? 0 : geometry.windowBytes(bandRows: rows)) + geometry.bandBytes(bandRows: rows)
        }
        let wholeBytes = (expand == nil ? 0 : type(of: depthwise.inputs[0]).byteCount) + type(of: depthwise.outputs[0]).byteCount
        let limit = min(BandedChain.slotByteLimit, wholeBytes / (2 * chain.slots))
        chain.bandRows = max(1, (1...chain.slotRows).last { slotBytes($0) <= limit } ?? 1)
        return chain
    }

    /// Every chain that can run in bands (``bandedChain(depthwise:minimumIntermediateBytes:)``),
    /// none sharing a node.
    public func bandableChains(minimumIntermediateBytes: Int = BandedChain.minimumIntermediateBytes) -> [BandedChain] {
        var chains: [BandedChain] = []
        var used = Set<Int>()
        for index in nodes.indices {
            guard let chain = bandedChain(depthwise: index, minimumIntermediateBytes: minimumIntermediateBytes),
                used.isDisjoint(with: chain.nodes)
            else { continue }
            chains.append(chain)
            used.formUnion(chain.nodes)
        }
        return chains
    }

    /// Bytes the memory plan gives `value`: its type's, or for an intermediate of a banded chain
    /// (``bandedChains``) its slots: windows of expansion rows, bands of depthwise rows.
    public func storageByteCount(of value: ValueID) -> Int {
        for chain in bandedChains {
            guard let geometry = bandGeometry(chain) else { continue }
            let depthwise = nodes[chain.depthwise]
            if chain.expand != nil, value == depthwise.inputs[0] {
                return chain.slots * geometry.windowBytes(bandRows: chain.bandRows)
            }
            if value == depthwise.outputs[0] { return chain.slots * geometry.bandBytes(bandRows: chain.bandRows) }
        }
        return type(of: value).byteCount
    }

    /// Problems with ``bandedChains``: a chain whose layers no longer form one
    /// (``bandedChain(depthwise:minimumIntermediateBytes:)``), whose slots do not cover its rows, or that shares a node.
    public func bandedChainDiagnostics() -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        var used = Set<Int>()
        for chain in bandedChains {
            let label = "banded chain at node \(chain.depthwise)"
            guard let expected = bandedChain(depthwise: chain.depthwise, minimumIntermediateBytes: 0),
                expected.expand == chain.expand,
                expected.project == chain.project, let geometry = bandGeometry(chain)
            else {
                diagnostics.append(.error("\(label): its layers are not an expansion, a depthwise layer and a projection"))
                continue
            }
            if chain.bandRows < 1 || chain.slots < 1 || chain.slotRows * chain.slots < geometry.outputRows
                || chain.slots > geometry.outputRows
            {
                diagnostics.append(.error("\(label): \(chain.slots) slots of \(chain.slotRows) rows in bands of \(chain.bandRows) do not cover \(geometry.outputRows) rows"))
            }
            if !used.isDisjoint(with: chain.nodes) { diagnostics.append(.error("\(label): shares a node with another chain")) }
            used.formUnion(chain.nodes)
        }
        return diagnostics
    }
}
