import Foundation
import Kiln
import KilnCompiler
import KilnDelegates
import KilnFuzzing
import KilnIR
import KilnImport
import KilnReference
import KilnRuntime
import Testing

/// How the delegate's program places tensors: which buffers a device sharing host memory may use
/// in place of the arena, and where the rest lie in the device memory they share.
struct OpenCLProgramMemoryTests {
    /// 0 → k0 → 1 → k1 → 2 → k2 → 3, then a second partition reading 1 into 4: 1 lives until then;
    /// weights keep their own buffers.
    @Test func tensorsWhoseLifetimesDoNotOverlapShareDeviceMemory() {
        let sizes = [1000, 600, 1000, 200, 700]
        var buffers = sizes.map { OpenCLProgram.Buffer(byteCount: $0) }
        buffers.append(OpenCLProgram.Buffer(byteCount: 64, constantOffset: 0))
        let first = OpenCLProgram.Partition(
            uploads: [.init(buffer: 0, location: .input(0))],
            launches: [
                .init(kernel: "k0", buffers: [0, 5, 1], globalSize: [1]), .init(kernel: "k1", buffers: [1, 2], globalSize: [1]),
                .init(kernel: "k2", buffers: [2, 3], globalSize: [1]),
            ],
            downloads: [.init(buffer: 3, location: .arena(0))])
        let second = OpenCLProgram.Partition(
            uploads: [], launches: [.init(kernel: "k3", buffers: [1, 4], globalSize: [1])],
            downloads: [.init(buffer: 4, location: .output(0))])
        let program = OpenCLProgram(
            source: "", constantsSymbol: "c", constantsByteCount: 64, buffers: buffers, partitions: [first, second]
        ).planningDeviceMemory()
        let offsets = program.buffers.map(\.deviceOffset)
        #expect(offsets[5] == nil)
        #expect(offsets.compactMap { $0 }.allSatisfy { $0 % OpenCLProgram.deviceMemoryAlignment == 0 })
        // Live together: (0, 1), (1, 2), (2, 3), (1, 4). Largest first: 0, 2 and 4 share the first
        // bytes, 1 follows them, and 3 (live with 1 and 2) goes after 1.
        #expect(offsets == [0, 1024, 0, 2048, 0, nil])
        for (a, b) in [(0, 1), (1, 2), (2, 3), (1, 4)] {
            let rangeA = offsets[a]!..<(offsets[a]! + sizes[a])
            let rangeB = offsets[b]!..<(offsets[b]! + sizes[b])
            #expect(!rangeA.overlaps(rangeB), "buffers \(a) and \(b) are live together")
        }
        #expect(program.deviceMemoryByteCount < sizes.reduce(0, +))
    }


    @Test func overlappingOrRepeatedArenaPlacesAreCopied() {
        let buffers = (0..<5).map { _ in OpenCLProgram.Buffer(byteCount: 64) }
        let partition = OpenCLProgram.Partition(
            uploads: [
                .init(buffer: 0, location: .arena(0)), .init(buffer: 1, location: .arena(32)),
                .init(buffer: 2, location: .arena(128)), .init(buffer: 3, location: .input(0)),
            ],
            launches: [],
            downloads: [.init(buffer: 4, location: .arena(256)), .init(buffer: 4, location: .output(0))])
        let program = OpenCLProgram(
            source: "", constantsSymbol: "c", constantsByteCount: 0, buffers: buffers, partitions: [partition])
        // 0 and 1 overlap; 3 is a model input; 4 has two places: only 2 is used in place.
        #expect(program.arenaBackedBuffers == [2: 128])
    }
}

/// The OpenCL delegate on a real OpenCL implementation (PoCL on this machine's CPU, which
/// scripts/test.sh installs): every delegated op against the reference interpreter over the float
/// kernel sweeps, whole models against LiteRT, a graph split into delegate and CPU partitions,
/// and the fallbacks and errors when OpenCL is missing or fails.
enum OpenCLDelegateSupport {
    /// The device the delegate runs on here, or why there is none.
    static let device = OpenCLDevices.preferred()
    static var available: Bool { (try? device.get()) != nil }
    static let skipReason: Comment =
        "needs an OpenCL device (Debian: pocl-opencl-icd ocl-icd-libopencl1; scripts/test.sh installs them)"

    /// Options that put every layer on the OpenCL delegate and fail otherwise.
    static let required = CompileOptions(target: .host, delegates: [.openCL(.required)])
    /// Options that put what the delegate takes on it, where that pays, and leave the rest on the CPU.
    static let preferred = CompileOptions(target: .host, delegates: [.openCL(.preferred)])
    /// Options that put every layer the delegate takes on it, whatever the cost, and the rest on the CPU.
    static let allSupported = CompileOptions(target: .host, delegates: [.openCL(placement: .allSupported)])
    /// ``allSupported`` with the split graph's float16 layer ('half') kept on the CPU.
    static let splitting = CompileOptions(target: .host, delegates: [.openCL(placement: .allSupported, cpuLayers: ["half"])])
    /// Required, with float weights and tensors that stay on the device in half precision.
    static let half = CompileOptions(target: .host, delegates: [.openCL(.required, storage: .float16)])

    /// The stated tolerance of half-precision storage: every element within 1 % of the output's
    /// largest magnitude (each stored tensor and weight rounds to 11 significant bits).
    static let halfTolerance: Float = 1e-2

