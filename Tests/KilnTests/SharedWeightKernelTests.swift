import Foundation
import Kiln
import KilnCodegen
import KilnCompiler
import KilnIR
@testable import KilnPasses
import Testing

/// Layers whose weights are shared (`share-weights`): the kernels decode 4-bit indices through a
/// 16-entry table, checked against the reference interpreter on the same shared weights; the ISA
/// sweeps (``ISALevelKernelTests``) run them on every level.
@Suite struct SharedWeightKernelTests {
    /// A layer with at most `centroids` distinct weights.
    struct Case: Sendable, CustomTestStringConvertible {
        var input: Shape
        var units: Int
        var kernel = (1, 1)
        var strides = [1, 1]
        var centroids = 16
        var isFullyConnected = false
        var testDescription: String {
            isFullyConnected
                ? "fc \(input)→\(units), \(centroids) values"
                : "conv \(input) k\(kernel) s\(strides) f\(units), \(centroids) values"
        }

        /// The single-layer graph, with a fused ReLU and a bias, its filter drawn from `centroids`
        /// values (as `share-weights` leaves it, however small the layer).
        func graph() throws -> Graph {
            let depth = isFullyConnected ? input[1] : kernel.0 * kernel.1 * input[3]
            let table = uniformValues(centroids, in: -0.5...0.5, seed: 33)
            let shape: Shape = isFullyConnected ? [units, depth] : [units, kernel.0, kernel.1, input[3]]
            let filter = TensorData(
                uniformValues(shape.elementCount, in: 0...0.999, seed: 31).map { table[Int($0 * Float(centroids))] },
                shape: shape)
            let bias = KernelTests.weights([units], seed: 32)
            let op: Op =
                isFullyConnected
                ? .fullyConnected(activation: .relu)
                : .conv2D(Conv2DAttributes(strides: strides, padding: .same, activation: .relu))
            return try KernelTests.singleOp(op, input: input, constants: [filter, bias])
        }

    }

    /// Matrix products with full and partial blocks of 16 units (the last padded with index 0), one
    /// row and many, odd depths, depths decoded in several chunks on every level (1100) or some
    /// (300), 1×1, 3×3 and 5×5 convolutions with strides, their taps decoded in several passes
    /// (64 and 40 channels), and fewer values than table entries.
    static let cases: [Case] = [
        Case(input: [1, 64], units: 64, isFullyConnected: true), Case(input: [3, 17], units: 33, isFullyConnected: true),
        Case(input: [2, 40], units: 7, centroids: 4, isFullyConnected: true),
        Case(input: [1, 5, 7, 24], units: 65), Case(input: [1, 9, 9, 3], units: 17, kernel: (3, 3), strides: [2, 2]),
        Case(input: [1, 6, 6, 16], units: 40, kernel: (3, 3), centroids: 2),
        Case(input: [1, 4, 5, 300], units: 40), Case(input: [1, 2, 7, 1100], units: 20, centroids: 9),
        Case(input: [30, 201], units: 7, centroids: 4, isFullyConnected: true),
        // One row (AVX-512's word-packed kernel): a depth that ends mid-word, a last slice of one
        // unit, fewer steps than a word, a pointwise convolution of one pixel.
        Case(input: [1, 100], units: 33, centroids: 5, isFullyConnected: true),
        Case(input: [1, 5], units: 16, isFullyConnected: true), Case(input: [1, 1, 1, 40], units: 20),
        Case(input: [1, 5, 6, 64], units: 20, kernel: (3, 3)), Case(input: [2, 7, 5, 40], units: 33, kernel: (5, 5)),
    ]

    /// Compiles `c` for `options`' target and checks it against the reference.
    static func check(_ c: Case, options: CompileOptions = .thisMachine) throws {
        try expectCompiledMatchesReference(try c.graph(), options: options, inputRange: -2...2, c.testDescription)
    }

    @Test(arguments: cases)
    func matchesReference(_ c: Case) throws { try Self.check(c) }

