import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnPasses
import Testing

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
        // At node c, a, b and c are live at once.
        #expect(graph.liveBytesLowerBound(alignment: 64) == 3 * 448)
        #expect(graph.liveBytesLowerBound(alignment: 1) == 3 * 400)
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
