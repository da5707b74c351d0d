import KilnIR
import KilnPasses
import KilnReference
import Testing

@testable import Kiln

/// `prune-weights` in each pattern: which weights it zeroes, how many, and that it ranks them
/// by activation with calibration samples.
@Suite struct PruneWeightsPassTests {
    /// A fully-connected layer of `units` outputs over `depth` inputs, its filter from `weight(unit, k)`.
    func layer(units: Int, depth: Int, _ weight: (Int, Int) -> Float) throws -> Graph {
        let filter = (0..<units).flatMap { unit in (0..<depth).map { weight(unit, $0) } }
        return try KernelTests.singleOp(
            .fullyConnected(activation: nil), input: [1, depth], constants: [TensorData(filter, shape: [units, depth])])
    }

    func filter(_ graph: Graph) -> [Float] { graph.constantData(graph.nodes[0].inputs[1])?.floats() ?? [] }

    /// Distinct magnitudes in a scrambled order, so ties never decide.
    func scrambled(_ unit: Int, _ k: Int) -> Float { Float((unit * 37 + k * 11) % 101 + 1) * (k % 2 == 0 ? 1 : -1) / 101 }

    @Test(arguments: [false, true])
    func magnitudeZeroesExactlyTheSmallest(global: Bool) throws {
        var graph = PassTests().resolved(try TinyCNN.graph())
        try PruneWeightsPass(.init(sparsity: 0.5, scope: global ? .global : .perLayer)).run(on: &graph)
        let filters = graph.nodes.filter { $0.op.kindName == "fully_connected" || $0.op.kindName == "conv2d" }
            .map { graph.constantData($0.inputs[1])!.floats() }
        let all = filters.flatMap { $0 }
        #expect(all.filter { $0 == 0 }.count == all.count / 2)
        if !global {
            for filter in filters {
                #expect(filter.filter { $0 == 0 }.count == filter.count / 2)
                let survivors = filter.filter { $0 != 0 }.map(abs)
                #expect(survivors.min()! >= filter.map(abs).sorted()[filter.count / 2 - 1])
            }
        }
    }

    /// Per unit, every output unit loses the same number of weights, its own smallest.
    @Test func perUnitPrunesEveryUnitAlike() throws {
        let (units, depth) = (6, 20)
        var graph = try layer(units: units, depth: depth, scrambled)
        let original = filter(graph)
        try PruneWeightsPass(.init(sparsity: 0.75, scope: .perUnit)).run(on: &graph)
        let pruned = filter(graph)
        for unit in 0..<units {
            let row = (unit * depth)..<((unit + 1) * depth)
            #expect(row.filter { pruned[$0] == 0 }.count == 15)
            let largestPruned = row.filter { pruned[$0] == 0 }.map { abs(original[$0]) }.max() ?? 0
            #expect(row.filter { pruned[$0] != 0 }.allSatisfy { abs(original[$0]) >= largestPruned })
        }
    }

    /// Blocks of 16 units at one input go whole: a 40-unit layer has blocks of 16, 16 and 8.
    @Test(arguments: [0.5, 0.75, 0.9])
    func blocksGoWhole(sparsity: Double) throws {
        let (units, depth) = (40, 24)
        var graph = try layer(units: units, depth: depth, scrambled)
        let original = filter(graph)
        try PruneWeightsPass(.init(sparsity: sparsity, pattern: .blocks)).run(on: &graph)
        let pruned = filter(graph)
        var zeroed = 0
        var blockNorms: [(norm: Float, kept: Bool)] = []
        for first in stride(from: 0, to: units, by: 16) {
            for k in 0..<depth {
                let members = (first..<min(first + 16, units)).map { $0 * depth + k }
                let kept = members.allSatisfy { pruned[$0] == original[$0] }
                #expect(kept || members.allSatisfy { pruned[$0] == 0 }, "block \(first / 16) at \(k) is partly pruned")
                if !kept { zeroed += members.count }
                blockNorms.append((members.reduce(0) { $0 + abs(original[$1]) }, kept))
            }
        }
        let target = Int(sparsity * Double(units * depth))
        #expect(zeroed <= target && zeroed > target - 16)
        // Among the full blocks, every pruned one weighs less than every kept one.
        let full = blockNorms.prefix(2 * depth)
        let largestPruned = full.filter { !$0.kept }.map(\.norm).max() ?? 0
        #expect(full.filter(\.kept).allSatisfy { $0.norm >= largestPruned })
    }