    /// Whether `actual` is within ``halfTolerance`` of `expected`'s largest magnitude everywhere.
    static func expectWithinHalfTolerance(_ actual: [Float], _ expected: [Float], _ context: String) {
        let scale = expected.map(abs).max() ?? 0
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(actual.count == expected.count && worst <= halfTolerance * scale, "\(context): off by \(worst) of \(scale)")
    }
}

@Suite(.enabled(if: OpenCLDelegateSupport.available, OpenCLDelegateSupport.skipReason))
struct OpenCLDelegateTests {
    @Test(arguments: KernelTests.convolutionCases)
    func convolution(_ c: KernelTests.ConvCase) throws {
        try KernelTests.checkConvolution(c, options: OpenCLDelegateSupport.required)
    }

    @Test(arguments: FloatOpTests.depthwiseCases)
    func depthwiseConvolution(_ c: FloatOpTests.DepthwiseCase) throws {
        try FloatOpTests.checkDepthwise(c, options: OpenCLDelegateSupport.required)
    }

    @Test(arguments: ResidualAddFusionTests.cases.filter { !$0.int8 })
    func residualAdd(_ c: ResidualAddFusionTests.Case) throws {
        try ResidualAddFusionTests.check(c, options: OpenCLDelegateSupport.required)
    }

    @Test(arguments: [(1, 1), (1, 3), (3, 17), (2, 65), (4, 640)])
    func fullyConnected(rows: Int, units: Int) throws {
        for depth in [1, 7, 64] {
            let graph = try KernelTests.singleOp(
                .fullyConnected(activation: .relu), input: [rows, depth],
                constants: [KernelTests.weights([units, depth], seed: 5), KernelTests.weights([units], seed: 6)])
            try expectCompiledMatchesReference(
                graph, options: OpenCLDelegateSupport.required, "fc \(rows)x\(depth)→\(units)")
        }
    }

    @Test(arguments: KernelTests.poolingCases)
    func pooling(input: Shape, window: Int, stride: Int, padding: KilnIR.Padding) throws {
        let attributes = Pool2DAttributes(window: [window, window], strides: [stride, stride], padding: padding)
        for op in [Op.maxPool2D(attributes), .averagePool2D(attributes)] {
            let graph = try KernelTests.singleOp(op, input: input)
            try expectCompiledMatchesReference(
                graph, options: OpenCLDelegateSupport.required, "\(op.kindName) \(input) w\(window) s\(stride)")
        }
    }

    @Test(arguments: Activation.allCases)
    func activation(_ function: KilnIR.Activation) throws {
        for count in [1, 17, 1000] {
            // Alone, a layer of element-wise work would stay on the CPU; required, it may not.
            let graph = try KernelTests.singleOp(.activation(function), input: [count])
            try expectCompiledMatchesReference(
                graph, options: OpenCLDelegateSupport.required, inputRange: -12...12, tolerance: 1e-4,
                "\(function) ×\(count)")
        }
    }

    /// Two-operand functions with broadcasting along every axis pattern, softmax, concatenation,
    /// pad, slice, transpose, mean and reductions.
    @Test func elementwiseAndDataMovement() throws {
        var graph = Graph(name: "mixed")
        let x = graph.addInput(name: "x", type: TensorType(.float32, [2, 3, 4, 5]))
        let row = graph.addConstant(name: "row", data: KernelTests.weights([5], seed: 1))
        let column = graph.addConstant(name: "column", data: KernelTests.weights([3, 1, 1], seed: 2))
        var outputs: [ValueID] = []
        for (index, function) in BinaryFunction.allCases.enumerated() {
            outputs.append(try graph.addNode(.binary(function, activation: nil), inputs: [x, index % 2 == 0 ? row : column], name: "b\(index)"))
        }
        outputs.append(try graph.addNode(.add(activation: .relu), inputs: [x, column], name: "add"))
        outputs.append(try graph.addNode(.multiply(activation: nil), inputs: [row, x], name: "mul"))
        outputs.append(try graph.addNode(.subtract(activation: .tanh), inputs: [x, x], name: "sub"))
        outputs.append(try graph.addNode(.softmax, inputs: [x], name: "softmax"))
        outputs.append(try graph.addNode(.concatenation(axis: 2, activation: nil), inputs: [x, x, outputs[0]], name: "concat"))
        outputs.append(try graph.addNode(.pad(paddings: [[0, 1], [2, 0], [1, 1], [0, 3]]), inputs: [x], name: "pad"))
        outputs.append(try graph.addNode(.slice(begin: [1, 0, 1, 2], size: [1, 3, 2, 3]), inputs: [x], name: "slice"))
        outputs.append(try graph.addNode(.transpose(permutation: [3, 1, 0, 2]), inputs: [x], name: "transpose"))
        outputs.append(try graph.addNode(.mean(axes: [1, 2], keepDimensions: true), inputs: [x], name: "mean"))
        outputs.append(try graph.addNode(.reduce(.maximum, axes: [0, 3], keepDimensions: false), inputs: [x], name: "max"))
        outputs.append(try graph.addNode(.reduce(.sum, axes: [-1], keepDimensions: false), inputs: [x], name: "sum"))
        outputs.append(try graph.addNode(.reshape([6, 20]), inputs: [outputs[0]], name: "reshape"))
        graph.outputs = outputs
        try expectCompiledMatchesReference(
            graph, options: OpenCLDelegateSupport.required, inputRange: -2...2, tolerance: 1e-5, "mixed ops")
    }

    @Test(arguments: IntegerKernelTests.fullyConnectedCases)
    func int8FullyConnected(_ c: IntegerKernelTests.FullyConnectedCase) throws {
        try IntegerKernelTests.checkFullyConnected(c, options: OpenCLDelegateSupport.required)
    }

