import KilnIR
import KilnPasses
import KilnReference
import Testing

@testable import Kiln

/// Before/after checks for each pass, and that every pass preserves the graph's meaning.
@Suite struct PassTests {
    func resolved(_ graph: Graph) -> Graph {
        var graph = graph
        for (id, source) in graph.constants {
            if case .initializer(let initializer) = source {
                graph.constants[id] = .data(initializer.generate(shape: graph.type(of: id).shape))
            }
        }
        return graph
    }

    func randomInput(_ graph: Graph, seed: UInt64 = 7) -> [TensorData] {
        graph.inputs.map { id in
            let shape = graph.type(of: id).shape
            return WeightInitializer(scheme: .glorotUniform, seed: seed, fanIn: 1, fanOut: 1).generate(shape: shape)
        }
    }

    func outputs(_ graph: Graph, _ inputs: [TensorData]) throws -> [Float] {
        try ReferenceInterpreter(graph).run(inputs)[0].floats()
    }

    @Test func fuseBiasActivationFoldsEpilogues() throws {
        var graph = resolved(try TinyCNN.graph())
        let before = try outputs(graph, randomInput(graph))
        try FuseBiasActivationPass().run(on: &graph)
        #expect(graph.nodes.map(\.op.kindName) == ["conv2d", "max_pool2d", "reshape", "fully_connected", "softmax"])
        #expect(graph.nodes[0].op.fusedActivation == .relu)
        #expect(graph.nodes[0].inputs.count == 3)
        try graph.verify()
        #expect(try outputs(graph, randomInput(graph)) == before)
    }

    /// An int8 activation folds into its producer only when it is a clamp at the producer's own scale.
    @Test(arguments: ["relu at the same scale", "relu at another scale", "sigmoid"])
    func int8ActivationsFuseOnlyAsClampsAtTheSameScale(_ case: String) throws {
        let activation: KilnIR.Activation = `case` == "sigmoid" ? .sigmoid : .relu
        let outputQuantization: QuantizationParameters =
            switch `case` {
            case "relu at the same scale": .perTensor(scale: 0.1, zeroPoint: -128)
            case "relu at another scale": .perTensor(scale: 0.05, zeroPoint: -128)
            default: .perTensor(scale: 1.0 / 256, zeroPoint: -128)
            }
        let fuses = `case` == "relu at the same scale"
        var graph = Graph(name: "int8")
        let x = graph.addInput(name: "x", type: TensorType(.int8, [1, 4], quantization: .perTensor(scale: 0.1, zeroPoint: 0)))
        let w = graph.addConstant(
            name: "w", data: TensorData(int8: [Int8](repeating: 3, count: 8), shape: [2, 4]),
            quantization: .symmetric(scales: [0.01, 0.02], axis: 0))
        let dense = try graph.addNode(
            .fullyConnected(activation: nil), inputs: [x, w], name: "dense",
            quantization: .perTensor(scale: 0.1, zeroPoint: -128))
        graph.outputs = [
            try graph.addNode(.activation(activation), inputs: [dense], name: "act", quantization: outputQuantization)
        ]
        try FuseBiasActivationPass().run(on: &graph)
        #expect(graph.nodes.count == (fuses ? 1 : 2))
        try graph.verify()
    }

