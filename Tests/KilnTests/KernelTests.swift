import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnReference
import KilnRuntime
import Testing

/// Every op's native code against the reference interpreter, element by
/// element, over shapes that hit full vectors, vector remainders (1, 3, 7,
/// 17, 63, 65 …), strides, dilations and both paddings.
@Suite struct KernelTests {
    /// A graph with one input and one node applying `op` to it and `constants`.
    static func singleOp(
        _ op: Op, input: Shape, constants: [TensorData] = [], quantization: QuantizationParameters? = nil
    ) throws -> Graph {
        var graph = Graph(name: "single")
        let x = graph.addInput(name: "x", type: TensorType(.float32, input))
        let operands = constants.enumerated().map { index, data in
            graph.addConstant(name: "c\(index)", data: data, quantization: index == 0 ? quantization : nil)
        }
        graph.outputs = [try graph.addNode(op, inputs: [x] + operands, name: "op")]
        return graph
    }

    static func weights(_ shape: Shape, seed: UInt64) -> TensorData {
        TensorData(uniformValues(shape.elementCount, in: -0.5...0.5, seed: seed), shape: shape)
    }

    static let fullyConnectedShapes: [(rows: Int, depth: Int, units: Int)] = [
        (1, 1, 1), (1, 3, 7), (1, 17, 16), (1, 64, 63), (1, 65, 65), (3, 7, 17), (2, 33, 130), (1, 640, 128),
        (6, 17, 33), (9, 64, 65),
    ]

    @Test(arguments: fullyConnectedShapes)
    func fullyConnected(rows: Int, depth: Int, units: Int) throws {
        for activation in [nil, Activation.relu] {
            let graph = try Self.singleOp(
                .fullyConnected(activation: activation), input: [rows, depth],
                constants: [Self.weights([units, depth], seed: 3), Self.weights([units], seed: 4)])
            try expectCompiledMatchesReference(graph, "fc \(rows)x\(depth)→\(units) \(activation?.rawValue ?? "")")
        }
    }

    @Test(arguments: [(1, 17, 16), (3, 7, 65), (1, 64, 63)])
    func fullyConnectedWithInt8Weights(rows: Int, depth: Int, units: Int) throws {
        let graph = try Self.singleOp(
            .fullyConnected(activation: nil), input: [rows, depth],
            constants: [Self.weights([units, depth], seed: 5), Self.weights([units], seed: 6)])
        try expectCompiledMatchesReference(
            graph, options: CompileOptions(quantization: .int8Weights), "int8 fc \(rows)x\(depth)→\(units)")
    }

    struct ConvCase: Sendable, CustomTestStringConvertible {
        var input: Shape
        var filters: Int
        var kernel: (Int, Int)
        var strides: [Int] = [1, 1]
        var dilations: [Int] = [1, 1]
        var padding: Padding
        var explicitPadding: [[Int]]? = nil
        /// Relative to the larger of an element and a tenth of the largest output.
        var tolerance: Float = 1e-5
        var testDescription: String {
            "\(input) k\(kernel) f\(filters) s\(strides) d\(dilations) \(explicitPadding.map { "\($0)" } ?? padding.rawValue)"
        }
    }

    static let convolutionCases: [ConvCase] = [
        ConvCase(input: [1, 7, 7, 1], filters: 3, kernel: (3, 3), padding: .same),
        ConvCase(input: [1, 8, 8, 3], filters: 17, kernel: (3, 3), strides: [2, 2], padding: .same),
        ConvCase(input: [1, 9, 7, 5], filters: 16, kernel: (3, 3), dilations: [2, 2], padding: .valid),
        ConvCase(input: [1, 5, 5, 2], filters: 65, kernel: (1, 1), padding: .valid),
        ConvCase(input: [2, 7, 7, 16], filters: 17, kernel: (1, 1), padding: .same),
        ConvCase(input: [2, 6, 6, 4], filters: 7, kernel: (5, 5), strides: [2, 2], padding: .same),
        ConvCase(input: [1, 1, 1, 3], filters: 4, kernel: (1, 1), padding: .valid),
        ConvCase(input: [1, 10, 4, 2], filters: 63, kernel: (3, 1), strides: [2, 1], padding: .same),
        ConvCase(input: [1, 49, 10, 1], filters: 64, kernel: (10, 4), strides: [2, 2], padding: .same),
        // Pixel blocks with rows that end mid-block, first layers, wide and narrow filter counts.
        ConvCase(input: [1, 17, 17, 3], filters: 32, kernel: (3, 3), strides: [2, 2], padding: .same),
        ConvCase(input: [1, 3, 63, 1], filters: 16, kernel: (3, 3), padding: .same),
        ConvCase(input: [1, 5, 65, 17], filters: 96, kernel: (3, 3), strides: [2, 2], padding: .valid),
        ConvCase(input: [1, 9, 9, 8], filters: 24, kernel: (3, 3), dilations: [2, 2], padding: .same),
        ConvCase(input: [1, 1, 1, 2], filters: 16, kernel: (3, 3), padding: .same),
        ConvCase(input: [1, 16, 16, 4], filters: 8, kernel: (3, 3), strides: [2, 2], padding: .valid, explicitPadding: [[1, 1], [1, 1]]),
        ConvCase(input: [1, 7, 9, 3], filters: 5, kernel: (3, 3), padding: .valid, explicitPadding: [[2, 0], [0, 1]]),
        // Winograd's F(2×2, 3×3): odd output sizes, batches, lone tiles, leftover lanes, blocks limited by the staging buffer.
        ConvCase(input: [1, 7, 9, 16], filters: 17, kernel: (3, 3), padding: .same),
        ConvCase(input: [2, 6, 6, 8], filters: 8, kernel: (3, 3), padding: .valid),
        ConvCase(input: [1, 5, 17, 24], filters: 33, kernel: (3, 3), padding: .valid, explicitPadding: [[2, 0], [0, 1]]),
        ConvCase(input: [1, 4, 4, 40], filters: 70, kernel: (3, 3), padding: .valid),
        // Sums of 1170 products whose transforms quadruple their magnitudes: float rounding grows with them.
        ConvCase(input: [1, 6, 10, 130], filters: 20, kernel: (3, 3), padding: .same, tolerance: 3e-5),
        ConvCase(input: [1, 32, 32, 16], filters: 16, kernel: (3, 3), padding: .same),
    ]