    @Test(arguments: [(2, 4), (1, 4)])
    func nOfMKeepsTheLargestOfEachGroup(n: Int, m: Int) throws {
        let (units, depth) = (5, 18)  // 18 = four groups of 4 and a group of 2
        var graph = try layer(units: units, depth: depth, scrambled)
        let original = filter(graph)
        try PruneWeightsPass(.init(sparsity: 0, pattern: .nOfM(n: n, m: m))).run(on: &graph)
        let pruned = filter(graph)
        for unit in 0..<units {
            for start in stride(from: 0, to: depth, by: m) {
                let members = (start..<min(start + m, depth)).map { unit * depth + $0 }
                let keep = n * members.count / m
                let largest = members.sorted { abs(original[$0]) > abs(original[$1]) }.prefix(keep)
                for index in members {
                    #expect(pruned[index] == (largest.contains(index) ? original[index] : 0))
                }
            }
        }
    }

    /// With calibration samples whose first input is a thousand times the others, the small
    /// weights on that input matter most: Wanda keeps them where magnitude alone prunes them.
    @Test func activationAwareKeepsWeightsOnStrongInputs() throws {
        let depth = 8
        let graph = try layer(units: 4, depth: depth) { unit, k in k == 0 ? 0.01 : 0.5 + Float(unit + k) / 100 }
        let samples = (0..<4).map { sample in
            [TensorData((0..<depth).map { k in (k == 0 ? 1000 : 1) * Float(sample % 2 == 0 ? 1 : -1) }, shape: [1, depth])]
        }
        var byMagnitude = graph
        try PruneWeightsPass(.init(sparsity: 0.25)).run(on: &byMagnitude)
        var byActivation = graph
        try PruneWeightsPass(.init(sparsity: 0.25, calibration: samples)).run(on: &byActivation)
        let firstInput = { (graph: Graph) in stride(from: 0, to: 4 * depth, by: depth).map { self.filter(graph)[$0] } }
        #expect(firstInput(byMagnitude) == [0, 0, 0, 0])
        // Kept (the repair may have moved them).
        #expect(firstInput(byActivation).allSatisfy { $0 != 0 })
        #expect(filter(byActivation).filter { $0 == 0 }.count == depth)
    }

    /// An input that is twice another carries the same signal: repairing moves the pruned weight
    /// onto it, and the layer's output on the samples stays what it was; the bias takes the mean
    /// a pruned input with an offset carried.
    @Test func repairKeepsTheLayerOutputOnTheSamples() throws {
        let depth = 4
        let weights: [Float] = [0.3, 1.0, 0.9, 0.8, /* second unit */ 0.7, 0.6, -0.5, 0.05]
        var graph = Graph(name: "fc")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, depth]))
        let filter = graph.addConstant(name: "w", data: TensorData(weights, shape: [2, depth]))
        let bias = graph.addConstant(name: "b", data: TensorData([0.1, -0.2], shape: [2]))
        graph.outputs = [try graph.addNode(.fullyConnected(activation: nil), inputs: [x, filter, bias], name: "fc")]
        // x1 = 2·x0; x3 sits around 5.
        let samples = (0..<64).map { index in
            let noise = uniformValues(3, in: -1...1, seed: UInt64(100 + index))
            return [TensorData([noise[0], 2 * noise[0], noise[1], 5 + noise[2] / 10], shape: [1, depth])]
        }
        var pruned = graph
        try PruneWeightsPass(.init(sparsity: 0.25, calibration: samples)).run(on: &pruned)
        let kept = pruned.constantData(filter)?.floats() ?? []
        #expect(kept[0] == 0 && kept[7] == 0, "\(kept)")
        let before = try ReferenceInterpreter(graph)
        let after = try ReferenceInterpreter(pruned)
        for sample in samples {
            for (a, b) in zip(try before.run(sample)[0].floats(), try after.run(sample)[0].floats()) {
                #expect(abs(a - b) < 0.01 * max(1, abs(a)), "\(a) vs \(b)")
            }
        }
    }

    @Test func rejectsBadSparsityAndGroups() throws {
        var graph = PassTests().resolved(try TinyCNN.graph())
        #expect(throws: DiagnosticError.self) { try PruneWeightsPass(.init(sparsity: 1.5)).run(on: &graph) }
        #expect(throws: DiagnosticError.self) {
            try PruneWeightsPass(.init(sparsity: 0.5, pattern: .nOfM(n: 5, m: 4))).run(on: &graph)
        }
    }
}