    @Test(arguments: IntegerKernelTests.convolutionCases)
    func int8Convolution(_ c: IntegerKernelTests.ConvCase) throws {
        try IntegerKernelTests.checkConvolution(c, options: OpenCLDelegateSupport.required)
    }

    @Test(arguments: IntegerKernelTests.depthwiseCases)
    func int8Depthwise(_ c: IntegerKernelTests.DepthwiseCase) throws {
        try IntegerKernelTests.checkDepthwise(c, options: OpenCLDelegateSupport.required)
    }

    @Test(arguments: DynamicRangeTests.cases)
    func dynamicRangeLayer(rows: Int, depth: Int, units: Int, pointwise: Bool) throws {
        try DynamicRangeTests.checkRoundedInputLayer(
            rows: rows, depth: depth, units: units, pointwise: pointwise, options: OpenCLDelegateSupport.required)
        try DynamicRangeTests.checkPerBatchRounding(options: OpenCLDelegateSupport.required)
    }

    /// Every other int8 kernel, bit for bit: pools, lookup-table activations, softmax, two-operand
    /// functions with broadcasting and different parameters, concatenation, pad, slice, transpose,
    /// mean, reductions, requantizing reshapes, and the quantize and dequantize around them.
    @Test func int8ElementwiseAndDataMovement() throws {
        var graph = Graph(name: "int8 mixed")
        let input = QuantizationParameters.perTensor(scale: 0.05, zeroPoint: -4)
        let other = QuantizationParameters.perTensor(scale: 0.07, zeroPoint: -20)
        let real = graph.addInput(name: "x", type: TensorType(.float32, [2, 5, 6, 7]))
        let x = try graph.addNode(.quantize(to: .int8), inputs: [real], name: "quantize", quantization: input)
        let column = graph.addConstant(
            name: "column", data: TensorData(int8: [5, -100, 27, 90, -3], shape: [5, 1, 1]),
            quantization: .perTensor(scale: 0.03, zeroPoint: 2))
        var outputs: [ValueID] = []
        func add(_ op: Op, _ operands: [ValueID], _ parameters: QuantizationParameters? = other) throws {
            outputs.append(try graph.addNode(op, inputs: operands, name: "op\(outputs.count)", quantization: parameters))
        }
        let window = Pool2DAttributes(window: [3, 3], strides: [2, 2], padding: .same)
        for parameters in [input, other] {
            try add(.maxPool2D(window), [x], parameters)
            try add(.averagePool2D(window), [x], parameters)
            try add(.reshape([10, 42]), [x], parameters)
        }
        try add(.activation(.sigmoid), [x], .perTensor(scale: 1.0 / 256, zeroPoint: -128))
        try add(.activation(.hardSwish), [x], .perTensor(scale: 0.04, zeroPoint: -119))
        try add(.softmax, [x], .perTensor(scale: 1.0 / 256, zeroPoint: -128))
        try add(.add(activation: .relu), [x, column])
        try add(.multiply(activation: nil), [column, x])
        try add(.subtract(activation: .relu6), [x, x])
        try add(.binary(.maximum, activation: nil), [x, column])
        let requantized = try graph.addNode(.reshape([2, 5, 6, 7]), inputs: [outputs[2]], name: "back", quantization: input)
        try add(.concatenation(axis: 3, activation: nil), [x, requantized, x])
        try add(.pad(paddings: [[0, 1], [2, 0], [1, 1], [0, 3]]), [x], input)
        try add(.pad(paddings: [[0, 0], [1, 1], [1, 1], [0, 0]]), [x])
        try add(.slice(begin: [1, 0, 1, 2], size: [1, 3, 2, 3]), [x])
        try add(.transpose(permutation: [3, 1, 0, 2]), [x], input)
        try add(.mean(axes: [1, 2], keepDimensions: true), [x], .perTensor(scale: 0.0125, zeroPoint: 7))
        try add(.reduce(.maximum, axes: [0, 3], keepDimensions: false), [x], input)
        try add(.reduce(.minimum, axes: [2], keepDimensions: false), [x])
        try add(.reduce(.sum, axes: [-1], keepDimensions: false), [x], .perTensor(scale: 0.4, zeroPoint: 5))
        outputs.append(try graph.addNode(.dequantize, inputs: [outputs[0]], name: "dequantize"))
        graph.outputs = outputs
        try expectCompiledInt8MatchesReference(
            graph, options: OpenCLDelegateSupport.required, seed: 5, expectSpread: false, "int8 mixed ops")
    }

    /// Resizes in every method and coordinate mode on one non-square batch of 2, and the common
    /// modes up and down elsewhere, float32 and int8, bit for bit.
    static let resizeCases = SelectionKernelTests.resizeCases.filter { c in
        c.input == [2, 5, 7, 16] || ([[1, 12, 12, 17], [1, 1, 1, 4]].contains(c.input)
            && [0, 9].contains(SelectionKernelTests.resizeModeIndex(c)))
    }

    @Test(arguments: resizeCases)
    func resize(_ c: SelectionKernelTests.Case) throws {
        try SelectionKernelTests.check(c, options: OpenCLDelegateSupport.required)
    }

    @Test(arguments: SelectionKernelTests.gatherCases)
    func gather(_ c: SelectionKernelTests.Case) throws {
        try SelectionKernelTests.check(c, options: OpenCLDelegateSupport.required)
    }

    @Test(arguments: [false, true])
    func gatherAtIndicesFromTheInput(isQuantized: Bool) throws {
        try SelectionKernelTests.checkGatherAtIndicesFromTheInput(isQuantized: isQuantized, options: OpenCLDelegateSupport.required)
    }

