import KilnIR
import Testing

@testable import KilnCodegen

/// The kernel plan is a pure function of the graph and the ISA level: the same
/// graph gets the expected kernels for every level, on any host.
@Suite struct KernelPlanTests {
    /// A small int8 network: a 3-channel first layer, a pointwise layer, a
    /// depthwise layer, a residual add (fused into the depthwise layer), and a
    /// fully-connected layer with 10 units.
    static func int8Network() throws -> Graph {
        var graph = Graph(name: "net")
        let q = QuantizationParameters.perTensor(scale: 0.05, zeroPoint: -3)
        func filter(_ name: String, _ shape: Shape, channels: Int) -> ValueID {
            graph.addConstant(
                name: name, data: TensorData(int8: [Int8](repeating: 1, count: shape.elementCount), shape: shape),
                quantization: QuantizationParameters(
                    scales: [Float](repeating: 0.01, count: channels), zeroPoints: [Int32](repeating: 0, count: channels),
                    axis: shape.rank == 4 && shape[0] == 1 ? 3 : 0))
        }
        let x = graph.addInput(name: "x", type: TensorType(.int8, [1, 17, 17, 3], quantization: q))
        let stem = try graph.addNode(
            .conv2D(Conv2DAttributes(strides: [2, 2], padding: .same, activation: .relu)),
            inputs: [x, filter("w0", [32, 3, 3, 3], channels: 32)], name: "stem", quantization: q)
        let pointwise = try graph.addNode(
            .conv2D(Conv2DAttributes(padding: .valid)), inputs: [stem, filter("w1", [64, 1, 1, 32], channels: 64)],
            name: "pointwise", quantization: q)
        let depthwise = try graph.addNode(
            .depthwiseConv2D(Conv2DAttributes(padding: .same)), inputs: [pointwise, filter("w2", [1, 3, 3, 64], channels: 64)],
            name: "depthwise", quantization: q)
        let sum = try graph.addNode(.add(activation: nil), inputs: [depthwise, pointwise], name: "residual", quantization: q)
        let flat = try graph.addNode(.reshape([1, 9 * 9 * 64]), inputs: [sum], name: "flatten", quantization: q)
        graph.outputs = [
            try graph.addNode(
                .fullyConnected(activation: nil), inputs: [flat, filter("w3", [10, 9 * 9 * 64], channels: 10)], name: "logits",
                quantization: q)
        ]
        return graph
    }

    static let expected: [ISALevel: [String]] = [
        .avx512vnni: [
            "qs8_qc8w_conv3x3s2_avx512vnni_8x32", "qs8_qc8w_gemm_avx512vnni_6x64", "qs8_qc8w_dwconv3x3s1_avx512vnni_4x32+add",
            "absorbed into depthwise", "qs8_reshape", "qs8_qc8w_gemm_avx512vnni_12x16",
        ],
        .avx512: [
            "qs8_qc8w_conv3x3s2_avx512_6x32c2", "qs8_qc8w_gemm_avx512_6x32c2", "qs8_qc8w_dwconv3x3s1_avx512_4x16+add",
            "absorbed into depthwise", "qs8_reshape", "qs8_qc8w_gemm_avx512_12x8c2",
        ],
        .avx2: [
            "qs8_qc8w_conv3x3s2_avx2_2x32c2", "qs8_qc8w_gemm_avx2_2x32c2", "qs8_qc8w_dwconv3x3s1_avx2_2x16+add",
            "absorbed into depthwise", "qs8_reshape", "qs8_qc8w_gemm_avx2_12x8c2",
        ],
        .sse41: [
            "qs8_qc8w_conv3x3s2_sse41_2x16c2", "qs8_qc8w_gemm_sse41_2x16c2", "qs8_qc8w_dwconv3x3s1_sse41_2x8+add",
            "absorbed into depthwise", "qs8_reshape", "qs8_qc8w_gemm_sse41_5x8c2",
        ],
        .neon: [
            "qs8_qc8w_conv3x3s2_neon_6x16", "qs8_qc8w_gemm_neon_6x16", "qs8_qc8w_dwconv3x3s1_neon_4x4+add", "absorbed into depthwise",
            "qs8_reshape", "qs8_qc8w_gemm_neon_8x8",
        ],
    ]

