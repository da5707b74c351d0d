import Foundation
import Kiln
import KilnCodegen
import KilnCompiler
import KilnIR
import KilnRuntime
import Testing

/// Expansion, depthwise and projection layers run band by band (``BandedChain``) give the
/// reference's results, the same bytes as the layers run one after the other, and the same bytes
/// on any number of threads; their intermediates take only the bands' slots of the arena.
@Suite struct BandedChainTests {
    /// One inverted residual block: `x → [1×1 expand, relu6] → depthwise → 1×1 project [+ x]`.
    struct Case: Sendable, CustomTestStringConvertible {
        var rows: Int
        var columns: Int
        var inputChannels: Int
        /// Channels of the expansion; `nil`: the depthwise layer reads the model's input.
        var expanded: Int?
        var outputChannels: Int
        var stride = 1
        var padding: Padding = .same
        var dilation = 1
        /// Whether the projection's result is added to `x` (stride 1, as many channels).
        var residual = false

        var testDescription: String {
            "\(rows)x\(columns)x\(inputChannels)\(expanded.map { "→\($0)" } ?? "")→\(outputChannels) s\(stride)"
                + " \(padding)\(dilation > 1 ? " d\(dilation)" : "")\(residual ? " +x" : "")"
        }

        /// Channels of the depthwise layer.
        var depthwiseChannels: Int { expanded ?? inputChannels }
    }

    /// Odd sizes, both paddings, both strides, dilation, no expansion, a single row, channels that
    /// fill no vector; all with every chain forced into bands.
    static let cases: [Case] = [
        Case(rows: 17, columns: 17, inputChannels: 8, expanded: 48, outputChannels: 8, residual: true),
        Case(rows: 16, columns: 15, inputChannels: 16, expanded: 40, outputChannels: 24, stride: 2),
        Case(rows: 7, columns: 9, inputChannels: 4, expanded: 33, outputChannels: 5, padding: .valid),
        Case(rows: 12, columns: 13, inputChannels: 32, expanded: nil, outputChannels: 16, stride: 2),
        Case(rows: 11, columns: 10, inputChannels: 8, expanded: 32, outputChannels: 8, dilation: 2, residual: true),
        Case(rows: 1, columns: 3, inputChannels: 3, expanded: 16, outputChannels: 3),
        Case(rows: 65, columns: 3, inputChannels: 2, expanded: 17, outputChannels: 4, stride: 2),
    ]

    /// Rows of 128 KB and more: a slot holds one band of one or two rows, so bands move the rows
    /// they share to the window's start.
    static let wideCases: [Case] = [
        Case(rows: 24, columns: 64, inputChannels: 8, expanded: 512, outputChannels: 8, residual: true),
        Case(rows: 23, columns: 63, inputChannels: 8, expanded: 520, outputChannels: 16, stride: 2),
    ]

