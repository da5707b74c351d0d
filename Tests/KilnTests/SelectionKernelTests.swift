import Foundation
import Kiln
import KilnCompiler
import KilnFuzzing
import KilnIR
import KilnImport
import KilnReference
import KilnRuntime
import Testing

/// Reductions, arg-reductions, resizing and gathering: native code against the
/// reference interpreter over shape sweeps, float32 and int8 bit for bit.
@Suite struct SelectionKernelTests {
    /// One op on one input shape, run on float32 or int8 data.
    struct Case: Sendable, CustomTestStringConvertible {
        var op: Op
        var input: Shape
        var isQuantized: Bool
        /// Constant int32 indices for a gather.
        var indices: [Int32]? = nil
        var testDescription: String { "\(isQuantized ? "int8 " : "")\(op.kindName) \(input)\(indices.map { " at \($0)" } ?? "")" }
    }

    static let reductionCases: [Case] = {
        let shapes: [(Shape, [Int])] = [
            ([1, 8, 12, 6], [1, 2]), ([1, 8, 12, 6], [-1]), ([3, 17], [0]), ([2, 5, 65], [1]), ([1, 7, 7, 33], [1, 2, 3]),
        ]
        var cases: [Case] = []
        for (shape, axes) in shapes {
            for function in ReduceFunction.allCases {
                for isQuantized in [false, true] {
                    cases.append(Case(op: .reduce(function, axes: axes, keepDimensions: axes.count == 1), input: shape, isQuantized: isQuantized))
                }
            }
        }
        return cases
    }()

    static let argumentCases: [Case] = [Shape([1, 8, 12, 6]), [3, 17], [2, 65, 3], [1, 1000]].flatMap { shape in
        [0, shape.rank - 1].flatMap { axis in
            [Extremum.maximum, .minimum].flatMap { extremum in
                [false, true].map {
                    Case(op: .argExtremum(extremum, axis: axis, keepDimensions: axis == 0), input: shape, isQuantized: $0)
                }
            }
        }
    }

    static let resizeCases: [Case] = {
        let sizes: [(Shape, [Int])] = [
            ([1, 8, 8, 3], [16, 16]), ([1, 12, 12, 17], [24, 24]), ([2, 5, 7, 16], [9, 3]), ([1, 16, 16, 65], [6, 11]),
            ([1, 1, 1, 4], [3, 3]), ([1, 3, 4, 1], [1, 1]),
        ]
        let modes: [(ResizeMethod, ResizeCoordinates, NearestRounding)] = [
            (.bilinear, .halfPixel, .floor), (.bilinear, .alignCorners, .floor), (.bilinear, .asymmetric, .floor),
            (.bilinear, .pytorchHalfPixel, .floor), (.nearest, .asymmetric, .floor), (.nearest, .tfHalfPixelForNearest, .floor),
            (.nearest, .alignCorners, .roundPreferCeil), (.nearest, .halfPixel, .roundPreferFloor), (.nearest, .halfPixel, .ceil),
        ]
        var cases: [Case] = []
        for (shape, size) in sizes {
            for (method, coordinates, rounding) in modes {
                let attributes = ResizeAttributes(size: size, method: method, coordinates: coordinates, rounding: rounding)
                cases += [false, true].map { Case(op: .resize(attributes), input: shape, isQuantized: $0) }
            }
            // Bicubic: PyTorch's kernel and coordinates; TensorFlow's kernel without the outside taps.
            for (coordinates, cubic) in [
                (ResizeCoordinates.pytorchHalfPixel, ResizeAttributes.CubicKernel()),
                (.asymmetric, ResizeAttributes.CubicKernel(coefficient: -0.5, excludesOutside: true)),
            ] {
                let attributes = ResizeAttributes(size: size, method: .bicubic, coordinates: coordinates, cubic: cubic)
                cases += [false, true].map { Case(op: .resize(attributes), input: shape, isQuantized: $0) }
            }
        }
        return cases
    }()

    static let gatherCases: [Case] = [
        (Shape([50, 16]), 0, [Int32]([3, 0, 49, 7, 7])), ([1, 16, 16], 1, [0, 2, 4, 6, 8, 10, 12, 14]),
        ([2, 9, 65], 2, [64, 0, 1, 63, 65, -1]), ([4, 3], 1, [2]), ([3, 5, 7], 0, [1, 5, -4, 2]),
    ].flatMap { shape, axis, indices in
        [false, true].map { Case(op: .gather(axis: axis), input: shape, isQuantized: $0, indices: indices) }
    }