    @Test(arguments: SelectionKernelTests.argumentCases.filter { [[3, 17], [2, 65, 3]].contains($0.input) })
    func argExtremum(_ c: SelectionKernelTests.Case) throws {
        try SelectionKernelTests.check(c, options: OpenCLDelegateSupport.required)
    }

    @Test func cast() throws {
        for c in SelectionKernelTests.castCases { try SelectionKernelTests.check(c, options: OpenCLDelegateSupport.required) }
        try SelectionKernelTests.checkCastAtSpecialValues(options: OpenCLDelegateSupport.required)
    }

    @Test(arguments: KernelTests.batchMatMulCases.filter { [[2, 1, 5, 7], [2, 1, 7, 5], [4, 2, 3], [4, 3, 2]].contains($0.a) })
    func batchMatMul(a: Shape, b: Shape, adjointA: Bool, adjointB: Bool) throws {
        try KernelTests.checkBatchMatMul(a: a, b: b, adjointA: adjointA, adjointB: adjointB, options: OpenCLDelegateSupport.required)
        try IntegerKernelTests.checkBatchMatMul(
            a: a, b: b, adjointA: adjointA, adjointB: adjointB, options: OpenCLDelegateSupport.required)
    }

    /// Every reduction, float32 and int8 (products too), over inner, outer and all axes.
    @Test(arguments: SelectionKernelTests.reductionCases.filter { [[3, 17], [1, 7, 7, 33]].contains($0.input) })
    func reduction(_ c: SelectionKernelTests.Case) throws {
        try SelectionKernelTests.check(c, options: OpenCLDelegateSupport.required)
    }