    static func graph(_ c: Case) throws -> Graph {
        var graph = Graph(name: "block")
        var seed: UInt64 = 70
        func constant(_ shape: Shape, scale: Float = 0.5) -> ValueID {
            seed += 1
            return graph.addConstant(
                name: "c\(seed)", data: TensorData(uniformValues(shape.elementCount, in: -scale...scale, seed: seed), shape: shape))
        }
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, c.rows, c.columns, c.inputChannels]))
        var features = x
        if let expanded = c.expanded {
            features = try graph.addNode(
                .conv2D(Conv2DAttributes(padding: .valid, activation: .relu6)),
                inputs: [x, constant([expanded, 1, 1, c.inputChannels]), constant([expanded])], name: "expand")
        }
        let channels = c.depthwiseChannels
        let depthwise = try graph.addNode(
            .depthwiseConv2D(
                Conv2DAttributes(
                    strides: [c.stride, c.stride], dilations: [c.dilation, c.dilation], padding: c.padding, activation: .relu6)),
            inputs: [features, constant([1, 3, 3, channels]), constant([channels])], name: "depthwise")
        let project = try graph.addNode(
            .conv2D(Conv2DAttributes(padding: .valid)),
            inputs: [depthwise, constant([c.outputChannels, 1, 1, channels], scale: 0.2), constant([c.outputChannels])],
            name: "project")
        graph.outputs = [c.residual ? try graph.addNode(.add(activation: nil), inputs: [project, x], name: "add") : project]
        return graph
    }

    /// A compiler that runs every chain in bands, or none.
    static func compiler(banded: Bool) -> Compiler {
        var compiler = Compiler()
        compiler.bandingMinimumBytes = banded ? 0 : .max
        return compiler
    }

    /// Checks `c` compiled for `options`: one chain, the reference's outputs, and the bytes of
    /// the same layers run whole.
    static func check(_ c: Case, options: CompileOptions = .thisMachine) throws {
        let graph = try graph(c)
        let banded = compiler(banded: true)
        let optimized = try banded.optimize(graph, options: options)
        #expect(optimized.bandedChains.count == 1, "\(optimized.bandedChains)")
        #expect(optimized.bandedChains.first?.expand == (c.expanded == nil ? nil : 0))
        try expectCompiledMatchesReference(graph, options: options, compiler: banded, "banded \(c.testDescription)")

        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = TensorData(uniformValues(graph.type(of: graph.inputs[0]).elementCount, seed: 5), shape: graph.type(of: graph.inputs[0]).shape)
        let outputBytes = [graph.type(of: graph.outputs[0]).byteCount]
        let run = { (compiler: Compiler, name: String) throws -> [UInt8] in
            let folder = directory.appendingPathComponent(name)
            return try NativeRunner(graph, options: options, directory: folder, compiler: compiler).run(
                [input], outputByteCounts: outputBytes)[0]
        }
        let whole = try run(compiler(banded: false), "whole")
        let bands = try run(banded, "banded")
        #expect(bands == whole, "banded and whole layers differ")
    }

    @Test(arguments: cases + wideCases)
    func bandsMatchTheReferenceAndTheWholeLayers(_ c: Case) throws { try Self.check(c) }

    /// Checks `c` quantized to int8 (from calibration samples) and compiled for `options`: one
    /// chain, and the bytes of the same layers run whole.
    static func checkInt8(_ c: Case, options: CompileOptions = .thisMachine) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let graph = try graph(c)
        let shape = graph.type(of: graph.inputs[0]).shape
        let calibration = try QuantizeInt8Tests.writeCalibration(to: directory, shape: shape, count: 4)
        var options = options
        options.quantization = .int8(calibration: .npy(calibration.path))
        #expect(try compiler(banded: true).optimize(graph, options: options).bandedChains.count == 1)
        let input = TensorData(uniformValues(shape.elementCount, seed: 7), shape: shape)
        let outputBytes = [graph.type(of: graph.outputs[0]).byteCount]
        let run = { (compiler: Compiler, name: String) throws -> [UInt8] in
            try NativeRunner(graph, options: options, directory: directory.appendingPathComponent(name), compiler: compiler)
                .run([input], outputByteCounts: outputBytes)[0]
        }
        #expect(try run(compiler(banded: true), "banded") == run(compiler(banded: false), "whole"))
    }

    /// The pieces of a chain go to threads; every thread count gives the serial run's bytes.
    @Test(arguments: [wideCases[0], wideCases[1], cases[0]])
    func everyThreadCountGivesTheSameBytes(_ c: Case) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let graph = try Self.graph(c)
        let result = try Self.compiler(banded: true).compile(graph, options: .thisMachine, outputDirectory: directory)
        let chain = try #require(result.graph.bandedChains.first)
        #expect(KernelPlan.isParallel(chain, in: result.graph))
        #expect(result.metadata.parallelEntryPoint != nil)
        let input = uniformValues(graph.type(of: graph.inputs[0]).elementCount, seed: 6)
        let expected = try CompiledModel(contentsOf: result.artifact, threads: 1).run(inputs: [input])[0]
        for threads in [2, 3, 4] {
            let model = try CompiledModel(contentsOf: result.artifact, threads: threads)
            for _ in 0..<3 {
                let output = try model.run(inputs: [input])[0]
                #expect(output.map(\.bitPattern) == expected.map(\.bitPattern), "\(threads) threads")
            }
        }
    }

    /// int8 blocks (quantized from calibration samples) run in bands give the whole layers' bytes
    /// on any number of threads.
    @Test(arguments: [cases[0], cases[1], cases[3], wideCases[1]])
    func int8BandsGiveTheWholeLayersBytes(_ c: Case) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let graph = try Self.graph(c)
        let shape = graph.type(of: graph.inputs[0]).shape
        let calibration = try QuantizeInt8Tests.writeCalibration(to: directory, shape: shape, count: 4)
        let options = CompileOptions(target: .host, quantization: .int8(calibration: .npy(calibration.path)))
        let banded = try Self.compiler(banded: true).compile(
            graph, options: options, outputDirectory: directory.appendingPathComponent("banded"))
        let whole = try Self.compiler(banded: false).compile(
            graph, options: options, outputDirectory: directory.appendingPathComponent("whole"))
        #expect(banded.graph.bandedChains.count == 1 && whole.graph.bandedChains.isEmpty)
        let input = uniformValues(shape.elementCount, seed: 7)
        let expected = try CompiledModel(contentsOf: whole.artifact).run(inputs: [input])[0]
        for threads in [1, 2, 3] {
            let output = try CompiledModel(contentsOf: banded.artifact, threads: threads).run(inputs: [input])[0]
            #expect(output.map(\.bitPattern) == expected.map(\.bitPattern), "\(threads) threads")
        }
    }

    /// A MobileNetV2-sized block is banded by default; its intermediates take a few rows of
    /// slots, the arena shrinks, and the plan names the bands.
    @Test func wideIntermediatesAreBandedByDefault() throws {
        let c = Case(rows: 56, columns: 56, inputChannels: 24, expanded: 144, outputChannels: 24, residual: true)
        let graph = try Self.graph(c)
        let banded = try Compiler().optimize(graph, options: .thisMachine)
        let whole = try Self.compiler(banded: false).optimize(graph, options: .thisMachine)
        let chain = try #require(banded.bandedChains.first)
        #expect(banded.bandedChains.count == 1 && whole.bandedChains.isEmpty)
        #expect(chain.expand == 0 && chain.depthwise == 1 && chain.project == 2 && chain.slots == 4)
        let geometry = try #require(banded.bandGeometry(chain))
        let expanded = banded.nodes[0].outputs[0]
        #expect(banded.storageByteCount(of: expanded) == 4 * geometry.windowBytes(bandRows: chain.bandRows))
        #expect(banded.storageByteCount(of: expanded) <= banded.type(of: expanded).byteCount / 2)
        try banded.verify()
        let bandedArena = try #require(banded.memoryPlan?.arenaByteCount)
        let wholeArena = try #require(whole.memoryPlan?.arenaByteCount)
        #expect(bandedArena * 5 < wholeArena * 3, "\(bandedArena) vs \(wholeArena)")
        let plan = KernelPlan(graph: banded, isa: .avx2)
        #expect(plan.choices[0].band == chain && plan.choices[2].band == chain)
        let report = ModelReport(banded, plan: plan)
        #expect(report.layers.prefix(3).allSatisfy { $0.kernel?.contains(" band\(chain.bandRows)∥4") == true }, "\(report.layers.map(\.kernel))")
    }

    /// A delegate reads whole tensors: a model compiled with one keeps its intermediates whole.
    @Test func delegatedModelsKeepWholeIntermediates() throws {
        let graph = try Self.graph(Case(rows: 56, columns: 56, inputChannels: 24, expanded: 144, outputChannels: 24))
        let options = CompileOptions(target: .host, delegates: [.openCL()])
        #expect(try Compiler().optimize(graph, options: options).bandedChains.isEmpty)
    }

    /// A chain whose layers no longer form one is reported, not run.
    @Test func verifierRejectsABrokenChain() throws {
        var graph = try Self.compiler(banded: true).optimize(
            try Self.graph(Case(rows: 9, columns: 9, inputChannels: 4, expanded: 16, outputChannels: 4)), options: .thisMachine)
        graph.bandedChains[0].project = 0
        #expect(graph.bandedChainDiagnostics().count == 1)
        #expect(throws: DiagnosticError.self) { try graph.verify() }
    }
}