    /// The cases the ISA-level suites run: one shape per op whose channel runs need a vector remainder.
    static let isaCases: [Case] =
        resizeCases.filter { $0.input == [1, 12, 12, 17] && [0, 4, 9].contains(resizeModeIndex($0)) }
        + gatherCases.filter { $0.input == [2, 9, 65] }
        + reductionCases.filter { c in
            guard case .reduce(let function, _, _) = c.op else { return false }
            return c.input == [2, 5, 65] && (function == .sum || function == .maximum)
        }
        + argumentCases.filter { $0.input == [2, 65, 3] } + castCases + meanCases

    /// Means that keep the channels (a global average pool), summed a vector of channels at a time:
    /// a whole vector and a remainder on every level.
    static let meanCases = [false, true].map { Case(op: .mean(axes: [1, 2], keepDimensions: true), input: [1, 5, 3, 35], isQuantized: $0) }

    static let castCases = [Shape([3, 17]), [65], [1, 7, 7, 33]].map { Case(op: .cast(to: .int32), input: $0, isQuantized: false) }

    /// The position of a resize case's method and coordinates in the sweep's list of modes (0 bilinear half-pixel,
    /// 4 nearest asymmetric, 9 bicubic PyTorch-style).
    static func resizeModeIndex(_ c: Case) -> Int {
        guard case .resize(let attributes) = c.op else { return -1 }
        switch (attributes.method, attributes.coordinates) {
        case (.bilinear, .halfPixel): return 0
        case (.nearest, .asymmetric): return 4
        case (.bicubic, .pytorchHalfPixel): return 9
        default: return -1
        }
    }

    /// A graph applying the case's op to an input of the case's type.
    static func graph(_ c: Case) throws -> Graph {
        var graph = Graph(name: "selection")
        let quantization: QuantizationParameters? = c.isQuantized ? .perTensor(scale: 0.05, zeroPoint: -3) : nil
        let x = graph.addInput(name: "x", type: TensorType(c.isQuantized ? .int8 : .float32, c.input, quantization: quantization))
        var inputs = [x]
        if let indices = c.indices {
            inputs.append(graph.addConstant(name: "indices", data: TensorData(int32: indices, shape: [indices.count])))
        }
        var output = quantization
        if c.isQuantized, case .reduce(let function, _, _) = c.op, function == .sum || function == .product {
            // Sums over many steps need a wider scale; products of values near ±6 a scale that leaves room.
            output = .perTensor(scale: function == .sum ? 0.4 : 0.5, zeroPoint: 5)
        } else if c.isQuantized, case .resize = c.op {
            output = .perTensor(scale: 0.04, zeroPoint: 2)
        }
        if case .argExtremum = c.op { output = nil }
        graph.outputs = [try graph.addNode(c.op, inputs: inputs, name: "op", quantization: output)]
        return graph
    }

    /// Compiles the case for the target of `options` and compares it with the reference, bit for bit.
    static func check(_ c: Case, options: CompileOptions = .thisMachine) throws {
        let graph = try graph(c)
        var inputs = randomInputs(graph, seed: 7, floatRange: -2...2)
        if case .reduce(.product, _, _) = c.op, !c.isQuantized {
            // Factors near 1, so products of a hundred stay finite and meaningful.
            inputs = [TensorData(uniformValues(c.input.elementCount, in: 0.8...1.25, seed: 7), shape: c.input)]
        }
        if case .argExtremum = c.op, !c.isQuantized, c.input.elementCount > 8 {
            // Ties and NaN: the first position must win both.
            var values = inputs[0].floats()
            values[3] = values[1]
            values[c.input.elementCount / 2] = .nan
            inputs = [TensorData(values, shape: c.input)]
        }
        try expectCompiledInt8MatchesReference(
            graph, options: options, inputs: inputs, expectSpread: !isFlat(c), c.testDescription)
    }

    /// Cases whose int8 results may all be equal without proving little (one output element, a 1×1 image).
    static func isFlat(_ c: Case) -> Bool {
        if case .resize(let attributes) = c.op { return attributes.size == [1, 1] || c.input[1] * c.input[2] == 1 }
        return false
    }

    @Test(arguments: reductionCases)
    func reduce(_ c: Case) throws { try Self.check(c) }

    @Test(arguments: argumentCases)
    func argExtremum(_ c: Case) throws { try Self.check(c) }

