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
        /// Whether each unit's largest weights lie in stretches of 31 inputs of its own (about one
        /// in five, drawn per unit), as a trained layer's do when its units favour different bands
        /// of a spectrogram: the permuting kernel then stages rows strided.
        var favoursStretches = false
        var testDescription: String {
            "\(isPointwise ? "1x1 conv" : "fc") \(rows)x\(depth)→\(units) at \(Int(sparsity * 100)) %"
                + (inBlocks ? " in blocks" : "") + (favoursStretches ? ", favouring stretches" : "")
        }

        /// The single-layer graph, with a fused ReLU and a bias.
        func graph() throws -> Graph {
            var filter = KernelTests.weights(isPointwise ? [units, 1, 1, depth] : [units, depth], seed: 21)
            if favoursStretches {
                filter = TensorData(
                    filter.floats().enumerated().map { index, value in
                        let (unit, stretch) = (index / depth, index % depth / 31)
                        return ((unit &* 2_654_435_761) ^ (stretch &* 40_503)) % 5 == 0 ? 8 * value : value
                    },
                    shape: filter.shape)
            }
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
        // The permuting kernel's edges: a row shorter than one staged chunk, one that ends a lane
        // into its last chunk, a last slice of one unit, and several rows.
        Case(rows: 1, depth: 20, units: 24, sparsity: 0.9, inBlocks: false),
        Case(rows: 4, depth: 63, units: 17, sparsity: 0.9, inBlocks: false),
        Case(rows: 1, depth: 128, units: 640, sparsity: 0.9, inBlocks: false),
        // A full group of 64 reordered units, then a last group of 36 (slices of 16, 16 and 4).
        Case(rows: 2, depth: 200, units: 100, sparsity: 0.85, inBlocks: false),
        // Rows staged strided: a last chunk of 20 inputs (640 = 20 · 31 + 20), several rows.
        Case(rows: 1, depth: 640, units: 128, sparsity: 0.9, inBlocks: false, favoursStretches: true),
        Case(rows: 3, depth: 300, units: 40, sparsity: 0.9, inBlocks: false, favoursStretches: true),
    ]

    /// A float convolution pruned in blocks of 16 output channels.
    struct ConvolutionCase: Sendable, CustomTestStringConvertible {
        var conv: KernelTests.ConvCase
        var sparsity = 0.75
        var testDescription: String { "conv \(conv.testDescription) at \(Int(sparsity * 100)) % in blocks" }
    }

    /// Interior blocks and border blocks (same, valid, explicit and dilated padding), strides,
    /// 5×5 windows, a narrower last block of channels, a batch, and a window mostly in the padding.
    static let convolutionCases: [ConvolutionCase] = [
        ConvolutionCase(conv: .init(input: [1, 32, 32, 16], filters: 16, kernel: (3, 3), padding: .same)),
        ConvolutionCase(conv: .init(input: [1, 9, 7, 5], filters: 20, kernel: (3, 3), dilations: [2, 2], padding: .valid), sparsity: 0.6),
        ConvolutionCase(conv: .init(input: [1, 17, 17, 3], filters: 33, kernel: (3, 3), strides: [2, 2], padding: .same)),
        ConvolutionCase(conv: .init(input: [2, 6, 6, 8], filters: 7, kernel: (5, 5), strides: [2, 2], padding: .same), sparsity: 0.5),
        ConvolutionCase(
            conv: .init(input: [1, 7, 9, 3], filters: 16, kernel: (3, 3), padding: .valid, explicitPadding: [[2, 0], [0, 1]]),
            sparsity: 0.9),
        ConvolutionCase(conv: .init(input: [1, 1, 1, 2], filters: 16, kernel: (3, 3), padding: .same)),
    ]

    /// Compiles `c` for `options`' target, pruned in blocks, and checks it against the reference.
    static func checkConvolution(_ c: ConvolutionCase, options: CompileOptions = .thisMachine) throws {
        var pruned = options
        pruned.pruning = .magnitude(sparsity: c.sparsity, pattern: .blocks)
        try KernelTests.checkConvolution(c.conv, options: pruned)
    }

    @Test(arguments: convolutionCases)
    func convolutionMatchesReference(_ c: ConvolutionCase) throws { try Self.checkConvolution(c) }

    /// A residual add fused into a block-sparse layer (convolution, pointwise, fully connected)
    /// reads its operand as the dense layers' epilogue does.
    @Test(arguments: [ResidualAddFusionTests.Layer.convolution, .pointwise, .fullyConnected])
    func fusedResidualAddMatchesReference(_ layer: ResidualAddFusionTests.Layer) throws {
        var options = CompileOptions.thisMachine
        options.pruning = .magnitude(sparsity: 0.75, pattern: .blocks)
        try ResidualAddFusionTests.check(ResidualAddFusionTests.Case(layer: layer, int8: false), options: options)
    }

    /// Block-pruned convolutions multiply only their kept steps on every level; below half the
    /// steps kept they also win over Winograd's kernel, above it Winograd's stays.
    @Test func planChoosesTheSparseConvolutionOnEveryLevel() throws {
        let filter = KernelTests.weights([16, 3, 3, 16], seed: 31)
        let graph = try KernelTests.singleOp(
            .conv2D(Conv2DAttributes(padding: .same, activation: .relu)), input: [1, 12, 12, 16],
            constants: [filter, KernelTests.weights([16], seed: 32)])
        for (sparsity, sparse) in [(0.75, true), (0.3, false)] {
            var options = CompileOptions.thisMachine
            options.pruning = .magnitude(sparsity: sparsity, pattern: .blocks)
            let optimized = try Compiler().optimize(graph, options: options)
            for isa in ISALevel.allCases {
                let choice = KernelPlan(graph: optimized, isa: isa).choices[0]
                if sparse {
                    guard case .sparseConv = choice.kernel else { Issue.record("\(isa): \(choice.name)"); continue }
                    #expect(choice.name.hasPrefix("f32_spconv3x3s1_\(isa.rawValue)_"), "\(choice.name)")
                } else {
                    guard case .winograd = choice.kernel else { Issue.record("\(isa) at \(sparsity): \(choice.name)"); continue }
                }
            }
        }
    }

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

    /// Unstructured sparse layers of a few rows pick their inputs by permutes on AVX-512, gather
    /// them on AVX2 (where few enough lanes are padded), and keep the dense kernel elsewhere.
    @Test(arguments: cases.filter { !$0.inBlocks && $0.depth >= 128 })
    func planPicksOrGathersWhereTheLevelCan(_ c: Case) throws {
        let optimized = try Compiler().optimize(try c.graph(), options: c.options(.thisMachine))
        for isa in ISALevel.allCases {
            let choice = KernelPlan(graph: optimized, isa: isa).choices[0]
            switch isa {
            case .avx512vnni, .avx512:
                #expect(choice.kernel == .sparseGEMVPermuted, "\(isa): \(choice.name)")
                let op = c.favoursStretches ? "spmv_perm32_strided" : "spmv_perm32"
                #expect(choice.name == "f32_\(op)_\(isa.rawValue)_1x16")
            case .avx2:
                guard !c.favoursStretches else { continue }
                // The gather needs a fill of at most a tenth: not at 85 %, nor where each unit keeps 13 of 128 inputs.
                guard c.sparsity >= 0.9, c.units < 640 else { continue }
                #expect(choice.kernel == .sparseGEMV(lanes: isa.laneWidth), "\(isa): \(choice.name)")
                #expect(choice.name == "f32_spmv_\(isa.rawValue)_1x\(isa.laneWidth)")
            case .sse41, .neon, .neonDotProd:
                switch choice.kernel {
                case .sparseGEMV, .sparseGEMVPermuted: Issue.record("\(isa) has no gather or permute: \(choice.name)")
                default: break
                }
            }
        }
    }

    /// A NaN input reaches exactly the units that kept a weight for it: pruning removed the other
    /// connections, and neither sparse kernel reads an input for a unit that has no weight there.
    @Test(.enabled(if: X86Level.avx512.isSupported, X86Level.avx512.skipReason), arguments: [false, true])
    func nanInputReachesOnlyConnectedUnitsWhenPermuting(strided: Bool) throws {
        try Self.checkNaNIsolation(X86Level.avx512.options, favoursStretches: strided)
    }

    /// ``nanInputReachesOnlyConnectedUnitsWhenPermuting()`` for the gathering kernel (AVX2).
    @Test(.enabled(if: X86Level.avx2.isSupported, X86Level.avx2.skipReason))
    func nanInputReachesOnlyConnectedUnitsWhenGathering() throws { try Self.checkNaNIsolation(X86Level.avx2.options) }

    static func checkNaNIsolation(_ target: CompileOptions, favoursStretches: Bool = false) throws {
        let c = Case(rows: 1, depth: 100, units: 40, sparsity: 0.95, inBlocks: false, favoursStretches: favoursStretches)
        let options = c.options(target)
        let graph = try c.graph()
        let optimized = try Compiler().optimize(graph, options: options)
        let filter = try #require(optimized.constantData(optimized.nodes[0].inputs[1])).floats()
        // An input some unit kept.
        let position = try #require((30..<c.depth).first { p in (0..<c.units).contains { filter[$0 * c.depth + p] != 0 } })
        var input = uniformValues(c.depth, in: -2...2, seed: 5)
        input[position] = .nan
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = try NativeRunner(graph, options: options, directory: directory).run(
            [TensorData(input, shape: [1, c.depth])], outputByteCounts: [4 * c.units])[0]
        let values = TensorData(dtype: .float32, shape: [1, c.units], bytes: output).floats()
        #expect(filter.contains(0) && (0..<c.units).contains { filter[$0 * c.depth + position] != 0 })
        for unit in 0..<c.units {
            let connected = filter[unit * c.depth + position] != 0
            // ReLU keeps NaN.
            #expect(values[unit].isNaN == connected, "unit \(unit): \(values[unit])")
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
