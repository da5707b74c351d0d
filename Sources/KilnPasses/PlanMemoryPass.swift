import KilnIR

/// `plan-memory`: assigns every intermediate tensor an offset in one static
/// arena, so inference allocates nothing, and keeps the smallest arena that
/// several greedy placements find.
///
/// Each strategy visits the buffers in its own order and puts each at the
/// lowest aligned offset where it overlaps no already-placed buffer whose
/// lifetime overlaps its own (lifetimes run from the producing node through
/// the last reading node):
/// - ``Order/largestFirst``: TensorFlow Lite Micro's greedy-by-size planner;
/// - ``Order/mostConflictsFirst``: TVM's `greedy_by_conflicts`, the buffer that
///   is live beside the most bytes of others first;
/// - ``Order/longestLivedFirst``: long-lived buffers low in the arena, so short
///   ones reuse the space above them;
/// - ``Order/executionOrder``: first-fit as the graph runs (TensorFlow Lite's
///   arena planner).
///
/// The problem is NP-hard; no order wins on every model, and the peak of live
/// bytes (``Graph/liveBytesLowerBound(alignment:inPlace:)``) bounds all of them
/// from below. Before placing, every result that can be is computed in place
/// (``Graph/inPlaceOperands()``: reshapes, activations, same-shape binary ops
/// whose operand dies there), so it and its operand are one buffer. The plan is
/// checked by ``Graph/memoryPlanDiagnostics(_:)``, which the verifier runs.
public struct PlanMemoryPass: Pass {
    /// An order in which buffers are placed.
    public enum Order: String, CaseIterable, Sendable {
        /// Largest buffer first.
        case largestFirst = "largest-first"
        /// The buffer live beside the most bytes of other buffers first.
        case mostConflictsFirst = "most-conflicts-first"
        /// The buffer with the longest lifetime first.
        case longestLivedFirst = "longest-lived-first"
        /// In the order the graph produces them.
        case executionOrder = "execution-order"
    }

    /// The stable id.
    public let id = "plan-memory"
    /// Alignment of every buffer, in bytes: one cache line, enough for AVX-512 loads.
    public let alignment: Int
    /// The orders tried; the smallest arena wins, the earlier order on a tie.
    public let orders: [Order]
    /// Whether results are computed in place where their node allows it.
    public let inPlace: Bool

    /// Creates the pass.
    public init(alignment: Int = 64, orders: [Order] = Order.allCases, inPlace: Bool = true) {
        self.alignment = alignment
        self.orders = orders.isEmpty ? [.largestFirst] : orders
        self.inPlace = inPlace
    }

    /// Computes and attaches the smallest memory plan among the orders.
    public func run(on graph: inout Graph) throws(DiagnosticError) {
        let buffers = buffers(of: graph)
        var best: MemoryPlan?
        for order in orders {
            let plan = plan(graph, order: order, buffers: buffers)
            if plan.arenaByteCount < best?.arenaByteCount ?? .max { best = plan }
        }
        graph.memoryPlan = best
    }

    /// The results computed in place and the buffers they leave to place.
    public typealias Buffers = (inPlace: [ValueID: ValueID], lifetimes: [ValueID: ClosedRange<Int>])

    /// `graph`'s buffers to place: one per value not computed in place, live while any value
    /// written over it is.
    public func buffers(of graph: Graph) -> Buffers {
        let inPlace = inPlace ? graph.inPlaceOperands() : [:]
        return (inPlace, graph.arenaBuffers(inPlace: inPlace).mapValues(\.live))
    }

    /// The plan that placing `graph`'s buffers (``buffers(of:)``, computed when not given) in
    /// `order` gives.
    public func plan(_ graph: Graph, order: Order, buffers: Buffers? = nil) -> MemoryPlan {
        let (inPlace, lifetimes) = buffers ?? self.buffers(of: graph)
        let sizes = lifetimes.keys.reduce(into: [ValueID: Int]()) { $0[$1] = graph.storageByteCount(of: $1) }
        func key(_ value: ValueID) -> Int {
            let live = lifetimes[value] ?? 0...0
            switch order {
            case .largestFirst: return sizes[value] ?? 0
            case .longestLivedFirst: return live.count
            case .executionOrder: return -live.lowerBound
            case .mostConflictsFirst:
                return lifetimes.reduce(0) { total, other in
                    other.key != value && other.value.overlaps(live) ? total + (sizes[other.key] ?? 0) : total
                }
            }
        }
        let keys = lifetimes.keys.reduce(into: [ValueID: Int]()) { $0[$1] = key($1) }
        // Ties broken by size, then by value id, so every order is deterministic.
        let sequence = lifetimes.keys.sorted {
            let (a, b) = (keys[$0] ?? 0, keys[$1] ?? 0)
            if a != b { return a > b }
            let (sizeA, sizeB) = (sizes[$0] ?? 0, sizes[$1] ?? 0)
            return sizeA != sizeB ? sizeA > sizeB : $0 < $1
        }
        var placed: [(bytes: Range<Int>, live: ClosedRange<Int>)] = []
        var offsets: [ValueID: Int] = [:]
        var arenaByteCount = 0
        for value in sequence {
            guard let live = lifetimes[value], let size = sizes[value] else { continue }
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
        for result in inPlace.keys {
            var owner = result
            while let operand = inPlace[owner] { owner = operand }
            offsets[result] = offsets[owner]
        }
        return MemoryPlan(offsets: offsets, arenaByteCount: align(arenaByteCount), alignment: alignment, inPlace: inPlace)
    }

    private func align(_ value: Int) -> Int { (value + alignment - 1) / alignment * alignment }
}