    @Test(arguments: resizeCases)
    func resize(_ c: Case) throws { try Self.check(c) }

    @Test(arguments: gatherCases)
    func gather(_ c: Case) throws { try Self.check(c) }

    @Test(arguments: castCases)
    func cast(_ c: Case) throws { try Self.check(c) }

    /// float32 → int32 truncates toward zero and saturates, NaN to 0; int32 → float32 rounds to nearest.
    @Test func castAtSpecialValues() throws { try Self.checkCastAtSpecialValues() }

    /// ``castAtSpecialValues()`` compiled with `options`.
    static func checkCastAtSpecialValues(options: CompileOptions = .thisMachine) throws {
        let specials: [Float] = [0, -0.0, 2.9, -2.9, 0.5, -0.5, .nan, .infinity, -.infinity, 3e9, -3e9, 2_147_483_520, 16_777_216]
        var graph = Graph(name: "cast")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [specials.count]))
        graph.outputs = [try graph.addNode(.cast(to: .int32), inputs: [x], name: "to_int")]
        let expected = try expectCompiledInt8MatchesReference(
            graph, options: options, inputs: [TensorData(specials, shape: [specials.count])], "cast to i32")
        #expect(expected[0].int32s() == [0, 0, 2, -2, 0, 0, 0, .max, .min, .max, .min, 2_147_483_520, 16_777_216])
        var back = Graph(name: "cast_back")
        let y = back.addInput(name: "y", type: TensorType(.int32, [5]))
        back.outputs = [try back.addNode(.cast(to: .float32), inputs: [y], name: "to_float")]
        let integers: [Int32] = [0, -7, 16_777_217, .max, .min]
        let floats = try expectCompiledInt8MatchesReference(
            back, options: options, inputs: [TensorData(int32: integers, shape: [5])], "cast to f32")
        #expect(floats[0].floats() == integers.map(Float.init))
    }

    /// Indices that come from the model's input pick rows at run time; negative ones count from
    /// the end, and any still outside the axis pick zeros.
    @Test(arguments: [false, true])
    func gatherAtIndicesFromTheInput(isQuantized: Bool) throws { try Self.checkGatherAtIndicesFromTheInput(isQuantized: isQuantized) }

    /// ``gatherAtIndicesFromTheInput(isQuantized:)`` compiled with `options`.
    static func checkGatherAtIndicesFromTheInput(isQuantized: Bool, options: CompileOptions = .thisMachine) throws {
        var graph = Graph(name: "embedding")
        let quantization: QuantizationParameters? = isQuantized ? .perTensor(scale: 0.02, zeroPoint: 4) : nil
        let tokens = graph.addInput(name: "tokens", type: TensorType(.int32, [1, 9]))
        let table = graph.addConstant(
            name: "table",
            data: isQuantized
                ? TensorData(int8: randomInt8(50 * 17, seed: 3), shape: [50, 17])
                : TensorData(uniformValues(50 * 17, seed: 3), shape: [50, 17]),
            quantization: quantization)
        graph.outputs = [try graph.addNode(.gather(axis: 0), inputs: [table, tokens], name: "embedded", quantization: quantization)]
        let ids: [Int32] = [0, 49, 13, -1, 50, 7, .max, .min, 25]
        let expected = try expectCompiledInt8MatchesReference(
            graph, options: options, inputs: [TensorData(int32: ids, shape: [1, 9])], "gather \(isQuantized ? "int8" : "f32") table at run time")
        // Tokens 50, Int32.max and Int32.min are out of range: zeros (the zero point); -1 is the last row.
        let row = 17
        let zero: Float = 0
        let values = isQuantized ? expected[0].int8s().map { Float($0) - 4 } : expected[0].floats()
        #expect(values[(3 * row)..<(4 * row)] == values[(row)..<(2 * row)], "token -1 is token 49")
        for index in [4, 6, 7] {
            #expect(values[(index * row)..<((index + 1) * row)].allSatisfy { $0 == zero }, "token \(ids[index])")
        }
    }
}