    @Test(arguments: [ISALevel.avx512vnni, .avx512, .avx2, .sse41, .neon])
    func int8NetworkKernels(_ level: ISALevel) throws {
        let graph = try Self.int8Network()
        let plan = KernelPlan(graph: graph, isa: level)
        #expect(plan.choices.map(\.name) == Self.expected[level])
        let convolution = plan.choices[0].kernel
        if level.hasVNNI {
            #expect(convolution == .convVNNI(pixelsPerBlock: 8, staged: true))
            #expect(plan.choices[1].kernel == .gemmVNNI(rowsPerBlock: 6, staged: true))
            #expect(plan.choices[2].kernel == .depthwisePairwise(pixelsPerBlock: 4, multiply: .vpdpwssd, widestLanes: 32, channelsOutermost: false))
        } else {
            #expect(!"\(convolution)".contains("VNNI"))
        }
        let pairwise: [ISALevel: KernelChoice.Kernel] = [
            .avx512: .depthwisePairwise(pixelsPerBlock: 4, multiply: .pmaddwd, widestLanes: 16, channelsOutermost: false),
            .avx2: .depthwisePairwise(pixelsPerBlock: 2, multiply: .pmaddwd, widestLanes: 16, channelsOutermost: false),
            .sse41: .depthwisePairwise(pixelsPerBlock: 2, multiply: .pmaddwd, widestLanes: 8, channelsOutermost: false),
            .neon: .depthwise(pixelsPerBlock: 4, channelsOutermost: false),
        ]
        if let kernel = pairwise[level] { #expect(plan.choices[2].kernel == kernel) }
        // 10 units take one vector (VNNI, AVX-512, AVX2: 12 rows per block, 12 chains), two on SSE4.1 and NEON.
        #expect(plan.choices[2].residualAdd == 3)
        #expect(plan.choices[3].kernel == .absorbed(into: 2))
        let rows = [ISALevel.sse41: 5, .neon: 8][level] ?? 12
        // x86 without VNNI multiplies pairs of channels with pmaddwd, into vectors of 8 i32 (4 on SSE4.1).
        let gemm: [ISALevel: KernelChoice.Kernel] = [
            .avx512vnni: .gemmVNNI(rowsPerBlock: rows, staged: true),
            .avx512: .gemmPairwise(rowsPerBlock: rows, multiply: .pmaddwd, lanes: 8),
            .avx2: .gemmPairwise(rowsPerBlock: rows, multiply: .pmaddwd, lanes: 8),
            .sse41: .gemmPairwise(rowsPerBlock: rows, multiply: .pmaddwd, lanes: 4),
            .neon: .gemm(rowsPerBlock: rows),
        ]
        #expect(plan.choices[5].kernel == gemm[level])
        if !level.hasVNNI, level != .neon {
            #expect(convolution == .convPairwise(pixelsPerBlock: level == .avx512 ? 6 : 2, multiply: .pmaddwd, lanes: level == .sse41 ? 4 : 8))
        }
    }

    /// An int8 convolution on VNNI stages the window rows a block reads on the
    /// stack while they fit under the limit (3 rows × 14 columns × C bytes for
    /// 12 pixels of a 3×3 window), and reads the input in place past it.
    @Test(arguments: [(700, true), (800, false)])
    func convolutionStagesWithinTheLimit(channels: Int, staged: Bool) throws {
        var graph = Graph(name: "wide")
        let q = QuantizationParameters.perTensor(scale: 0.05, zeroPoint: -3)
        let x = graph.addInput(name: "x", type: TensorType(.int8, [1, 3, 9, channels], quantization: q))
        let shape: Shape = [16, 3, 3, channels]
        let filter = graph.addConstant(
            name: "w", data: TensorData(int8: [Int8](repeating: 1, count: shape.elementCount), shape: shape),
            quantization: .perTensor(scale: 0.01, zeroPoint: 0))
        graph.outputs = [
            try graph.addNode(.conv2D(Conv2DAttributes(padding: .same)), inputs: [x, filter], name: "conv", quantization: q)
        ]
        #expect(KernelPlan(graph: graph, isa: .avx512vnni).choices[0].kernel == .convVNNI(pixelsPerBlock: 12, staged: staged))
    }

    /// A stride-1 depthwise layer with fewer channels than a vector merges the pixels of a row
    /// into its vectors, per level and dtype; a stride-2 one, or one whose interior pixels fill
    /// under two vectors, does not.
    @Test(arguments: [
        (ISALevel.avx512vnni, true, 8, 1, 48, "qs8_dwconv3x3s1_avx512vnni_4x32p4"),
        (.avx512vnni, false, 8, 1, 48, "f32_dwconv3x3s1_avx512vnni_8x16p2"),
        (.avx2, true, 8, 1, 48, "qs8_dwconv3x3s1_avx2_2x16p2"),
        (.sse41, true, 4, 1, 48, "qs8_dwconv3x3s1_sse41_2x8p2"),
        (.neon, false, 2, 1, 48, "f32_dwconv3x3s1_neon_4x4p2"),
        (.neon, false, 8, 1, 48, "f32_dwconv3x3s1_neon_4x4"),
        (.avx512vnni, true, 8, 2, 48, "qs8_dwconv3x3s2_avx512vnni_4x8"),
        (.avx512vnni, true, 8, 1, 9, "qs8_dwconv3x3s1_avx512vnni_4x8"),
    ])
    func depthwiseMergesPixelsOfFewChannels(
        level: ISALevel, quantized: Bool, channels: Int, stride: Int, width: Int, name: String
    ) throws {
        let graph = try depthwiseLayer(quantized: quantized, input: [1, 6, width, channels], stride: stride)
        #expect(KernelPlan(graph: graph, isa: level).choices[0].name == name)
    }

    /// One 3×3 `same` depthwise layer of all-one weights over `input`, int8 or float.
    private func depthwiseLayer(quantized: Bool, input: Shape, stride: Int = 1) throws -> Graph {
        var graph = Graph(name: "depthwise")
        let q = quantized ? QuantizationParameters.perTensor(scale: 0.05, zeroPoint: -3) : nil
        let x = graph.addInput(name: "x", type: TensorType(quantized ? .int8 : .float32, input, quantization: q))
        let shape: Shape = [1, 3, 3, input[3]]
        let filter =
            quantized
            ? graph.addConstant(
                name: "w", data: TensorData(int8: [Int8](repeating: 1, count: shape.elementCount), shape: shape),
                quantization: .perTensor(scale: 0.01, zeroPoint: 0))
            : graph.addConstant(name: "w", data: TensorData([Float](repeating: 1, count: shape.elementCount), shape: shape))
        graph.outputs = [
            try graph.addNode(
                .depthwiseConv2D(Conv2DAttributes(strides: [stride, stride], padding: .same)), inputs: [x, filter],
                name: "depthwise", quantization: q)
        ]
        return graph
    }

    /// Depthwise layers whose channel vectors fill a cache line (float on AVX-512) run each vector
    /// over every pixel in 8-pixel blocks; the others (int8, narrower levels) run each block of
    /// pixels over every channel.
    @Test(arguments: [
        (ISALevel.avx512vnni, true, 14, KernelChoice.Kernel.depthwisePairwise(
            pixelsPerBlock: 4, multiply: .vpdpwssd, widestLanes: 32, channelsOutermost: false)),
        (.avx512vnni, false, 7, .depthwise(pixelsPerBlock: 8, channelsOutermost: true)),
        (.avx512vnni, false, 14, .depthwise(pixelsPerBlock: 8, channelsOutermost: true)),
        (.neon, true, 7, .depthwise(pixelsPerBlock: 4, channelsOutermost: false)),
        (.avx2, false, 14, .depthwise(pixelsPerBlock: 2, channelsOutermost: false)),
    ])
    func depthwiseLoopOrder(level: ISALevel, quantized: Bool, width: Int, kernel: KernelChoice.Kernel) throws {
        let graph = try depthwiseLayer(quantized: quantized, input: [1, width, width, 64])
        #expect(KernelPlan(graph: graph, isa: level).choices[0].kernel == kernel)
    }

    /// A float 3×3 stride-1 convolution with at least 8 input and output channels runs by
    /// Winograd's F(2×2, 3×3) on every level, blocks of tiles as many as the register tile's rows
    /// and at most 32 KiB of transformed input; a stride-2 one, one of few channels, or one
    /// whose two tiles would not fit runs directly.
    @Test(arguments: [
        (ISALevel.avx512vnni, 16, 16, 1, "f32_winograd2x2_conv3x3s1_avx512vnni_12x16"),
        (.avx512vnni, 64, 64, 1, "f32_winograd2x2_conv3x3s1_avx512vnni_6x64"),
        (.avx512vnni, 128, 64, 1, "f32_winograd2x2_conv3x3s1_avx512vnni_4x64"),
        (.avx2, 32, 64, 1, "f32_winograd2x2_conv3x3s1_avx2_2x32"),
        (.sse41, 8, 8, 1, "f32_winograd2x2_conv3x3s1_sse41_5x8"),
        (.neon, 16, 16, 1, "f32_winograd2x2_conv3x3s1_neon_6x16"),
        (.avx512vnni, 4, 16, 1, "f32_conv3x3s1_avx512vnni_12x16"),
        (.avx512vnni, 16, 4, 1, "f32_conv3x3s1_avx512vnni_12x4"),
        (.avx512vnni, 16, 16, 2, "f32_conv3x3s2_avx512vnni_12x16"),
        (.avx512vnni, 512, 16, 1, "f32_conv3x3s1_avx512vnni_12x16"),
    ])
    func floatThreeByThreeConvolutionsUseWinograd(
        level: ISALevel, channels: Int, units: Int, stride: Int, name: String
    ) throws {
        var graph = Graph(name: "winograd")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 16, 16, channels]))
        let shape: Shape = [units, 3, 3, channels]
        let filter = graph.addConstant(
            name: "w", data: TensorData((0..<shape.elementCount).map { Float($0 % 97) / 50 - 1 }, shape: shape))
        graph.outputs = [
            try graph.addNode(
                .conv2D(Conv2DAttributes(strides: [stride, stride], padding: .same)), inputs: [x, filter], name: "conv")
        ]
        #expect(KernelPlan(graph: graph, isa: level).choices[0].name == name)
    }

    /// A graph optimized for size keeps its 3×3 filters as stored: no Winograd, whose
    /// transformed filter stores 16 weights per 9.
    @Test func sizeGoalKeepsThreeByThreeFiltersAsStored() throws {
        var graph = Graph(name: "small")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [1, 16, 16, 16]))
        let shape: Shape = [16, 3, 3, 16]
        let filter = graph.addConstant(
            name: "w", data: TensorData((0..<shape.elementCount).map { Float($0 % 97) / 50 - 1 }, shape: shape))
        graph.outputs = [try graph.addNode(.conv2D(Conv2DAttributes(padding: .same)), inputs: [x, filter], name: "conv")]
        let fast = KernelPlan(graph: graph, isa: .avx2)
        #expect(fast.choices[0].name.hasPrefix("f32_winograd2x2_conv3x3s1_avx2"))
        #expect(fast.filterByteCount(ofNode: 0, in: graph) == 16 * 16 * 16 * 4)
        graph.optimizationGoal = .size
        let small = KernelPlan(graph: graph, isa: .avx2)
        #expect(small.choices[0].name.hasPrefix("f32_conv3x3s1_avx2"))
        #expect(small.filterByteCount(ofNode: 0, in: graph) == 16 * 9 * 16 * 4)
    }

    /// An int8 matrix product on VNNI stages its blocks of rows on the stack
    /// while they fit under the limit (12 rows of 2700 bytes do, of 2800 do not).
    @Test(arguments: [(2700, true), (2800, false)])
    func rowsStageWithinTheLimit(depth: Int, staged: Bool) throws {
        var graph = Graph(name: "wide")
        let q = QuantizationParameters.perTensor(scale: 0.05, zeroPoint: -3)
        let x = graph.addInput(name: "x", type: TensorType(.int8, [13, depth], quantization: q))
        let filter = graph.addConstant(
            name: "w", data: TensorData(int8: [Int8](repeating: 1, count: 16 * depth), shape: [16, depth]),
            quantization: .perTensor(scale: 0.01, zeroPoint: 0))
        graph.outputs = [try graph.addNode(.fullyConnected(activation: nil), inputs: [x, filter], name: "fc", quantization: q)]
        #expect(KernelPlan(graph: graph, isa: .avx512vnni).choices[0].kernel == .gemmVNNI(rowsPerBlock: 12, staged: staged))
    }

    @Test(arguments: [
        ("x86_64-unknown-linux-gnu", "+avx512f,+avx512bw,+avx512vnni,+avx2", ISALevel.avx512vnni),
        ("x86_64-unknown-linux-gnu", "+avx512f,+avx512bw,-avx512vnni", .avx512),
        ("x86_64-unknown-linux-gnu", "+avx2,+fma,+avx", .avx2),
        ("x86_64-unknown-linux-gnu", "+sse4.1", .sse41),
        ("aarch64-unknown-linux-gnu", "+neon", .neon),
        ("aarch64-unknown-linux-gnu", "+neon,+dotprod", .neonDotProd),
    ])
    func levelFromTargetFeatures(triple: String, features: String, level: ISALevel) {
        let enabled = features.split(separator: ",").compactMap { $0.hasPrefix("+") ? String($0.dropFirst()) : nil }
        #expect(ISALevel(triple: triple, features: enabled) == level)
    }

    /// A dynamic-range layer absorbs its per-row rounding only where VNNI runs it.
    @Test func dynamicRangeRoundingIsAbsorbedOnVNNI() throws {
        var graph = Graph(name: "hybrid")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [2, 40]))
        let rounded = try graph.addNode(.dynamicRangeQuantize(.perRow), inputs: [x], name: "round")
        let weights = graph.addConstant(
            name: "w", data: TensorData(int8: [Int8](repeating: 2, count: 32 * 40), shape: [32, 40]),
            quantization: .perTensor(scale: 0.1, zeroPoint: 0))
        graph.outputs = [try graph.addNode(.fullyConnected(activation: nil), inputs: [rounded, weights], name: "fc")]
        let vnni = KernelPlan(graph: graph, isa: .avx512vnni)
        #expect(vnni.choices[0].kernel == .absorbed(into: 1))
        #expect(vnni.choices[1].kernel == .dynamicRangeGEMMVNNI(rounding: 0, rowsPerBlock: 8))
        #expect(vnni.choices[1].name == "qd8_f32_qc8w_gemm_avx512vnni_8x32")
        let avx2 = KernelPlan(graph: graph, isa: .avx2)
        #expect(avx2.choices[0].kernel == .standard)
        #expect(avx2.choices[1].name == "f32_qc8w_gemm_avx2_2x32")
    }
}