    @Test(arguments: convolutionCases)
    func convolution(_ c: ConvCase) throws { try Self.checkConvolution(c) }

    /// Checks one float convolution case compiled with `options` (the host by default).
    static func checkConvolution(_ c: ConvCase, options: CompileOptions = .thisMachine) throws {
        let attributes = Conv2DAttributes(
            strides: c.strides, dilations: c.dilations, padding: c.padding, explicitPadding: c.explicitPadding,
            activation: .relu6)
        let graph = try Self.singleOp(
            .conv2D(attributes), input: c.input,
            constants: [
                Self.weights([c.filters, c.kernel.0, c.kernel.1, c.input[3]], seed: 8), Self.weights([c.filters], seed: 9),
            ])
        try expectCompiledMatchesReference(
            graph, options: options, inputRange: -3...3, tolerance: c.tolerance, "conv \(c.testDescription)")
    }

    /// Compile options optimized for size reach the optimized graph (and its serialized form),
    /// whose 3×3 layers then run directly and still match the reference.
    @Test func sizeGoalReachesTheGraphAndItsCode() throws {
        let graph = try Self.singleOp(
            .conv2D(Conv2DAttributes(padding: .same, activation: .relu)), input: [1, 7, 9, 16],
            constants: [Self.weights([17, 3, 3, 16], seed: 12), Self.weights([17], seed: 13)])
        let options = CompileOptions(optimizingFor: .size)
        let optimized = try Compiler().optimize(graph, options: options)
        #expect(optimized.optimizationGoal == .size)
        let decoded = try JSONDecoder().decode(Graph.self, from: JSONEncoder().encode(optimized))
        #expect(decoded.optimizationGoal == .size)
        #expect(try Compiler().optimize(graph, options: CompileOptions()).optimizationGoal == .speed)
        try expectCompiledMatchesReference(graph, options: options, inputRange: -3...3, "size-optimized conv")
    }

    @Test func convolutionWithInt8Weights() throws {
        let graph = try Self.singleOp(
            .conv2D(Conv2DAttributes(padding: .same)), input: [1, 6, 6, 3],
            constants: [Self.weights([17, 3, 3, 3], seed: 10)])
        try expectCompiledMatchesReference(graph, options: CompileOptions(quantization: .int8Weights), "int8 conv")
    }

    static let poolingCases: [(input: Shape, window: Int, stride: Int, padding: Padding)] = [
        ([1, 8, 8, 1], 2, 2, .valid), ([1, 7, 7, 3], 3, 2, .same), ([1, 5, 6, 17], 2, 1, .same),
        ([2, 4, 4, 33], 3, 3, .same), ([1, 9, 9, 65], 3, 2, .valid),
    ]

    @Test(arguments: poolingCases)
    func pooling(input: Shape, window: Int, stride: Int, padding: KilnIR.Padding) throws {
        let attributes = Pool2DAttributes(window: [window, window], strides: [stride, stride], padding: padding)
        for op in [Op.maxPool2D(attributes), .averagePool2D(attributes)] {
            let graph = try Self.singleOp(op, input: input)
            try expectCompiledMatchesReference(graph, "\(op.kindName) \(input) w\(window) s\(stride) \(padding)")
        }
    }

