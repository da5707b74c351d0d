import Kiln
import KilnIR
import Testing

/// A ResNet-style block in builder style.
struct ResidualBlockBuilder: Model {
    var body: some Layer {
        Input(shape: [1, 8, 8, 16])
        Residual(activation: .relu) {
            Conv2D(16, kernel: 3, padding: .same, activation: .relu)
            Conv2D(16, kernel: 3, padding: .same)
        }
    }
}

/// The same block in functional style.
struct ResidualBlockFunctional: Model {
    var body: some Layer {
        Input(shape: [1, 8, 8, 16])
        Functional { x in
            let y = x.applying(Conv2D(16, kernel: 3, padding: .same, activation: .relu))
                .applying(Conv2D(16, kernel: 3, padding: .same))
            return add(x, y, activation: .relu)
        }
    }
}

/// A MobileNetV2 inverted-residual block: expand, depthwise, project, add.
struct InvertedResidual: Model {
    var body: some Layer {
        Input(shape: [1, 10, 10, 8])
        Residual {
            Conv2D(48, kernel: 1, activation: .relu6)
            DepthwiseConv2D(kernel: 3, padding: .same, activation: .relu6)
            Conv2D(8, kernel: 1)
        }
        Mean(axes: [1, 2])
        Dense(5)
        Softmax()
    }
}

/// An Inception-style block: parallel branches joined on the channel axis.
struct ParallelBranches: Model {
    var body: some Layer {
        Input(shape: [1, 9, 9, 4])
        Branches(merge: .concatenate()) {
            Conv2D(6, kernel: 1, activation: .relu)
            Sequential {
                Conv2D(4, kernel: 1, activation: .relu)
                Conv2D(6, kernel: 3, padding: .same, activation: .relu)
            }
            Sequential {
                MaxPool2D(3, strides: 1, padding: .same)
                Conv2D(3, kernel: 1)
            }
        }
        Pad([[0, 0], [1, 1], [1, 1], [0, 0]])
        DepthwiseConv2D(kernel: 3, strides: 2, depthMultiplier: 2, activation: .relu)
        Flatten()
        Dense(3)
    }
}

@Suite struct BranchingTests {
    /// The graph's structure without names or locations: ops, operand wiring and types.
    func structure(_ graph: Graph) -> [String] {
        graph.nodes.map { node in
            let operands = node.inputs.map { graph.isConstant($0) ? "const\(graph.type(of: $0).shape)" : "\($0)" }
            return "\(node.op) \(operands) -> \(graph.type(of: node.outputs[0]))"
        }
    }

    @Test func builderAndFunctionalStylesProduceTheSameGraph() throws {
        let builder = try ResidualBlockBuilder.graph()
        let functional = try FunctionalBlockCanonical.canonical(ResidualBlockFunctional.graph())
        #expect(structure(FunctionalBlockCanonical.canonical(builder)) == structure(functional))
        #expect(builder.nodes.last?.op == .add(activation: .relu))
        #expect(builder.nodes.last?.inputs.first == builder.inputs.first)
    }

    @Test(arguments: ["ResidualBlockBuilder", "ResidualBlockFunctional", "InvertedResidual", "ParallelBranches"])
    func branchingModelsCompileAndMatchTheReference(name: String) throws {
        let graphs: [String: Graph] = [
            "ResidualBlockBuilder": try ResidualBlockBuilder.graph(),
            "ResidualBlockFunctional": try ResidualBlockFunctional.graph(),
            "InvertedResidual": try InvertedResidual.graph(),
            "ParallelBranches": try ParallelBranches.graph(),
        ]
        let graph = try #require(graphs[name])
        try expectCompiledMatchesReference(graph, tolerance: 1e-5, name)
    }

    @Test func parallelBranchesConcatenateOnChannels() throws {
        let graph = try ParallelBranches.graph()
        let join = try #require(graph.nodes.first { $0.op.kindName == "concatenation" })
        #expect(join.inputs.count == 3)
        #expect(graph.type(of: join.outputs[0]).shape == [1, 9, 9, 15])
    }

    @Test func mismatchedBranchesAreDiagnosedAtTheBlock() {
        struct Mismatch: Model {
            var body: some Layer {
                Input(shape: [1, 4, 4, 2])
                Residual {
                    Conv2D(3, kernel: 1)
                }
            }
        }
        let result = Mismatch.trace()
        #expect(result.diagnostics.first?.message.contains("do not broadcast") == true)
        #expect(result.diagnostics.first?.location?.file.hasSuffix("BranchingTests.swift") == true)
    }
}

/// Brings both styles to the fused form the compiler sees, so they compare node for node.
enum FunctionalBlockCanonical {
    static func canonical(_ graph: Graph) -> Graph {
        var graph = graph
        try? KilnPassesBridge.fuse(&graph)
        return graph
    }
}