    @Test func fusionKeepsObservableIntermediates() throws {
        var graph = Graph(name: "g")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 4]))
        let w = graph.addConstant(name: "w", data: TensorData([Float](repeating: 0.5, count: 8), shape: [2, 4]))
        let y = try graph.addNode(.fullyConnected(activation: nil), inputs: [x, w], name: "fc")
        let z = try graph.addNode(.activation(.relu), inputs: [y], name: "relu")
        graph.outputs = [y, z]
        try FuseBiasActivationPass().run(on: &graph)
        #expect(graph.nodes.count == 2)
    }

    @Test func foldConstantsEvaluatesConstantSubgraphs() throws {
        var graph = Graph(name: "g")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [3]))
        let a = graph.addConstant(name: "a", data: TensorData([1, -2, 3], shape: [3]))
        let relu = try graph.addNode(.activation(.relu), inputs: [a], name: "relu")
        let sum = try graph.addNode(.add(activation: nil), inputs: [x, relu], name: "sum")
        graph.outputs = [sum]
        try FoldConstantsPass().run(on: &graph)
        #expect(graph.nodes.map(\.op.kindName) == ["add"])
        let folded = graph.constantData(graph.nodes[0].inputs[1])
        #expect(folded?.floats() == [1, 0, 3])
    }

    @Test func canonicalizeRemovesNoOpReshapesAndDeadNodes() throws {
        var graph = Graph(name: "g")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [2, 3]))
        let same = try graph.addNode(.reshape([2, 3]), inputs: [x], name: "same")
        let flat = try graph.addNode(.reshape([6]), inputs: [same], name: "flat")
        let back = try graph.addNode(.reshape([3, 2]), inputs: [flat], name: "back")
        _ = try graph.addNode(.activation(.tanh), inputs: [x], name: "dead")
        graph.outputs = [back]
        try CanonicalizePass().run(on: &graph)
        #expect(graph.nodes.count == 1)
        #expect(graph.nodes[0].op == .reshape([3, 2]))
        #expect(graph.nodes[0].inputs == graph.inputs)
    }

    /// An int8 reshape to other parameters rounds and clamps: it stays, even with its operand's
    /// shape, and a reshape after it reads its result (once dropped, an add read the unclamped input).
    @Test func canonicalizeKeepsRequantizingReshapes() throws {
        var graph = Graph(name: "g")
        let wide = QuantizationParameters.perTensor(scale: 0.05, zeroPoint: -3)
        let narrow = QuantizationParameters.perTensor(scale: 0.01, zeroPoint: 5)
        let x = graph.addInput(name: "x", type: TensorType(.int8, [16, 16], quantization: wide))
        let clamped = try graph.addNode(.reshape([16, 16]), inputs: [x], name: "clamped", quantization: narrow)
        let flat = try graph.addNode(.reshape([256]), inputs: [clamped], name: "flat", quantization: narrow)
        let bias = graph.addConstant(
            name: "bias", data: TensorData(int8: randomInt8(256, in: -60...60, seed: 3), shape: [256]),
            quantization: .perTensor(scale: 0.01, zeroPoint: 0))
        graph.outputs = [
            try graph.addNode(
                .add(activation: nil), inputs: [flat, bias], name: "sum",
                quantization: .perTensor(scale: 0.015, zeroPoint: -2))
        ]
        var canonical = graph
        try CanonicalizePass().run(on: &canonical)
        #expect(canonical.nodes.map(\.name) == ["clamped", "flat", "sum"])
        #expect(canonical.nodes[1].inputs == [canonical.nodes[0].outputs[0]])
        try expectCompiledInt8MatchesReference(graph, runs: 2, "requantizing reshapes")
    }

    @Test func quantizeWeightsInt8StoresPerChannelInt8() throws {
        var graph = resolved(try TinyCNN.graph())
        try FuseBiasActivationPass().run(on: &graph)
        let floatBytes = graph.constantByteCount
        let reference = try outputs(graph, randomInput(graph))
        let originals = graph.nodes.filter { $0.op.kindName == "fully_connected" || $0.op.kindName == "conv2d" }
            .map { graph.constantData($0.inputs[1])!.floats() }
        try QuantizeWeightsInt8Pass().run(on: &graph)
        try graph.verify()
        let filters = graph.nodes.filter { $0.op.kindName == "fully_connected" || $0.op.kindName == "conv2d" }
            .map { $0.inputs[1] }
        for (filter, original) in zip(filters, originals) {
            let type = graph.type(of: filter)
            #expect(type.dtype == .int8)
            let quantization = try #require(type.quantization)
            #expect(quantization.axis == 0 && quantization.scales.count == type.shape[0])
            // Each dequantized weight is within half a step of the original.
            let q = graph.constantData(filter)!.floats()
            let inner = q.count / type.shape[0]
            for index in q.indices {
                let scale = quantization.scales[index / inner]
                #expect(abs(q[index] * scale - original[index]) <= scale / 2 * 1.0001)
            }
        }
        #expect(graph.constantByteCount < floatBytes / 2)
        let quantized = try outputs(graph, randomInput(graph))
        for (a, b) in zip(quantized, reference) { #expect(abs(a - b) < 0.02) }
    }

    @Test func planMemoryReusesBuffersAndVerifies() throws {
        var graph = Graph(name: "chain")
        var value = graph.addInput(name: "x", type: TensorType(.float32, [1, 256]))
        for index in 0..<6 { value = try graph.addNode(.activation(.relu), inputs: [value], name: "r\(index)") }
        graph.outputs = [value]
        try PlanMemoryPass().run(on: &graph)
        let plan = try #require(graph.memoryPlan)
        // Five intermediates of 1 KiB in a chain, each written over the one before: one buffer.
        #expect(plan.arenaByteCount == 1024)
        #expect(plan.offsets.count == 5 && plan.inPlace.count == 4)
        #expect(graph.memoryPlanDiagnostics(plan).isEmpty)
        // Each in a buffer of its own, two suffice.
        var separate = graph
        try PlanMemoryPass(inPlace: false).run(on: &separate)
        #expect(separate.memoryPlan?.arenaByteCount == 2048)
        #expect(separate.memoryPlan.map(graph.memoryPlanDiagnostics)?.isEmpty == true)
    }

    @Test func standardPipelinePreservesMeaning() throws {
        let graph = resolved(try TinyCNN.graph())
        let inputs = randomInput(graph)
        let optimized = try PassPipeline.standard().run(graph)
        #expect(PassPipeline.standard().ids == ["canonicalize", "fold-constants", "fuse-bias-activation", "band-depthwise-chains", "plan-memory"])
        #expect(optimized.memoryPlan != nil)
        let expected = try outputs(graph, inputs)
        let actual = try outputs(optimized, inputs)
        for (a, b) in zip(actual, expected) { #expect(abs(a - b) <= 1e-6) }
    }
}