    /// A layer kept on the CPU splits a network in two delegate partitions with the CPU between
    /// them; the CPU piece reads what the first partition downloaded, and the output is right.
    /// Without it, the same layer (float16 weights) runs on the delegate.
    @Test func layerKeptOnTheCPUSplitsTheGraph() throws {
        let graph = try Self.splitGraph()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Compiler().compile(graph, options: OpenCLDelegateSupport.splitting, outputDirectory: directory)
        let plan = try #require(result.metadata.delegatePlan)
        #expect(plan.placement.map(\.processor) == [.openCL, .openCL, .cpu, .openCL])
        #expect(plan.placement[2].reason == "conv2d: kept on the CPU by the delegate's options")
        #expect(plan.schedule == [.delegate(partition: 0), .cpu(begin: 2, end: 3), .delegate(partition: 1)])
        let model = try CompiledModel(contentsOf: result.artifact)
        #expect(model.placement == plan.placement)
        #expect(model.delegateDevice != nil)
        try expectCompiledMatchesReference(graph, options: OpenCLDelegateSupport.splitting, "split graph")
        // Required, keeping a layer off the delegate fails the build, naming the layer and the reason.
        let contradictory = CompileOptions(target: .host, delegates: [.openCL(.required, cpuLayers: ["half"])])
        #expect {
            try Compiler().compile(graph, options: contradictory, outputDirectory: directory)
        } throws: { error in
            "\(error)".contains("requires the opencl delegate") && "\(error)".contains("'half': conv2d: kept on the CPU by the delegate's options")
        }
        // A name that is no layer is an error that lists the layers.
        let misspelled = CompileOptions(target: .host, delegates: [.openCL(cpuLayers: ["halve"])])
        #expect {
            try Compiler().compile(graph, options: misspelled, outputDirectory: directory)
        } throws: { error in
            "\(error)".contains("has no layer 'halve' to keep on the CPU; its layers are named 'conv0', 'conv1', 'half', 'conv2'")
        }
        // Float16 weights are read as the CPU reads them.
        try expectCompiledMatchesReference(graph, options: OpenCLDelegateSupport.required, "float16 weights on the delegate")
    }

    /// On a device that shares host memory (PoCL's CPU device), the tensors a partition exchanges
    /// with the CPU through the arena are used in place: repeated runs give the CPU's results,
    /// and the same as copying them (`KILN_OPENCL_ZERO_COPY=0`), bit for bit.
    @Test func arenaTensorsAreUsedInPlace() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let graph = try Self.splitGraph()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Compiler().compile(graph, options: OpenCLDelegateSupport.splitting, outputDirectory: directory)
        let program = try #require(result.metadata.delegatePlan?.openCL)
        // conv1's result goes down to the float16 layer on the CPU, whose result comes back up: both in the arena.
        #expect(program.arenaBackedBuffers.count == 2)
        let model = try CompiledModel(contentsOf: result.artifact)
        let cpu = try CompiledModel(contentsOf: result.artifact, delegate: .cpu)
        if model.delegateDevice.map({ $0.hasPrefix("pthread") || $0.hasPrefix("cpu") }) == true {
            #expect(model.delegateSharesHostMemory, "PoCL's CPU device shares host memory")
        }
        var inputs: [TensorData] = []
        for seed in 1...3 {
            let input = TensorData(uniformValues(8 * 8 * 16, in: -1...1, seed: UInt64(seed)), shape: [1, 8, 8, 16])
            expectClose(
                try model.run(inputs: [input.floats()])[0], try cpu.run(inputs: [input.floats()])[0], tolerance: 1e-5,
                "run \(seed)")
            inputs.append(input)
        }
        let inputFile = directory.appendingPathComponent("x.npy")
        try NumPyArray.write(inputs[0], to: inputFile)
        var outputs: [[Float]] = []
        for (zeroCopy, shared) in [("1", model.delegateSharesHostMemory), ("0", false)] {
            let output = directory.appendingPathComponent("out\(zeroCopy).npy")
            let run = try CommandLineTool.run(
                kiln, ["run", result.artifact.path, "--inputs", inputFile.path, "--outputs", output.path],
                environment: ["KILN_OPENCL_ZERO_COPY": zeroCopy])
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("shared memory") == shared, "\(run.output)")
            outputs.append(try NumPyArray.read(contentsOf: output).floats())
        }
        #expect(outputs[0] == outputs[1])
        let report = PlacementReport(try #require(result.metadata.delegatePlan)).table
        #expect(report.contains("1 of them (4096 bytes) lie in the arena"), "\(report)")
    }

    /// Half-precision storage: weights and the tensors between layers rounded to half, the sums in
    /// float32; the float convolution chain and the hybrid and int8 layers stay within the tolerance.
    @Test func halfStorageStaysWithinItsTolerance() throws {
        let graph = try Self.splitGraph(splitting: false)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Compiler().compile(graph, options: OpenCLDelegateSupport.half, outputDirectory: directory)
        let program = try #require(result.metadata.delegatePlan?.openCL)
        #expect(program.source.contains("vload_half") && program.source.contains("vstore_half_rte"))
        // The weights take half the bytes: three 16×3×3×16 filters share one constant, plus the bias.
        #expect(program.buffers.filter { $0.constantOffset != nil }.map(\.byteCount).sorted() == [32, 2 * 16 * 9 * 16])
        let input = TensorData(uniformValues(8 * 8 * 16, in: -1...1, seed: 3), shape: [1, 8, 8, 16])
        let expected = try ReferenceInterpreter(try Compiler().optimize(graph, options: OpenCLDelegateSupport.half)).run([input])
        let model = try CompiledModel(contentsOf: result.artifact)
        let actual = try model.run(inputs: [input.floats()])
        OpenCLDelegateSupport.expectWithinHalfTolerance(actual[0], expected[0].floats(), "conv chain in half precision")
    }

    /// CPU pieces of a delegated model split their large layers among threads like the whole-model
    /// entry does (the schedule is edited here so the CPU runs every layer), bit for bit.
    @Test func cpuPiecesRunOnThreads() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Compiler().compile(
            ThreadedRunTests.network(), options: OpenCLDelegateSupport.preferred, outputDirectory: directory)
        #expect(result.metadata.parallelEntryPoint != nil)
        let bytes = [UInt8](try Data(contentsOf: result.artifact))
        let contents = try ArtifactFile.decode(bytes, source: "artifact")
        var metadata = contents.metadata
        let layers = try #require(metadata.delegatePlan).placement.count
        metadata.delegatePlan?.schedule = [.cpu(begin: 0, end: 2), .cpu(begin: 2, end: layers)]
        let edited = directory.appendingPathComponent("cpu.kiln")
        try ArtifactFile.write(library: Array(bytes[..<contents.libraryByteCount]), metadata: metadata, to: edited)
        let input = uniformValues(metadata.inputs[0].elementCount, seed: 4)
        let serial = try CompiledModel(contentsOf: result.artifact, threads: 1, delegate: .cpu).run(inputs: [input])
        let threaded = try CompiledModel(contentsOf: edited, threads: 2)
        #expect(threaded.delegateDevice != nil && threaded.threadCount == 2)
        #expect(try threaded.run(inputs: [input]) == serial)
    }

    /// Every fuzz seed model (between them every operator both importers convert) with the delegate:
    /// required where it takes every layer, on every layer it supports otherwise; the outputs are the CPU's.
    @Test func seedModelsAgreeWithTheCPU() throws {
        var graphs: [Graph] = []
        for (index, seed) in SeedModels.all.enumerated() {
            graphs.append(try TFLiteImporter.importGraph(seed, name: "tflite\(index)", source: "seed\(index).tflite"))
        }
        for (index, seed) in ONNXSeedModels.all.enumerated() {
            graphs.append(try ONNXImporter.importGraph(ONNXModel(bytes: seed, source: "seed\(index).onnx"), name: "onnx\(index)"))
        }
        var delegated = 0
        for graph in graphs { delegated += try Self.expectDelegateAgreesWithTheCPU(graph) }
        #expect(delegated > 0)
    }

    /// Models made by today's TensorFlow converter whose operators the delegate gained last:
    /// gather (embedding), batch matrix products (attention, float32 and int8), arg-max
    /// and reductions, resize (decoder), and a whole MobileNetV3. Their layers run on the delegate
    /// and give the CPU's outputs.
    @Test(arguments: [
        ("embedding_text", 14), ("transformer_block", 55), ("transformer_block_int8", 64), ("reductions_net", 19),
        ("decoder_net", 20), ("mobilenet_v3_small_int8", 114),
    ])
    func converterModelsAgreeWithTheCPU(name: String, delegatedLayers: Int) throws {
        let graph = try TFLiteImporter.importGraph(contentsOf: KerasModelTests.fixtures.appendingPathComponent("\(name).tflite"))
        #expect(try Self.expectDelegateAgreesWithTheCPU(graph) == delegatedLayers)
    }

    /// A converter's MobileNetV3 with float16 weights (`--quantize float16`, what LiteRT's GPU
    /// delegate is usually given): convolutions, depthwise and dense layers read their half
    /// weights on the delegate as the CPU does, wholly on it.
    @Test func float16WeightsRunOnTheDelegate() throws {
        let graph = try TFLiteImporter.importGraph(contentsOf: KerasModelTests.fixtures.appendingPathComponent("mobilenet_v3_small.tflite"))
        let options = CompileOptions(target: .host, quantization: .float16Weights, delegates: [.openCL(.required)])
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let optimized = try Compiler().optimize(graph, options: options)
        #expect(optimized.nodes.contains { node in node.inputs.contains { optimized.type(of: $0).dtype == .float16 } })
        let result = try Compiler().compile(graph, options: options, outputDirectory: directory)
        let inputs = randomInputs(optimized, seed: 5)
        let model = try CompiledModel(contentsOf: result.artifact)
        let cpu = try CompiledModel(contentsOf: result.artifact, delegate: .cpu)
        #expect(model.placement.allSatisfy { $0.processor == .openCL })
        let actual = try runCompiled(model, inputs, outputByteCounts: model.metadata.outputs.map(\.byteCount))[0]
        let expected = try runCompiled(cpu, inputs, outputByteCounts: cpu.metadata.outputs.map(\.byteCount))[0]
        let shape = optimized.type(of: optimized.outputs[0]).shape
        expectClose(
            TensorData(dtype: .float32, shape: shape, bytes: actual).floats(),
            TensorData(dtype: .float32, shape: shape, bytes: expected).floats(), tolerance: 1e-4, "float16 MobileNetV3")
    }

    /// Compiles `graph` with the delegate (required where it takes every layer, on every layer it
    /// supports otherwise) and expects its outputs on random inputs to be the CPU's: float within
    /// 1e-4, integers equal. Returns the number of layers on the delegate.
    @discardableResult
    static func expectDelegateAgreesWithTheCPU(_ graph: Graph, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Int {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let optimized = try Compiler().optimize(graph, options: OpenCLDelegateSupport.preferred)
        let everywhere = optimized.nodes.allSatisfy { OpenCLSupport.reason(against: $0, in: optimized) == nil }
        let options = everywhere ? OpenCLDelegateSupport.required : OpenCLDelegateSupport.allSupported
        let result = try Compiler().compile(graph, options: options, outputDirectory: directory)
        let inputs = randomInputs(optimized, seed: 3)
        let cpu = try CompiledModel(contentsOf: result.artifact, delegate: .cpu)
        let model = try CompiledModel(contentsOf: result.artifact)
        let expected = try runCompiled(cpu, inputs, outputByteCounts: cpu.metadata.outputs.map(\.byteCount))
        let actual = try runCompiled(model, inputs, outputByteCounts: model.metadata.outputs.map(\.byteCount))
        for (index, (bytes, reference)) in zip(actual, expected).enumerated() {
            let type = optimized.type(of: optimized.outputs[index])
            if type.dtype == .float32 {
                expectClose(
                    TensorData(dtype: .float32, shape: type.shape, bytes: bytes).floats(),
                    TensorData(dtype: .float32, shape: type.shape, bytes: reference).floats(), tolerance: 1e-4,
                    "\(graph.name) output \(index)", sourceLocation: sourceLocation)
            } else {
                #expect(bytes == reference, "\(graph.name) output \(index)", sourceLocation: sourceLocation)
            }
        }
        return model.placement.filter { $0.processor == .openCL }.count
    }

    /// conv → conv → conv with a float16 filter ('half') → conv (without the float16 one, three
    /// convolutions).
    static func splitGraph(splitting: Bool = true) throws -> Graph {
        var graph = Graph(name: "split")
        var x = graph.addInput(name: "x", type: TensorType(.float32, [1, 8, 8, 16]))
        let filter = graph.addConstant(name: "w", data: KernelTests.weights([16, 3, 3, 16], seed: 3))
        let bias = graph.addConstant(name: "b", data: KernelTests.weights([16], seed: 4))
        let convolution = Op.conv2D(Conv2DAttributes(padding: .same, activation: .relu))
        x = try graph.addNode(convolution, inputs: [x, filter, bias], name: "conv0")
        x = try graph.addNode(convolution, inputs: [x, filter, bias], name: "conv1")
        if splitting {
            let half = graph.addConstant(
                name: "w16", data: TensorData(float16: KernelTests.weights([16, 3, 3, 16], seed: 5).floats(), shape: [16, 3, 3, 16]))
            x = try graph.addNode(convolution, inputs: [x, half, bias], name: "half")
        }
        graph.outputs = [try graph.addNode(convolution, inputs: [x, filter, bias], name: "conv2")]
        return graph
    }
}