    @Test(arguments: Activation.allCases)
    func activation(_ function: KilnIR.Activation) throws {
        for count in [1, 3, 7, 17, 63, 65, 1000] {
            let graph = try Self.singleOp(.activation(function), input: [count])
            let exact: [Activation] = [.relu, .relu6, .reluMinus1To1, .relu0To1, .abs, .negate, .sqrt, .rsqrt]
            let tolerance: Float = exact.contains(function) ? 0 : 1e-4
            try expectCompiledMatchesReference(
                graph, inputRange: -12...12, tolerance: tolerance, "\(function) ×\(count)")
        }
    }

    @Test(arguments: [(1, 1), (1, 3), (3, 17), (2, 65), (1, 1000)])
    func softmax(rows: Int, depth: Int) throws {
        let graph = try Self.singleOp(.softmax, input: [rows, depth])
        try expectCompiledMatchesReference(graph, inputRange: -20...20, tolerance: 1e-4, "softmax \(rows)x\(depth)")
    }

    static let broadcastCases: [(a: Shape, b: Shape)] = [
        ([2, 3, 17], [17]), ([4, 1], [1, 5]), ([1, 8, 8, 3], [1, 1, 1, 3]), ([65], [65]), ([3, 7], [1]),
        ([2, 1, 9], [2, 3, 1]),
    ]

    @Test(arguments: broadcastCases)
    func binaryBroadcast(a: Shape, b: Shape) throws {
        for op in [Op.add(activation: nil), .multiply(activation: .relu), .subtract(activation: nil), .subtract(activation: .relu6)] {
            var graph = Graph(name: "binary")
            let x = graph.addInput(name: "a", type: TensorType(.float32, a))
            let y = graph.addInput(name: "b", type: TensorType(.float32, b))
            graph.outputs = [try graph.addNode(op, inputs: [x, y], name: "op")]
            try expectCompiledMatchesReference(graph, "\(op.kindName) \(a) \(b)")
        }
    }

    /// Runs `graph` compiled and in the reference interpreter on `inputs`, and checks
    /// each element agrees to `tolerance` relative, NaN for NaN, infinities exactly.
    static func expectSpecialValuesMatch(
        _ graph: Graph, _ inputs: [[Float]], tolerance: Float, _ describe: (Int) -> String,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        let expected = try ReferenceInterpreter(graph).run(
            zip(graph.inputs, inputs).map { TensorData($1, shape: graph.type(of: $0).shape) })[0].floats()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Compiler().compile(graph, options: CompileOptions(), outputDirectory: directory)
        let actual = try CompiledModel(contentsOf: result.artifact).run(inputs: inputs)[0]
        for (index, (a, e)) in zip(actual, expected).enumerated() {
            // Results near the smallest normal float (1.2e-38) may flush or round to it.
            let close = a == e || (a.isNaN && e.isNaN) || abs(a - e) <= tolerance * abs(e) || abs(a - e) < 1e-37
            #expect(close, "\(describe(index)) is \(a), expected \(e)", sourceLocation: sourceLocation)
        }
    }

    /// The math functions at the edges of their domains: zeros, infinities, NaN, subnormals, overflow.
    @Test(arguments: Activation.allCases)
    func activationAtSpecialValues(_ function: KilnIR.Activation) throws {
        let specials: [Float] = [
            0, -0.0, 1, -1, .infinity, -.infinity, .nan, Float(bitPattern: 0x0001_16C2), -Float(bitPattern: 0x0001_16C2), 1e-30, 1e30, 88, 89, -87, -88, -104, 0.4999, -0.5001,
        ]
        let graph = try Self.singleOp(.activation(function), input: [specials.count])
        try Self.expectSpecialValuesMatch(graph, [specials], tolerance: 1e-6) { "\(function)(\(specials[$0]))" }
    }

    @Test(arguments: broadcastCases)
    func binaryFunctions(a: Shape, b: Shape) throws {
        for function in BinaryFunction.allCases {
            var graph = Graph(name: "binary")
            let x = graph.addInput(name: "a", type: TensorType(.float32, a))
            let y = graph.addInput(name: "b", type: TensorType(.float32, b))
            graph.outputs = [try graph.addNode(.binary(function, activation: nil), inputs: [x, y], name: "op")]
            // Positive bases, so powers stay real.
            try expectCompiledMatchesReference(graph, inputRange: 0.1...3, tolerance: 2e-6, "\(function) \(a) \(b)")
        }
    }

