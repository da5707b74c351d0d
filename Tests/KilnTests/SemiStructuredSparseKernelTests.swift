import Foundation
import Kiln
import KilnCodegen
import KilnCompiler
import KilnIR
import Testing

/// Fully-connected layers pruned 2:4 and 1:4, whose kernel picks each unit's kept inputs out of
/// every group of four with in-lane permutes, against the reference interpreter on the same
/// pruned weights; the ISA sweeps (``ISALevelKernelTests``) run them on every level.
@Suite struct SemiStructuredSparseKernelTests {
    /// A fully-connected layer of `rows` rows, `depth` inputs and `units` outputs, pruned `kept`:4.
    struct Case: Sendable, CustomTestStringConvertible {
        var rows: Int
        var depth: Int
        var units: Int
        var kept = 2
        /// Whether some groups hold a single nonzero before pruning (zeros in the trained weights),
        /// which a 2:4 kernel pads by picking that nonzero twice.
        var hasSingles = false
        /// A 1×1 convolution of one pixel instead of a fully-connected layer.
        var isPointwise = false
        /// Picks per group the kernel makes: `kept`, or fewer where the only group is short (the
        /// pass keeps ⌊kept · size / 4⌋ of a short group).
        var picks: Int { depth < 4 ? max(1, kept * depth / 4) : kept }
        var testDescription: String {
            "\(isPointwise ? "1x1 conv" : "fc") \(rows)x\(depth)→\(units) at \(kept):4\(hasSingles ? " with single-nonzero groups" : "")"
        }

        /// The single-layer graph, with a fused ReLU and a bias.
        func graph() throws -> Graph {
            var values = KernelTests.weights([units, depth], seed: 31).floats()
            if hasSingles {
                // Every third group of every unit keeps only its second input.
                for index in values.indices where (index % depth) / 4 % 3 == 0 && index % depth % 4 != 1 { values[index] = 0 }
            }
            let bias = KernelTests.weights([units], seed: 32)
            if isPointwise {
                return try KernelTests.singleOp(
                    .conv2D(Conv2DAttributes(padding: .valid, activation: .relu)), input: [1, 1, rows, depth],
                    constants: [TensorData(values, shape: [units, 1, 1, depth]), bias])
            }
            return try KernelTests.singleOp(
                .fullyConnected(activation: .relu), input: [rows, depth],
                constants: [TensorData(values, shape: [units, depth]), bias])
        }

        /// `base` with this case's N:4 pruning.
        func options(_ base: CompileOptions) -> CompileOptions {
            var options = base
            options.pruning = .magnitude(sparsity: 1 - Double(kept) / 4, pattern: .nOfM(n: kept, m: 4))
            return options
        }
    }

    /// Full control words and leftover groups, a short last group (1, 2 and 3 inputs), a last
    /// slice narrower than every vector, 1:4, single-nonzero groups, and a 1×1 convolution.
    static let cases: [Case] = [
        Case(rows: 1, depth: 64, units: 32), Case(rows: 1, depth: 640, units: 128), Case(rows: 1, depth: 20, units: 17),
        Case(rows: 1, depth: 33, units: 7), Case(rows: 1, depth: 38, units: 40), Case(rows: 1, depth: 131, units: 24),
        Case(rows: 1, depth: 3, units: 9), Case(rows: 1, depth: 96, units: 48, kept: 1),
        Case(rows: 1, depth: 45, units: 33, kept: 1), Case(rows: 1, depth: 100, units: 20, hasSingles: true),
        Case(rows: 1, depth: 70, units: 19, isPointwise: true),
    ]

    /// Compiles `c` for `options`' target and checks it against the reference.
    static func check(_ c: Case, options: CompileOptions = .thisMachine) throws {
        try expectCompiledMatchesReference(try c.graph(), options: c.options(options), inputRange: -2...2, c.testDescription)
    }

    @Test(arguments: cases)
    func matchesReference(_ c: Case) throws { try Self.check(c) }

    /// AVX2 and AVX-512 pick by permutes, one vector of units per slice; SSE4.1 and NEON, which
    /// have no variable in-lane permute, keep another kernel.
    @Test(arguments: cases)
    func planPicksByPermutesWhereTheLevelCan(_ c: Case) throws {
        let optimized = try Compiler().optimize(try c.graph(), options: c.options(.thisMachine))
        for isa in ISALevel.allCases {
            let choice = KernelPlan(graph: optimized, isa: isa).choices[0]
            switch isa {
            case .avx512vnni, .avx512, .avx2:
                #expect(choice.kernel == .sparseGEMVSemiStructured(lanes: isa.laneWidth, kept: c.picks), "\(isa): \(choice.name)")
                #expect(choice.name == "f32_spmv\(c.picks)of4_\(isa.rawValue)_1x\(isa.laneWidth)")
            case .sse41, .neon, .neonDotProd:
                if case .sparseGEMVSemiStructured = choice.kernel { Issue.record("\(isa) has no in-lane permute: \(choice.name)") }
            }
        }
    }

