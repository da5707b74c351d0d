import Foundation
import Kiln
import KilnCodegen
import KilnCompiler
import KilnIR
import Testing

/// Block-pruned fully-connected and pointwise layers, whose kernel multiplies only the reduction
/// positions each block of 16 output channels keeps, against the reference interpreter on the
/// same pruned weights; the ISA sweeps (``ISALevelKernelTests``) run them on every level.
@Suite struct SparseKernelTests {
    /// A matrix product pruned in blocks: `rows` input rows (pixels of a 1×1 convolution when
    /// `isPointwise`), `depth` inputs, `units` outputs.
    struct Case: Sendable, CustomTestStringConvertible {
        var rows: Int
        var depth: Int
        var units: Int
        var sparsity = 0.75
        var isPointwise = false
        /// Pruned in blocks of 16 units, or any weights, as many in every unit (the gathering kernel's case).
        var inBlocks = true
        var testDescription: String {
            "\(isPointwise ? "1x1 conv" : "fc") \(rows)x\(depth)→\(units) at \(Int(sparsity * 100)) %\(inBlocks ? " in blocks" : "")"
        }

        /// The single-layer graph, with a fused ReLU and a bias.
        func graph() throws -> Graph {
            let filter = KernelTests.weights(isPointwise ? [units, 1, 1, depth] : [units, depth], seed: 21)
            let bias = KernelTests.weights([units], seed: 22)
            if isPointwise {
                return try KernelTests.singleOp(
                    .conv2D(Conv2DAttributes(padding: .valid, activation: .relu)), input: [1, 1, rows, depth],
                    constants: [filter, bias])
            }
            return try KernelTests.singleOp(.fullyConnected(activation: .relu), input: [rows, depth], constants: [filter, bias])
        }

        /// `base` with this case's block pruning.
        func options(_ base: CompileOptions) -> CompileOptions {
            var options = base
            options.pruning =
                inBlocks
                ? .magnitude(sparsity: sparsity, pattern: .blocks) : .magnitude(sparsity: sparsity, scope: .perUnit)
            return options
        }
    }

    /// Full blocks, a narrower last block (and one narrower than every vector), one row and
    /// blocks of rows with leftovers, an empty block (sparsity 1), pointwise convolutions.
    static let cases: [Case] = [
        Case(rows: 1, depth: 64, units: 64), Case(rows: 1, depth: 17, units: 33), Case(rows: 3, depth: 65, units: 7),
        Case(rows: 13, depth: 40, units: 48, sparsity: 0.5), Case(rows: 25, depth: 9, units: 17, sparsity: 0.9),
        Case(rows: 2, depth: 8, units: 16, sparsity: 1), Case(rows: 30, depth: 32, units: 80, isPointwise: true),
        Case(rows: 7, depth: 63, units: 65, sparsity: 0.8, isPointwise: true),
        // Unstructured: one unit with no nonzero, units whose nonzeros end mid-vector, a few rows.
        Case(rows: 1, depth: 640, units: 128, sparsity: 0.9, inBlocks: false),
        Case(rows: 3, depth: 640, units: 40, sparsity: 0.95, inBlocks: false),
        Case(rows: 2, depth: 300, units: 7, sparsity: 0.95, inBlocks: false),
    ]

    /// Compiles `c` for `options`' target and checks it against the reference.
    static func check(_ c: Case, options: CompileOptions = .thisMachine) throws {
        try expectCompiledMatchesReference(try c.graph(), options: c.options(options), inputRange: -2...2, c.testDescription)
    }

    @Test(arguments: cases)
    func matchesReference(_ c: Case) throws { try Self.check(c) }

    @Test(arguments: cases.filter(\.inBlocks))
    func planChoosesTheSparseKernelOnEveryLevel(_ c: Case) throws {
        let optimized = try Compiler().optimize(try c.graph(), options: c.options(.thisMachine))
        for isa in ISALevel.allCases {
            let choice = KernelPlan(graph: optimized, isa: isa).choices[0]
            guard case .sparseGEMM = choice.kernel else {
                Issue.record("\(c.testDescription) on \(isa): \(choice.name)")
                continue
            }
            #expect(choice.name.hasPrefix("f32_spgemm_\(isa.rawValue)_"))
        }
    }

    /// Unstructured sparse layers of a few rows gather their inputs on levels with a gather
    /// instruction (AVX2, AVX-512) and keep the dense kernel elsewhere.
    @Test(arguments: cases.filter { !$0.inBlocks })
    func planGathersWhereTheLevelCan(_ c: Case) throws {
        let optimized = try Compiler().optimize(try c.graph(), options: c.options(.thisMachine))
        for isa in ISALevel.allCases {
            let choice = KernelPlan(graph: optimized, isa: isa).choices[0]
            switch isa {
            case .avx512vnni, .avx512, .avx2:
                #expect(choice.kernel == .sparseGEMV(lanes: isa.laneWidth), "\(isa): \(choice.name)")
                #expect(choice.name == "f32_spmv_\(isa.rawValue)_1x\(isa.laneWidth)")
            case .sse41, .neon, .neonDotProd:
                if case .sparseGEMV = choice.kernel { Issue.record("\(isa) has no gather: \(choice.name)") }
            }
        }
    }

    /// Dense filters and filters pruned without blocks at moderate sparsity keep the dense kernel.
    @Test func denseAndUnstructuredFiltersKeepTheDenseKernel() throws {
        let graph = try Case(rows: 4, depth: 64, units: 64).graph()
        for pruning in [CompileOptions.Pruning.none, .magnitude(sparsity: 0.5)] {
            let optimized = try Compiler().optimize(graph, options: CompileOptions(target: .host, pruning: pruning))
            #expect(KernelPlan(graph: optimized, isa: .avx512).choices[0].kernel == .gemm(rowsPerBlock: 6))
        }
    }

    /// The artifact holds only what the sparse kernel reads: at 75 % block sparsity, a quarter
    /// of the dense weights plus one 4-byte position per kept block step.
    @Test func artifactStoresOnlyTheKeptWeights() throws {
        let c = Case(rows: 1, depth: 1024, units: 256)
        let optimized = try Compiler().optimize(try c.graph(), options: c.options(.thisMachine))
        let report = ModelReport(optimized, plan: KernelPlan(graph: optimized, isa: .avx2))
        let denseBytes = 4 * 1024 * 256
        let kept = denseBytes / 4
        #expect(report.layers[0].filterBytes == kept + 4 * (kept / 4 / 16) + 4 * 17)
        #expect(report.layers[0].filterSparsity == 0.75)
        #expect(report.weightByteCount == report.layers[0].filterBytes + 4 * 256)
    }
}
