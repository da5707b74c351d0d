import Foundation
import Kiln
import KilnCodegen
import KilnCompiler
import KilnIR
import KilnPasses
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The memory planner keeps the smallest arena of several placement orders, never below the
/// most bytes live at once; `kiln inspect --memory` shows the plan and `--memory-svg` draws it.
@Suite struct MemoryPlanTests {
    /// A network whose buffers' sizes and lifetimes differ: branches, a skip connection, pooling.
    static func network() throws -> Graph {
        var graph = Graph(name: "branches")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 16, 16, 4]))
        func conv(_ input: ValueID, _ channels: Int, _ name: String, seed: UInt64) throws -> ValueID {
            let inputChannels = graph.type(of: input).shape[3]
            let filter = graph.addConstant(
                name: "\(name).w",
                data: TensorData(uniformValues(channels * 9 * inputChannels, seed: seed), shape: [channels, 3, 3, inputChannels]))
            return try graph.addNode(
                .conv2D(Conv2DAttributes(padding: .same, activation: .relu)), inputs: [input, filter], name: name)
        }
        let wide = try conv(x, 32, "wide", seed: 1)
        let narrow = try conv(wide, 8, "narrow", seed: 2)
        let pooled = try graph.addNode(
            .maxPool2D(Pool2DAttributes(window: [2, 2], strides: [2, 2])), inputs: [narrow], name: "pool")
        let branch = try conv(pooled, 16, "branch", seed: 3)
        let other = try conv(pooled, 16, "other", seed: 4)
        let joined = try graph.addNode(.add(activation: nil), inputs: [branch, other], name: "join")
        let skip = try graph.addNode(
            .maxPool2D(Pool2DAttributes(window: [2, 2], strides: [2, 2])), inputs: [wide], name: "skip_pool")
        let skipNarrow = try conv(skip, 16, "skip_narrow", seed: 5)
        graph.outputs = [try graph.addNode(.add(activation: .relu), inputs: [joined, skipNarrow], name: "out")]
        return graph
    }

    @Test func theSmallestOrderWinsAndEveryOrderIsValid() throws {
        for graph in [try Self.network(), try QuantizeInt8Tests.network()] {
            let optimized = try PassPipeline.preparation().run(graph)
            let pass = PlanMemoryPass()
            let lowerBound = optimized.liveBytesLowerBound(alignment: pass.alignment)
            var arenas: [Int] = []
            for order in PlanMemoryPass.Order.allCases {
                let plan = pass.plan(optimized, order: order)
                #expect(optimized.memoryPlanDiagnostics(plan).isEmpty, "\(order)")
                #expect(plan.arenaByteCount >= lowerBound, "\(order)")
                arenas.append(plan.arenaByteCount)
            }
            var planned = optimized
            try pass.run(on: &planned)
            #expect(planned.memoryPlan?.arenaByteCount == arenas.min(), "\(arenas)")
            #expect(lowerBound > 0 && lowerBound % pass.alignment == 0)
        }
    }

    /// The lower bound is the peak of live bytes: here the wide layer's result and its two readers'.
    @Test func lowerBoundIsThePeakOfLiveBytes() throws {
        var graph = Graph(name: "chain")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 100]))
        let a = try graph.addNode(.activation(.relu), inputs: [x], name: "a")  // 400 bytes, rounds to 448
        let b = try graph.addNode(.activation(.tanh), inputs: [a], name: "b")
        let c = try graph.addNode(.add(activation: nil), inputs: [a, b], name: "c")
        graph.outputs = [try graph.addNode(.activation(.relu), inputs: [c], name: "d")]
        // At node c, a, b and c are live at once; c can be written over a, whose last reader it is.
        #expect(graph.liveBytesLowerBound(alignment: 64, inPlace: [:]) == 3 * 448)
        #expect(graph.liveBytesLowerBound(alignment: 1, inPlace: [:]) == 3 * 400)
        #expect(graph.inPlaceOperands() == [c: a])
        #expect(graph.liveBytesLowerBound(alignment: 64) == 2 * 448)
    }

    /// A convolution's result goes through a reshape, an activation and a product with a
    /// constant, each written over its operand: one buffer instead of two at every step.
    static func inPlaceChain() throws -> Graph {
        var graph = Graph(name: "in_place")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 32, 32, 8]))
        let filter = graph.addConstant(
            name: "w", data: TensorData(uniformValues(16 * 9 * 8, in: -0.3...0.3, seed: 7), shape: [16, 3, 3, 8]))
        let conv = try graph.addNode(.conv2D(Conv2DAttributes(padding: .same)), inputs: [x, filter], name: "conv")
        let flat = try graph.addNode(.reshape([1, 16384]), inputs: [conv], name: "flatten")
        let squashed = try graph.addNode(.activation(.tanh), inputs: [flat], name: "squash")
        let gains = graph.addConstant(name: "gains", data: TensorData(uniformValues(16384, seed: 8), shape: [1, 16384]))
        let scaled = try graph.addNode(.multiply(activation: nil), inputs: [squashed, gains], name: "scale")
        let weights = graph.addConstant(
            name: "fc", data: TensorData(uniformValues(10 * 16384, in: -0.05...0.05, seed: 9), shape: [10, 16384]))
        graph.outputs = [try graph.addNode(.fullyConnected(activation: nil), inputs: [scaled, weights], name: "logits")]
        return graph
    }

    @Test func resultsWrittenOverTheirOperandHalveTheArena() throws {
        let graph = try Self.inPlaceChain()
        let optimized = try Compiler().optimize(graph, options: CompileOptions())
        let plan = try #require(optimized.memoryPlan)
        let names = Dictionary(uniqueKeysWithValues: plan.inPlace.map { (optimized[$0].name, optimized[$1].name) })
        #expect(names == ["flatten": "conv", "squash": "flatten", "scale": "squash"])
        #expect(optimized.memoryPlanDiagnostics(plan).isEmpty)
        #expect(plan.arenaByteCount == 32 * 32 * 16 * 4)
        let separate = PlanMemoryPass(inPlace: false).plan(optimized, order: .largestFirst)
        #expect(separate.arenaByteCount == 2 * plan.arenaByteCount)

        // The reshape is left out; the others run with pointers that may alias.
        let kernels = KernelPlan(graph: optimized, isa: .avx512)
        let choices = Dictionary(uniqueKeysWithValues: zip(optimized.nodes.map(\.name), kernels.choices))
        #expect(choices["flatten"]?.kernel == .elided)
        #expect(choices["squash"]?.inPlace == true && choices["scale"]?.inPlace == true)
        #expect(choices["conv"]?.inPlace == false)
        try expectCompiledMatchesReference(graph, tolerance: 1e-4, "in-place chain")

        let report = try #require(MemoryReport(optimized))
        #expect(report.table.contains("in place of"), "\(report.table)")
        #expect(report.lowerBound == plan.arenaByteCount)
    }

    /// int8: an activation's table lookup, a reshape that changes no parameter (left out) and one
    /// that requantizes, and an add, written over their operands, bit-exact against the reference.
    @Test func int8ResultsWrittenOverTheirOperandStayExact() throws {
        var graph = Graph(name: "in_place_int8")
        func int8(_ scale: Float, _ zeroPoint: Int32) -> QuantizationParameters {
            .perTensor(scale: scale, zeroPoint: zeroPoint)
        }
        let x = graph.addInput(
            name: "x", type: TensorType(.int8, [1, 256], quantization: int8(0.05, -3)))
        let squashed = try graph.addNode(.activation(.tanh), inputs: [x], name: "squash", quantization: int8(1.0 / 128, 0))
        let rescaled = try graph.addNode(.reshape([1, 256]), inputs: [squashed], name: "rescale", quantization: int8(1.0 / 100, 5))
        let square = try graph.addNode(.reshape([16, 16]), inputs: [rescaled], name: "square", quantization: int8(1.0 / 100, 5))
        let bias = graph.addConstant(
            name: "bias", data: TensorData(int8: randomInt8(256, in: -60...60, seed: 3), shape: [16, 16]),
            quantization: int8(0.01, 0))
        let sum = try graph.addNode(.add(activation: nil), inputs: [square, bias], name: "sum", quantization: int8(0.015, -2))
        graph.outputs = [
            try graph.addNode(.activation(.sigmoid), inputs: [sum], name: "gate", quantization: int8(1.0 / 256, -128))
        ]
        let optimized = try Compiler().optimize(graph, options: CompileOptions())
        let plan = try #require(optimized.memoryPlan)
        #expect(plan.inPlace.count == 3, "\(plan.inPlace)")
        #expect(plan.arenaByteCount == 256)
        let kernels = KernelPlan(graph: optimized, isa: .avx512)
        let elided = zip(optimized.nodes, kernels.choices).filter { $0.1.kernel == .elided }.map(\.0.name)
        #expect(elided == ["square"])
        try expectCompiledInt8MatchesReference(graph, runs: 3, "int8 in-place chain")
    }

    @Test func reportListsEveryBufferAndDrawsThem() throws {
        let optimized = try Compiler().optimize(Self.network(), options: CompileOptions())
        let report = try #require(MemoryReport(optimized))
        let arena = try #require(optimized.memoryPlan)
        #expect(report.buffers.count == arena.offsets.count && report.arenaByteCount == arena.arenaByteCount)
        #expect(report.buffers.allSatisfy { $0.offset + $0.byteCount <= report.arenaByteCount })
        #expect(report.arenaByOrder.map(\.order) == PlanMemoryPass.Order.allCases.map(\.rawValue))
        for text in ["buffer", "offset", "live (nodes)", "wide", "arena bytes:", "lower bound:", "largest-first"] {
            #expect(report.table.contains(text), "\(text) in\n\(report.table)")
        }
        let svg = report.svg
        #expect(svg.hasPrefix("<?xml") && svg.contains("<svg") && svg.hasSuffix("</svg>\n"))
        // Well-formed XML (an XML comment may not hold "--", which the picture's once did).
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(svg.components(separatedBy: "<title>").count - 1 == report.buffers.count)
        #expect(MemoryReport(try Self.network()) == nil, "no plan before passes")
    }

    @Test func commandLineShowsAndDrawsThePlan() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = KerasModelTests.fixtures.appendingPathComponent("keras_cnn.tflite").path
        let picture = directory.appendingPathComponent("plan.svg")
        let inspect = try CommandLineTool.run(kiln, ["inspect", model, "--memory", "--memory-svg", picture.path])
        #expect(inspect.status == 0, "\(inspect.output)")
        #expect(inspect.output.contains("lower bound:") && inspect.output.contains("memory plan drawn in"), "\(inspect.output)")
        let svg = try String(contentsOf: picture, encoding: .utf8)
        #expect(svg.contains("<svg") && svg.contains("<title>"))
    }
}
