import KilnIR

/// `plan-memory`: assigns every intermediate tensor an offset in one static
/// arena, so inference allocates nothing.
///
/// The algorithm is greedy by size, in the style of TensorFlow Lite Micro's
/// greedy planner: buffers are placed largest first, each at the lowest
/// aligned offset where it overlaps no already-placed buffer whose lifetime
/// overlaps its own. Lifetimes run from the producing node through the last
/// reading node. This is not optimal (the problem is NP-hard), but it is
/// simple, deterministic, and close to the peak live size on chain-like
/// models. Operands and results are never aliased (no in-place ops yet).
/// The plan is checked by ``Graph/memoryPlanDiagnostics(_:)``, which the
/// verifier runs.
public struct PlanMemoryPass: Pass {
    /// The stable id.
    public let id = "plan-memory"
    /// Alignment of every buffer, in bytes: one cache line, enough for AVX-512 loads.
    public let alignment: Int

    /// Creates the pass.
    public init(alignment: Int = 64) {
        self.alignment = alignment
    }

    /// Computes and attaches the memory plan.
    public func run(on graph: inout Graph) throws(DiagnosticError) {
        let lifetimes = graph.lifetimes()
        let order = lifetimes.keys.sorted {
            let (a, b) = (graph.type(of: $0).byteCount, graph.type(of: $1).byteCount)
            return a != b ? a > b : $0 < $1
        }
        var placed: [(bytes: Range<Int>, live: ClosedRange<Int>)] = []
        var offsets: [ValueID: Int] = [:]
        var arenaByteCount = 0
        for value in order {
            guard let live = lifetimes[value] else { continue }
            let size = graph.type(of: value).byteCount
            let conflicts = placed.filter { $0.live.overlaps(live) }.map(\.bytes).sorted { $0.lowerBound < $1.lowerBound }
            var offset = 0
            for conflict in conflicts {
                if offset + size <= conflict.lowerBound { break }
                offset = max(offset, align(conflict.upperBound))
            }
            offsets[value] = offset
            placed.append((offset..<(offset + size), live))
            arenaByteCount = max(arenaByteCount, offset + size)
        }
        graph.memoryPlan = MemoryPlan(offsets: offsets, arenaByteCount: align(arenaByteCount), alignment: alignment)
    }

    private func align(_ value: Int) -> Int { (value + alignment - 1) / alignment * alignment }
}