/// The TFLite operators built from several Kiln ops (TRANSPOSE_CONV, TILE, BROADCAST_TO, PACK,
/// SPACE_TO_DEPTH, DEPTH_TO_SPACE, LOG_SOFTMAX, SOFTMAX with beta), imported from the fuzz
/// target's decoder seed and compiled, against the reference interpreter.
@Suite struct CompositionTests {
    @Test func decoderSeedMatchesTheReference() throws {
        let seed = try #require(SeedModels.all.dropLast().last)
        let graph = try TFLiteImporter.importGraph(seed, name: "decoder", source: "decoder.tflite")
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputs = randomInputs(graph, seed: 5, floatRange: -2...2)
        let expected = try ReferenceInterpreter(graph).run(inputs)
        let model = try NativeRunner(graph, options: CompileOptions(), directory: directory)
        let actual = try model.run(inputs, outputByteCounts: expected.map { $0.bytes.count })
        let probabilities = TensorData(dtype: .float32, shape: expected[0].shape, bytes: actual[0])
        expectClose(probabilities.floats(), expected[0].floats(), tolerance: 1e-5, "log-softmax probabilities")
        #expect(actual[1] == expected[1].bytes, "arg-max positions")
    }

    /// The LSTM seed (peepholes, projection, clipping), unrolled, against a step-by-step LSTM written here.
    @Test func lstmSeedMatchesItsDefinition() throws {
        let seed = try #require(SeedModels.all.last)
        let graph = try TFLiteImporter.importGraph(seed, name: "lstm", source: "lstm.tflite")
        let op = try #require(seed.subgraphs[0].operators.first)
        func constant(_ index: Int) -> [Float] {
            let tensor = seed.subgraphs[0].tensors[op.inputs[index]]
            return TensorData(dtype: .float32, shape: Shape(tensor.shape), bytes: seed.buffers[tensor.buffer]).floats()
        }
        let x = uniformValues(12, in: -2...2, seed: 9)
        let (cells, units, features) = (5, 2, 3)
        func sigmoid(_ v: Float) -> Float { 1 / (1 + exp(-v)) }
        var (h, c) = ([Float](repeating: 0, count: units), [Float](repeating: 0, count: cells))
        var expected: [Float] = []
        for step in 0..<4 {
            let xt = Array(x[(step * features)..<((step + 1) * features)])
            func preactivation(_ gate: Int) -> [Float] {
                let (w, r, b) = (constant(1 + gate), constant(5 + gate), constant(12 + gate))
                return (0..<cells).map { n in
                    b[n] + (0..<features).reduce(0) { $0 + w[n * features + $1] * xt[$1] }
                        + (0..<units).reduce(0) { $0 + r[n * units + $1] * h[$1] }
                }
            }
            let (pi, pf, po) = (constant(9), constant(10), constant(11))
            let i = preactivation(0).enumerated().map { sigmoid($1 + pi[$0] * c[$0]) }
            let f = preactivation(1).enumerated().map { sigmoid($1 + pf[$0] * c[$0]) }
            let g = preactivation(2).map { tanh($0) }
            c = (0..<cells).map { min(max(f[$0] * c[$0] + i[$0] * g[$0], -3), 3) }
            let o = preactivation(3).enumerated().map { sigmoid($1 + po[$0] * c[$0]) }
            let hidden = (0..<cells).map { o[$0] * tanh(c[$0]) }
            let (p, pb) = (constant(16), constant(17))
            h = (0..<units).map { u in min(max(pb[u] + (0..<cells).reduce(0) { $0 + p[u * cells + $1] * hidden[$1] }, -0.5), 0.5) }
            expected += h
        }
        let actual = try ReferenceInterpreter(graph).run([TensorData(x, shape: [1, 4, 3])])[0].floats()
        expectClose(actual, expected, tolerance: 1e-5, "reference LSTM")
        try expectCompiledMatchesReference(graph, inputRange: -2...2, tolerance: 1e-5, "compiled LSTM")
    }

    /// A tiling of 2³⁰ copies is an error naming the operator, not an attempt to list them (found by the fuzzer).
    @Test func hugeTilingIsRefused() throws {
        var seed = try #require(SeedModels.all.dropLast().last)
        let tile = try #require(seed.operatorCodes.firstIndex { $0.builtinCode == .tile })
        let op = try #require(seed.subgraphs[0].operators.first { $0.opcodeIndex == tile })
        let multiples = seed.subgraphs[0].tensors[op.inputs[1]].buffer
        seed.buffers[multiples] = [1, 1, 1, 1 << 30].flatMap { (value: Int32) in withUnsafeBytes(of: value.littleEndian, Array.init) }
        let error = #expect(throws: TFLiteError.self) {
            try TFLiteImporter.importGraph(seed, name: "decoder", source: "decoder.tflite")
        }
        #expect(error?.message.contains("TILE: multiples") == true, "\(error?.message ?? "")")
    }
}
