/// Where each intermediate tensor lives in the one arena a model runs on.
///
/// Model inputs and outputs live in the caller's buffers and constants in the
/// code's read-only data; every other node result gets an offset here. Two
/// buffers share bytes only if their lifetimes are disjoint, or if one is
/// computed in place over the other (``inPlace``).
public struct MemoryPlan: Hashable, Sendable, Codable {
    /// Byte offset of each planned value in the arena.
    public var offsets: [ValueID: Int]
    /// Bytes the arena must hold.
    public var arenaByteCount: Int
    /// Alignment of every offset, in bytes.
    public var alignment: Int
    /// Results written over the bytes of an operand of their node (result to operand), chosen
    /// among ``Graph/inPlaceOperands()``: both have the same offset.
    public var inPlace: [ValueID: ValueID]

    /// Creates a memory plan.
    public init(offsets: [ValueID: Int], arenaByteCount: Int, alignment: Int, inPlace: [ValueID: ValueID] = [:]) {
        self.offsets = offsets
        self.arenaByteCount = arenaByteCount
        self.alignment = alignment
        self.inPlace = inPlace
    }

    private enum CodingKeys: String, CodingKey { case offsets, arenaByteCount, alignment, inPlace }
    private struct Entry: Codable {
        var value: ValueID
        var offset: Int
    }
    private struct Alias: Codable {
        var result: ValueID
        var operand: ValueID
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        arenaByteCount = try container.decode(Int.self, forKey: .arenaByteCount)
        alignment = try container.decode(Int.self, forKey: .alignment)
        offsets = [:]
        for entry in try container.decode([Entry].self, forKey: .offsets) { offsets[entry.value] = entry.offset }
        inPlace = [:]
        for alias in try container.decodeIfPresent([Alias].self, forKey: .inPlace) ?? [] {
            inPlace[alias.result] = alias.operand
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(arenaByteCount, forKey: .arenaByteCount)
        try container.encode(alignment, forKey: .alignment)
        let entries = offsets.sorted { $0.key < $1.key }.map { Entry(value: $0.key, offset: $0.value) }
        try container.encode(entries, forKey: .offsets)
        if !inPlace.isEmpty {
            let aliases = inPlace.sorted { $0.key < $1.key }.map { Alias(result: $0.key, operand: $0.value) }
            try container.encode(aliases, forKey: .inPlace)
        }
    }
}

extension Graph {
    /// The values that need arena memory: node results that are not model outputs.
    public var arenaValues: [ValueID] {
        let outputSet = Set(outputs)
        return nodes.flatMap(\.outputs).filter { !outputSet.contains($0) }
    }

    /// For each arena value, the first and last node index at which it is live.
    ///
    /// A value is live from the node that writes it through the last node that
    /// reads it; a node's operands and result are live at the same time, so a
    /// result never shares bytes with the operands it is computed from. A
    /// fused residual add's result (``residualAdds()``) is written by the layer
    /// before it, so it is live from that layer on. A `dynamic_range_quantize`
    /// node's input lives as long as its result: a dynamic-range kernel may
    /// absorb the node and round the input itself as it reads it.
    public func lifetimes() -> [ValueID: ClosedRange<Int>] {
        var producers = producers()
        for (add, fusion) in residualAdds() { producers[nodes[add].outputs[0]] = fusion.layer }
        var lastUse: [ValueID: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for input in node.inputs { lastUse[input] = index }
        }
        for node in nodes.reversed() {
            guard case .dynamicRangeQuantize = node.op, let rounded = lastUse[node.outputs[0]] else { continue }
            lastUse[node.inputs[0]] = max(lastUse[node.inputs[0]] ?? rounded, rounded)
        }
        // A banded chain reads its expansion's input and writes both intermediates' slots until
        // its projection has run: all of them live through the whole chain.
        for chain in bandedChains where chain.nodes.allSatisfy(nodes.indices.contains) {
            let first = chain.nodes[0]
            for value in nodes[first].inputs + [nodes[chain.depthwise].inputs[0], nodes[chain.depthwise].outputs[0]] {
                lastUse[value] = max(lastUse[value] ?? first, chain.project)
            }
        }
        var result: [ValueID: ClosedRange<Int>] = [:]
        for value in arenaValues {
            guard let start = producers[value] else { continue }
            result[value] = start...max(start, lastUse[value] ?? start)
        }
        return result
    }

    /// The most bytes live at once, each buffer rounded up to `alignment`, with the results in
    /// `inPlace` (by default every one ``inPlaceOperands()`` allows) sharing their operand's
    /// buffer: no memory plan's arena can be smaller, since buffers live at the same time cannot
    /// share bytes.
    public func liveBytesLowerBound(alignment: Int, inPlace: [ValueID: ValueID]? = nil) -> Int {
        let buffers = arenaBuffers(inPlace: inPlace ?? inPlaceOperands())
        guard let last = buffers.values.map(\.live.upperBound).max() else { return 0 }
        let step = max(alignment, 1)
        var change = [Int](repeating: 0, count: last + 2)
        for (value, buffer) in buffers {
            let size = (storageByteCount(of: value) + step - 1) / step * step
            change[buffer.live.lowerBound] += size
            change[buffer.live.upperBound + 1] -= size
        }
        var current = 0
        var peak = 0
        for delta in change {
            current += delta
            peak = max(peak, current)
        }
        return peak
    }

    /// Problems with `plan`: unplanned values, misaligned or out-of-range
    /// offsets, results computed in place where their node does not allow it
    /// or at another offset, and live buffers that overlap.
    public func memoryPlanDiagnostics(_ plan: MemoryPlan) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        let allowed = inPlaceOperands()
        for (result, operand) in plan.inPlace.sorted(by: { $0.key < $1.key }) {
            if allowed[result] != operand {
                diagnostics.append(
                    .error("memory plan: \(result) '\(self[result].name)' cannot be computed in place over \(operand)"))
            } else if plan.offsets[result] != plan.offsets[operand] {
                diagnostics.append(
                    .error("memory plan: \(result) '\(self[result].name)' is computed in place but not at \(operand)'s offset"))
            }
        }
        guard diagnostics.isEmpty else { return diagnostics }
        let buffers = arenaBuffers(inPlace: plan.inPlace)
        var placed: [(value: ValueID, bytes: Range<Int>, live: ClosedRange<Int>)] = []
        for (value, buffer) in buffers.sorted(by: { $0.key < $1.key }) {
            let live = buffer.live
            for member in buffer.values where plan.offsets[member] == nil {
                diagnostics.append(.error("memory plan: \(member) '\(self[member].name)' has no arena offset"))
            }
            guard let offset = plan.offsets[value] else { continue }
            let bytes = offset..<(offset + storageByteCount(of: value))
            if offset < 0 || bytes.upperBound > plan.arenaByteCount || offset % max(plan.alignment, 1) != 0 {
                diagnostics.append(
                    .error("memory plan: \(value) at bytes \(bytes) is misaligned or outside the \(plan.arenaByteCount)-byte arena"))
            }
            for other in placed where other.live.overlaps(live) && other.bytes.overlaps(bytes) {
                diagnostics.append(
                    .error("memory plan: \(other.value) and \(value) are live at the same time but share bytes"))
            }
            placed.append((value, bytes, live))
        }
        return diagnostics
    }
}