    /// More rows than ``KernelPlan/semiStructuredRows``, a full group with no nonzero (nothing to
    /// pick twice) and a group with three nonzeros keep other kernels.
    @Test func filtersTheKernelCannotRunKeepOtherKernels() throws {
        let c = Case(rows: 1, depth: 64, units: 32)
        let weights = KernelTests.weights([c.units, c.depth], seed: 31).floats()
        var noneKept = weights
        for k in 0..<4 { noneKept[3 * c.depth + k] = 0 }
        // Unpruned: two of every four kept, but three in one group of unit 5.
        let threeKept = weights.enumerated().map { $0.offset % 4 < 2 || $0.offset == 5 * c.depth + 2 ? $0.element : 0 }
        var graphs = [(try Case(rows: KernelPlan.semiStructuredRows + 1, depth: 64, units: 32).graph(), c.options(.thisMachine))]
        for (values, options) in [(noneKept, c.options(.thisMachine)), (threeKept, CompileOptions.thisMachine)] {
            let graph = try KernelTests.singleOp(
                .fullyConnected(activation: .relu), input: [1, c.depth],
                constants: [TensorData(values, shape: [c.units, c.depth]), KernelTests.weights([c.units], seed: 32)])
            graphs.append((graph, options))
        }
        for (graph, options) in graphs {
            let optimized = try Compiler().optimize(graph, options: options)
            let choice = KernelPlan(graph: optimized, isa: .avx512).choices[0]
            if case .sparseGEMVSemiStructured = choice.kernel { Issue.record("\(choice.name)") }
        }
    }

    /// A NaN input reaches exactly the units that kept a weight for it, and an infinite one
    /// leaves no NaN where a unit picks its single nonzero twice (half the weight each time).
    @Test(.enabled(if: X86Level.avx512.isSupported, X86Level.avx512.skipReason), arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteInputsReachOnlyConnectedUnitsOnAVX512(value: Float) throws {
        try Self.checkNonFinite(value, target: X86Level.avx512.options)
    }

    /// ``nonFiniteInputsReachOnlyConnectedUnitsOnAVX512(value:)`` with vectors of 8 units.
    @Test(.enabled(if: X86Level.avx2.isSupported, X86Level.avx2.skipReason), arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteInputsReachOnlyConnectedUnitsOnAVX2(value: Float) throws {
        try Self.checkNonFinite(value, target: X86Level.avx2.options)
    }

    static func checkNonFinite(_ value: Float, target: CompileOptions) throws {
        let c = Case(rows: 1, depth: 100, units: 20, hasSingles: true)
        let options = c.options(target)
        let graph = try c.graph()
        let optimized = try Compiler().optimize(graph, options: options)
        let filter = try #require(optimized.constantData(optimized.nodes[0].inputs[1])).floats()
        // Input 1 is every unit's single nonzero in group 0; input 6 is in a group pruned 2:4.
        for position in [1, 6] {
            var input = uniformValues(c.depth, in: -2...2, seed: 5)
            input[position] = value
            let directory = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let output = try NativeRunner(graph, options: options, directory: directory).run(
                [TensorData(input, shape: [1, c.depth])], outputByteCounts: [4 * c.units])[0]
            let values = TensorData(dtype: .float32, shape: [1, c.units], bytes: output).floats()
            for unit in 0..<c.units {
                let weight = filter[unit * c.depth + position]
                let context = "unit \(unit), input \(position): \(values[unit])"
                if weight == 0 {
                    #expect(values[unit].isFinite, "\(context)")
                } else if value.isNaN {
                    #expect(values[unit].isNaN, "\(context)")
                } else {
                    // The other inputs are finite; ReLU takes −∞ to 0.
                    #expect(values[unit] == max(0, weight * value), "\(context)")
                }
            }
        }
    }

    /// The artifact holds only what the kernel reads: at 2:4, half the dense weights plus a
    /// 4-byte control word per unit and 8 groups.
    @Test func artifactStoresHalfTheWeights() throws {
        let c = Case(rows: 1, depth: 1024, units: 256)
        let optimized = try Compiler().optimize(try c.graph(), options: c.options(.thisMachine))
        let report = ModelReport(optimized, plan: KernelPlan(graph: optimized, isa: .avx2))
        #expect(report.layers[0].filterBytes == 4 * 1024 * 256 / 2 + 4 * 256 * 1024 / 32)
        #expect(report.layers[0].filterSparsity == 0.5)
    }
}