/// The MLPerf Tiny float model wholly on the delegate against LiteRT's outputs, and the command
/// line's fallbacks and errors when OpenCL is missing, required, or its driver fails.
@Suite(
    .enabled(if: OpenCLDelegateSupport.available, OpenCLDelegateSupport.skipReason),
    .enabled(if: MLPerfTinyModels.available, MLPerfTinyModels.skipReason))
struct OpenCLDelegateModelTests {
    /// `ad01_fp32` compiled with `options`' delegates into `directory`.
    static func compileAutoencoder(_ options: CompileOptions.Overrides, into directory: URL) throws -> Compiler.Result {
        try Compiler().compile(
            ModelSource(url: MLPerfTinyModels.url("ad01_fp32", "tflite")), outputDirectory: directory, overrides: options)[0]
    }

    /// Each shared model compiled with the delegate required: every layer on it, float outputs
    /// within 1e-4 of LiteRT's (the autoencoder's bit for bit: bias-first fused multiply-adds in
    /// the CPU kernels' order), int8 outputs equal to LiteRT's.
    @Test(arguments: MLPerfTinyModels.names)
    func sharedModelRunsWhollyOnTheDelegate(name: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Compiler().compile(
            ModelSource(url: MLPerfTinyModels.url(name, "tflite")), outputDirectory: directory,
            overrides: .init(target: .host, delegates: [.openCL(.required)]))[0]
        let model = try CompiledModel(contentsOf: result.artifact)
        #expect(!model.placement.isEmpty && model.placement.allSatisfy { $0.processor == .openCL })
        let (inputs, expected) = try MLPerfTinyModels.samples(name)
        let actual = TensorData(dtype: expected.dtype, shape: expected.shape, bytes: try MLPerfTinyModels.run(model, inputs))
        if expected.dtype == .int8 {
            #expect(actual.int8s() == expected.int8s(), "\(name) on opencl")
        } else {
            expectClose(actual.floats(), expected.floats(), tolerance: 1e-4, "\(name) on opencl")
            if name == "ad01_fp32" { #expect(actual.floats() == expected.floats()) }
        }
    }

    /// The same with half-precision storage: float models within the stated tolerance of LiteRT,
    /// int8 ones unchanged (their tensors are int8 already).
    @Test(arguments: MLPerfTinyModels.names)
    func sharedModelInHalfPrecision(name: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Compiler().compile(
            ModelSource(url: MLPerfTinyModels.url(name, "tflite")), outputDirectory: directory,
            overrides: .init(target: .host, delegates: [.openCL(.required, storage: .float16)]))[0]
        let model = try CompiledModel(contentsOf: result.artifact)
        let (inputs, expected) = try MLPerfTinyModels.samples(name)
        let actual = TensorData(dtype: expected.dtype, shape: expected.shape, bytes: try MLPerfTinyModels.run(model, inputs))
        if expected.dtype == .int8 {
            #expect(actual.int8s() == expected.int8s(), "\(name) on opencl in half precision")
        } else {
            OpenCLDelegateSupport.expectWithinHalfTolerance(actual.floats(), expected.floats(), "\(name) in half precision")
        }
    }

    /// Without an OpenCL library the artifact runs on the CPU and says why; asking for the delegate
    /// on the command line, or compiling it as required, makes that an error naming the cause.
    @Test func missingOpenCLFallsBackOrFailsClearly() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let preferred = try Self.compileAutoencoder(
            .init(target: .host, delegates: [.openCL(placement: .allSupported)]), into: directory)
        let inputs = MLPerfTinyModels.url("ad01_fp32", "inputs.npy").path
        let output = directory.appendingPathComponent("out.npy").path
        for (environment, cause) in [
            (["KILN_OPENCL_LIBRARY": "/nonexistent/libOpenCL.so.1"], "no OpenCL library could be loaded"),
            (["OCL_ICD_VENDORS": directory.path], "no OpenCL platform is installed"),
        ] {
            let fallback = try CommandLineTool.run(
                kiln, ["run", preferred.artifact.path, "--inputs", inputs, "--outputs", output], environment: environment)
            #expect(fallback.status == 0, "\(fallback.output)")
            #expect(fallback.output.contains("all 10 layers on the CPU (OpenCL is not available: \(cause)"), "\(fallback.output)")
            let expected = try MLPerfTinyModels.samples("ad01_fp32").outputs.floats()
            #expect(try NumPyArray.read(contentsOf: URL(fileURLWithPath: output)).floats() == expected)

            let demanded = try CommandLineTool.run(
                kiln, ["run", preferred.artifact.path, "--inputs", inputs, "--outputs", output, "--delegate", "opencl"],
                environment: environment)
            #expect(demanded.status != 0)
            #expect(demanded.output.contains("requires the OpenCL delegate, which cannot start: OpenCL is not available: \(cause)"), "\(demanded.output)")
        }
        let requiredDirectory = directory.appendingPathComponent("required")
        let required = try Self.compileAutoencoder(.init(target: .host, delegates: [.openCL(.required)]), into: requiredDirectory)
        let refused = try CommandLineTool.run(
            kiln, ["run", required.artifact.path, "--inputs", inputs, "--outputs", output],
            environment: ["KILN_OPENCL_LIBRARY": ""])
        #expect(refused.status != 0)
        #expect(refused.output.contains("requires the OpenCL delegate, which cannot start"), "\(refused.output)")
        // The CPU can still be chosen explicitly.
        let onCPU = try CommandLineTool.run(
            kiln, ["run", required.artifact.path, "--inputs", inputs, "--outputs", output, "--delegate", "cpu"],
            environment: ["KILN_OPENCL_LIBRARY": ""])
        #expect(onCPU.status == 0, "\(onCPU.output)")
    }