    @Test(arguments: cases)
    func planDecodesTheCodebookOnEveryLevel(_ c: Case) throws {
        let optimized = try Compiler().optimize(try c.graph(), options: .thisMachine)
        for isa in ISALevel.allCases {
            let choice = KernelPlan(graph: optimized, isa: isa).choices[0]
            #expect(choice.sharesWeights && choice.name.hasPrefix("f32_lut16w_"), "\(c.testDescription) on \(isa): \(choice.name)")
        }
    }

    /// Layers of one row run on the word-packed kernel on AVX-512 and AVX2, whose lookups permute
    /// registers; the others, and other levels, on the tiled kernel.
    @Test(arguments: cases)
    func planPacksIndicesInWordsForOneRowWherePermutesLookUp(_ c: Case) throws {
        let optimized = try Compiler().optimize(try c.graph(), options: .thisMachine)
        let rows = c.isFullyConnected ? c.input[0] : c.input.elementCount / c.input[3]
        for isa in ISALevel.allCases {
            let choice = KernelPlan(graph: optimized, isa: isa).choices[0]
            let packsWords =
                rows == 1 && [.avx512vnni, .avx512, .avx2].contains(isa) && (c.isFullyConnected || c.kernel == (1, 1))
            #expect((choice.kernel == .codebookGEMV) == packsWords, "\(c.testDescription) on \(isa): \(choice.name)")
        }
    }

    /// With 16 shared values, a 4-bit index per weight and a 64-byte table: an eighth of float32
    /// and a little.
    @Test func artifactStoresFourBitIndices() throws {
        let graph = try KernelTests.singleOp(
            .fullyConnected(activation: nil), input: [1, 1024], constants: [KernelTests.weights([256, 1024], seed: 3)])
        let options = CompileOptions(target: .host, weightSharing: .kMeans(centroids: 16))
        let optimized = try Compiler().optimize(graph, options: options)
        // The word-packed kernel (one row; 16 or 8 units per slice) stores as many bytes as the tiled one.
        for isa in [ISALevel.avx2, .avx512, .sse41] {
            let report = ModelReport(optimized, plan: KernelPlan(graph: optimized, isa: isa))
            #expect(report.layers[0].filterBytes == 1024 * 256 / 2 + 64, "\(isa)")
            #expect(report.layers[0].distinctWeights == 16)
        }
    }

    @Test func shareWeightsKeepsZerosAndFindsTheClusters() throws {
        // Three tight clusters and the zeros of pruning.
        let weights: [Float] = [0, -1.01, -0.99, 0, 0.5, 0.52, 0.48, 2.0, 2.02, 0, 1.98, -1.0]
        let shared = ShareWeightsPass.shared(weights, centroids: 4)
        #expect(Set(shared).count == 4)
        #expect(zip(weights, shared).allSatisfy { $0 == 0 ? $1 == 0 : abs($0 - $1) <= 0.021 }, "\(shared)")
        // Few enough values already: unchanged.
        #expect(ShareWeightsPass.shared([1, 2, 1, 3], centroids: 3) == [1, 2, 1, 3])
    }

    /// Layers under ``ShareWeightsPass/minimumWeights`` weights keep theirs: little to save, much to lose.
    @Test func smallLayersKeepTheirWeights() throws {
        var graph = try KernelTests.singleOp(
            .fullyConnected(activation: nil), input: [1, 32], constants: [KernelTests.weights([31, 32], seed: 4)])
        let before = graph.constantData(graph.nodes[0].inputs[1])
        try ShareWeightsPass(centroids: 16).run(on: &graph)
        #expect(graph.constantData(graph.nodes[0].inputs[1]) == before)
    }

    @Test func shareWeightsRejectsBadCounts() throws {
        var graph = try Case(input: [1, 8], units: 4, isFullyConnected: true).graph()
        #expect(throws: DiagnosticError.self) { try ShareWeightsPass(centroids: 1).run(on: &graph) }
        #expect(throws: DiagnosticError.self) { try ShareWeightsPass(centroids: 257).run(on: &graph) }
    }
}