    /// `pow`, minimum and maximum at the values C and IEEE define specially.
    @Test func binaryFunctionsAtSpecialValues() throws {
        let pairs: [(Float, Float)] = [
            (-2, 3), (-2, 2), (-2, 0.5), (0, 2), (0, -1), (0, 0), (.nan, 0), (1, .nan), (2, -1), (-8, 1.0 / 3), (3, 40),
            (10, -50), (.infinity, 2), (0.5, 200), (.nan, 1), (1, .nan), (-.infinity, 5),
        ]
        for function in BinaryFunction.allCases {
            var graph = Graph(name: "special")
            let a = graph.addInput(name: "a", type: TensorType(.float32, [pairs.count]))
            let b = graph.addInput(name: "b", type: TensorType(.float32, [pairs.count]))
            graph.outputs = [try graph.addNode(.binary(function, activation: nil), inputs: [a, b], name: "op")]
            try Self.expectSpecialValuesMatch(graph, [pairs.map(\.0), pairs.map(\.1)], tolerance: 4e-6) {
                "\(function)\(pairs[$0])"
            }
        }
    }

    static let transposeCases: [(input: Shape, permutation: [Int])] = [
        ([1, 16, 4, 8], [0, 2, 1, 3]), ([1, 4, 16, 8], [0, 1, 3, 2]), ([3, 17], [1, 0]), ([2, 3, 65], [2, 0, 1]),
        ([2, 5, 7, 3], [3, 1, 0, 2]), ([65], [0]), ([1, 33, 1, 2], [1, 3, 0, 2]),
    ]

    @Test(arguments: transposeCases)
    func transpose(input: Shape, permutation: [Int]) throws {
        let graph = try Self.singleOp(.transpose(permutation: permutation), input: input)
        try expectCompiledMatchesReference(graph, tolerance: 0, "transpose \(input) by \(permutation)")
    }

    /// `shape` with its last two axes swapped when `adjoint`.
    static func adjusted(_ shape: Shape, _ adjoint: Bool) -> Shape {
        guard adjoint else { return shape }
        var dimensions = shape.dimensions
        dimensions.swapAt(dimensions.count - 1, dimensions.count - 2)
        return Shape(dimensions)
    }

    /// Products of `[.., M, K]` and `[.., K, N]` with broadcast batch axes, in every adjoint combination.
    static let batchMatMulCases: [(a: Shape, b: Shape, adjointA: Bool, adjointB: Bool)] = {
        let products: [(Shape, Shape)] = [
            ([1, 4, 16, 8], [1, 4, 8, 16]), ([3, 17], [17, 65]), ([2, 1, 5, 7], [3, 7, 9]), ([1, 33], [33, 1]),
            ([4, 2, 3], [1, 3, 130]),
        ]
        var cases: [(a: Shape, b: Shape, adjointA: Bool, adjointB: Bool)] = []
        for (a, b) in products {
            for adjointA in [false, true] {
                for adjointB in [false, true] {
                    cases.append((adjusted(a, adjointA), adjusted(b, adjointB), adjointA, adjointB))
                }
            }
        }
        return cases
    }()

    @Test(arguments: batchMatMulCases)
    func batchMatMul(a: Shape, b: Shape, adjointA: Bool, adjointB: Bool) throws {
        try Self.checkBatchMatMul(a: a, b: b, adjointA: adjointA, adjointB: adjointB)
    }

    /// One batch matrix product compiled with `options`, against the reference.
    static func checkBatchMatMul(a: Shape, b: Shape, adjointA: Bool, adjointB: Bool, options: CompileOptions = .thisMachine) throws {
        var graph = Graph(name: "batch_matmul")
        let x = graph.addInput(name: "a", type: TensorType(.float32, a))
        let y = graph.addInput(name: "b", type: TensorType(.float32, b))
        graph.outputs = [try graph.addNode(.batchMatMul(adjointA: adjointA, adjointB: adjointB), inputs: [x, y], name: "op")]
        try expectCompiledMatchesReference(graph, options: options, "batch matmul \(a) · \(b) adjoint \(adjointA) \(adjointB)")
    }

    static let sliceCases: [(input: Shape, begin: [Int], size: [Int])] = [
        ([1, 128], [0, 32], [1, 32]), ([49, 1, 10], [7, 0, 0], [1, 1, 10]), ([2, 5, 7, 3], [1, 2, 0, 1], [1, 3, 7, 2]),
        ([65], [1], [63]), ([3, 17], [0, 0], [3, 17]), ([4, 4], [2, 3], [2, 0]),
    ]

    /// Slices copy exactly the block they name, at every offset and row length around the vector width.
    @Test(arguments: sliceCases)
    func slice(input: Shape, begin: [Int], size: [Int]) throws {
        let graph = try Self.singleOp(.slice(begin: begin, size: size), input: input)
        try expectCompiledMatchesReference(graph, tolerance: 0, "slice \(input) from \(begin) size \(size)")
    }

    @Test func reshapeCopiesThrough() throws {
        let graph = try Self.singleOp(.reshape([3, 7, 5]), input: [1, 105])
        try expectCompiledMatchesReference(graph, tolerance: 0, "reshape")
    }
}