    /// `kiln inspect --delegate opencl` reports the placement before anything is built, the
    /// compiled artifact reports the same, and the first load caches the driver's binary.
    @Test func placementReportAndProgramCache() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = MLPerfTinyModels.url("ad01_fp32", "tflite").path
        // The autoencoder's 264 k multiply-adds do not pay for 10 kernel launches: the CPU keeps it.
        let costed = try CommandLineTool.run(kiln, ["inspect", model, "--delegate", "opencl", "--target", "host"])
        #expect(costed.status == 0, "\(costed.output)")
        #expect(costed.output.contains("0 of 10 layers on opencl in 0 partitions"), "\(costed.output)")
        #expect(
            costed.output.contains("does not pay for copying 5120 bytes to and from the device and launching 10 kernels"),
            "\(costed.output)")
        // Keyword spotting's 2.7 M multiply-adds in 13 kernels do.
        let spotting = try CommandLineTool.run(
            kiln, ["inspect", MLPerfTinyModels.url("kws_ref_model", "tflite").path, "--delegate", "opencl", "--target", "host"])
        #expect(spotting.output.contains("13 of 13 layers on opencl in 1 partition"), "\(spotting.output)")
        let inspected = try CommandLineTool.run(
            kiln, ["inspect", model, "--delegate", "opencl", "--all-supported-layers", "--target", "host"])
        #expect(inspected.status == 0, "\(inspected.output)")
        for line in [
            "10 of 10 layers on opencl in 1 partition",
            "partition 0: 10 kernels; copies 1 tensors (2560 bytes) in and 1 (2560 bytes) out",
            "device weights: 1063456 bytes, uploaded once at load",
            // Input and output (2560 bytes each) live together; the 128- and 8-wide tensors between reuse their bytes.
            "device tensors: 3072 bytes shared by 11 (9248 bytes if each had its own)",
        ] {
            #expect(inspected.output.contains(line), "\(inspected.output)")
        }
        let compiled = try CommandLineTool.run(
            kiln, ["compile", model, "-o", directory.path, "--delegate", "opencl", "--fp16", "--all-supported-layers", "--target", "host"])
        #expect(compiled.output.contains("opencl: 10 of 10 layers in 1 partition"), "\(compiled.output)")
        let artifact = directory.appendingPathComponent("ad01_fp32.kiln").path
        let described = try CommandLineTool.run(kiln, ["inspect", artifact])
        #expect(described.output.contains("10 of 10 layers on opencl in 1 partition"), "\(described.output)")
        // Half precision: the weights take half the bytes.
        #expect(described.output.contains("device weights: 531728 bytes"), "\(described.output)")

        let cache = directory.appendingPathComponent("cache")
        let run = try CommandLineTool.run(
            kiln,
            ["run", artifact, "--inputs", MLPerfTinyModels.url("ad01_fp32", "inputs.npy").path, "--outputs",
             directory.appendingPathComponent("out.npy").path, "--delegate", "opencl"],
            environment: ["KILN_OPENCL_CACHE": cache.path])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("opencl on '"), "\(run.output)")
        let cached = try FileManager.default.contentsOfDirectory(atPath: cache.path)
        #expect(cached.count == 1 && cached[0].hasSuffix(".bin"), "\(cached)")

        let misuse = try CommandLineTool.run(kiln, ["compile", model, "-o", directory.path, "--fp16"])
        #expect(misuse.status != 0 && misuse.output.contains("--fp16 needs --delegate opencl"), "\(misuse.output)")
        let staticObject = try CommandLineTool.run(kiln, ["compile", model, "-o", directory.path, "--static", "--delegate", "opencl"])
        #expect(staticObject.status != 0 && staticObject.output.contains("static objects run without Kiln's runtime"))
    }

    /// `kiln bench --per-layer --delegate opencl` times each delegated layer's kernel on the
    /// device (profiling events) and shows the copies and waits around them as a row of their own.
    @Test func perLayerProfileTimesDelegatedLayers() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let model = MLPerfTinyModels.url("ad01_fp32", "tflite").path
        let profiled = try CommandLineTool.run(
            kiln, ["bench", model, "--per-layer", "--delegate", "opencl", "--runs", "20", "--threads", "1"])
        #expect(profiled.status == 0, "\(profiled.output)")
        let rows = profiled.output.split(separator: "\n").filter { $0.contains("opencl kiln_") && $0.contains("_fully_connected") }
        #expect(rows.count == 10, "\(profiled.output)")
        #expect(profiled.output.contains("(copies and waits)"), "\(profiled.output)")
        // Every delegated layer took some device time.
        let times = rows.compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropLast(2).last }
        #expect(times.count == 10 && times.allSatisfy { (Double($0) ?? 0) > 0 }, "\(rows)")
    }

    /// Kernels the driver rejects fail loading with the driver's own build log.
    @Test func driverBuildErrorCarriesTheLog() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Self.compileAutoencoder(
            .init(target: .host, delegates: [.openCL(placement: .allSupported)]), into: directory)
        let bytes = [UInt8](try Data(contentsOf: result.artifact))
        let contents = try ArtifactFile.decode(bytes, source: "artifact")
        var metadata = contents.metadata
        metadata.delegatePlan?.openCL.source += "\n__kernel void broken(__global float *x) { x[0] = undeclared_name; }\n"
        let damaged = directory.appendingPathComponent("damaged.kiln")
        try ArtifactFile.write(library: Array(bytes[..<contents.libraryByteCount]), metadata: metadata, to: damaged)
        #expect {
            try CompiledModel(contentsOf: damaged, delegate: .required)
        } throws: { error in
            "\(error)".contains("could not build the delegate's kernels") && "\(error)".contains("undeclared_name")
        }
        // Preferred, the same failure falls back to the CPU and the placement says why.
        let model = try CompiledModel(contentsOf: damaged)
        #expect(model.delegateDevice == nil)
        #expect(model.placement.first?.reason?.contains("undeclared_name") == true)
        // A plan that would copy or launch out of bounds is refused before anything runs.
        metadata = contents.metadata
        metadata.delegatePlan?.schedule.append(.delegate(partition: 5))
        try ArtifactFile.write(library: Array(bytes[..<contents.libraryByteCount]), metadata: metadata, to: damaged)
        #expect {
            try CompiledModel(contentsOf: damaged, delegate: .cpu)
        } throws: { error in
            "\(error)".contains("has a damaged delegate plan (the schedule names partition 5 of 1); recompile it")
        }
    }
}
