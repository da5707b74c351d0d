import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnReference
@testable import KilnRuntime
import Testing

/// Artifacts of the default `.portable` target: code for every ISA level of an architecture in
/// one file, the best the CPU runs chosen once at load (issue 11, "portable artifacts").
@Suite struct PortableArtifactTests {
    /// A convolution with int8 weights, whose kernels differ by ISA level in tile and instructions.
    static func model() throws -> Graph {
        var graph = try KernelTests.singleOp(
            .conv2D(Conv2DAttributes(padding: .same, activation: .relu)), input: [1, 6, 6, 3],
            constants: [KernelTests.weights([8, 3, 3, 3], seed: 3), KernelTests.weights([8], seed: 4)])
        graph.name = "portable"
        return graph
    }

    static let options = CompileOptions(target: .portable(.x86_64), quantization: .int8Weights)

    /// An AVX2-only CPU (Haswell, 2013), as Linux lists its flags in `/proc/cpuinfo`.
    static let haswellFlags =
        "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx"
        + " pdpe1gb rdtscp lm constant_tsc rep_good nopl pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe"
        + " popcnt aes xsave avx f16c rdrand lahf_lm abm fsgsbase bmi1 avx2 smep bmi2 erms invpcid xsaveopt arat"
    /// An SSE4.2 CPU without AVX (Nehalem, 2008).
    static let nehalemFlags =
        "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx"
        + " rdtscp lm constant_tsc pni ssse3 cx16 sse4_1 sse4_2 popcnt lahf_lm"
    /// A Core 2 (2006): SSSE3 but no SSE4.1, below every level Kiln generates for.
    static let core2Flags = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat clflush mmx fxsr sse sse2 syscall nx lm pni ssse3 cx16"

    static func features(_ flags: String) -> Set<String> {
        HostCPU.llvmFeatures(fromFlags: flags.split(separator: " ").map(String.init))
    }

    @Test func presetsListEveryISALevelOfTheArchitecture() throws {
        #expect(try Compiler.variantLevels(.portable(.x86_64)) == [.avx512vnni, .avx512, .avx2, .sse41])
        #expect(try Compiler.variantLevels(.portable(.aarch64)) == [.neonDotProd, .neon])
        #expect(try Compiler.variantLevels(.x86_64(.v3)) == [.avx2])
        #expect(try Compiler.variantLevels(.aarch64(.armv8)) == [.neon])
        #expect(CompileOptions().target == .portable)
    }

    @Test func variantsOfTwoArchitecturesOrOneLevelAreRejectedAtTheOptionsLine() throws {
        let mixed = CompileOptions(target: .variants([.x86_64(.v3), .aarch64(.armv8)]))
        let error = try #require(throws: DiagnosticError.self) { try Compiler().compile(Self.model(), options: mixed, outputDirectory: temporaryDirectory()) }
        #expect(error.diagnostics[0].message.contains("share one architecture"))
        #expect(error.diagnostics[0].location?.file == #filePath)
        let repeated = CompileOptions(target: .variants([.x86_64(.v3), .custom(triple: "x86_64-unknown-linux-gnu", cpu: "haswell", features: "+avx2,+fma")]))
        #expect(throws: DiagnosticError.self) { try Compiler().compile(Self.model(), options: repeated, outputDirectory: temporaryDirectory()) }
    }

    /// Float filters are packed alike on every level, so the linker keeps one copy of the weights
    /// for all four x86 variants: a 256 KiB filter adds far less than three more copies would.
    @Test func levelsShareOneCopyOfFloatWeights() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var graph = try KernelTests.singleOp(
            .fullyConnected(activation: .relu), input: [3, 256],
            constants: [KernelTests.weights([256, 256], seed: 5), KernelTests.weights([256], seed: 6)])
        var sizes: [Int] = []
        for target in [CompileOptions.Target.x86_64(.v3), .portable(.x86_64)] {
            graph.name = "shared\(sizes.count)"
            let result = try Compiler().compile(graph, options: CompileOptions(target: target), outputDirectory: directory)
            sizes.append(try Data(contentsOf: result.artifact).count)
        }
        let weightBytes = 256 * 256 * 4
        #expect(sizes[1] < sizes[0] + weightBytes / 2, "portable \(sizes[1]) bytes, one level \(sizes[0])")
    }

    @Test func oneArtifactHoldsEachLevelAndTheLoaderPicksTheBestTheCPURuns() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Compiler().compile(Self.model(), options: Self.options, outputDirectory: directory)
        let metadata = try ArtifactFile.readMetadata(contentsOf: result.artifact)
        #expect(metadata.codeVariants.map(\.isaLevel) == ["avx512vnni", "avx512", "avx2", "sse41"])
        #expect(metadata.variant(for: Self.features(Self.haswellFlags))?.isaLevel == "avx2")
        #expect(metadata.variant(for: Self.features(Self.nehalemFlags))?.isaLevel == "sse41")
        #expect(metadata.variant(for: Self.features(Self.core2Flags)) == nil)
        #expect(metadata.variant(for: nil)?.isaLevel == "sse41", "unknown features run the most portable code")
    }

    /// The "Done when" check: the default target's artifact, built here, runs the code an
    /// AVX2-only machine (and an SSE4.2 one) would run, and every variant equals the reference.
    /// Each weight format, since some need instructions older levels lack (half-precision weights
    /// are widened without F16C below x86-64-v3).
    @Test(
        .enabled(if: X86Level.avx2.isSupported, X86Level.avx2.skipReason),
        arguments: [CompileOptions.Quantization.none, .int8Weights, .float16Weights, .dynamicRange])
    func forcedToOlderCPUsTheArtifactRunsTheirVariantAndMatchesTheReference(_ quantization: CompileOptions.Quantization) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let graph = try Self.model()
        var options = Self.options
        options.quantization = quantization
        let result = try Compiler().compile(graph, options: options, outputDirectory: directory)
        let input = TensorData(uniformValues(graph.type(of: graph.inputs[0]).elementCount, in: -2...2, seed: 5), shape: [1, 6, 6, 3])
        let expected = try ReferenceInterpreter(result.graph).run([input])[0]
        let host = try #require(ArtifactFile.readModels(contentsOf: result.artifact)[0].variant(for: HostCPU.features))
        let cpus: [(features: Set<String>?, level: String)] = [
            (Self.features(Self.haswellFlags), "avx2"), (Self.features(Self.nehalemFlags), "sse41"), (HostCPU.features, host.isaLevel),
        ]
        for (features, level) in cpus {
            let model = try CompiledModel(contentsOf: result.artifact, threads: 1, cpuFeatures: features)
            #expect(model.metadata.isaLevel == level)
            let output = try runCompiled(model, [input], outputByteCounts: [expected.bytes.count])[0]
            expectClose(
                TensorData(dtype: .float32, shape: expected.shape, bytes: output).floats(), expected.floats(), tolerance: 1e-4,
                "variant \(level), \(quantization)")
        }
        let error = try #require(throws: RuntimeError.self) {
            try CompiledModel(contentsOf: result.artifact, cpuFeatures: Self.features(Self.core2Flags))
        }
        #expect(error.message.contains("sse4.1"), "\(error.message)")
    }

    /// Every half-precision bit pattern, widened by x86-64-v2 code (no F16C, so integer
    /// operations): a fully-connected layer of one input equal to 1 returns its weights.
    @Test(.enabled(if: X86Level.sse41.isSupported, X86Level.sse41.skipReason))
    func everyHalfWidensExactlyWithoutF16C() throws {
        let halves = (0...UInt16.max).map { Float(Float16(bitPattern: $0)) }
        let graph = try KernelTests.singleOp(
            .fullyConnected(activation: nil), input: [1, 1], constants: [TensorData(halves, shape: [halves.count, 1])])
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let options = CompileOptions(target: .x86_64(.v2), quantization: .float16Weights)
        let result = try Compiler().compile(graph, options: options, outputDirectory: directory)
        let output = try CompiledModel(contentsOf: result.artifact, threads: 1).run(inputs: [[1]])[0]
        let wrong = zip(halves, output).enumerated().filter { _, pair in
            pair.0.isNaN ? !pair.1.isNaN : pair.0 != pair.1
        }
        #expect(wrong.isEmpty, "\(wrong.count) differ, first \(wrong.prefix(3).map { "0x\(String($0.offset, radix: 16)): \($0.element)" })")
    }

    /// `kiln compile --target`, `kiln inspect ARTIFACT` listing the variants, and `kiln run --isa`.
    @Test(.enabled(if: X86Level.sse41.isSupported, X86Level.sse41.skipReason))
    func commandLineChoosesTargetsAndVariants() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = KerasModelTests.fixtures.appendingPathComponent("keras_cnn.tflite")
        let artifact = directory.appendingPathComponent("keras_cnn.kiln").path
        let portable = try CommandLineTool.run(kiln, ["compile", model.path, "-o", directory.path])
        #expect(portable.status == 0, "\(portable.output)")
        let inspect = try CommandLineTool.run(kiln, ["inspect", artifact])
        for level in ["avx512vnni", "avx512", "avx2", "sse41"] { #expect(inspect.output.contains("code for \(level)"), "\(inspect.output)") }
        #expect(inspect.output.contains("(runs here)"))

        let input = KerasModelTests.fixtures.appendingPathComponent("keras_cnn.inputs.npy")
        let run = try CommandLineTool.run(
            kiln, ["run", artifact, "--inputs", input.path, "--outputs", directory.appendingPathComponent("y.npy").path, "--isa", "sse41"])
        #expect(run.status == 0, "\(run.output)")
        let unknown = try CommandLineTool.run(
            kiln, ["run", artifact, "--inputs", input.path, "--outputs", directory.appendingPathComponent("z.npy").path, "--isa", "neon"])
        #expect(unknown.status != 0 && unknown.output.contains("holds code for avx512vnni, avx512, avx2, sse41"), "\(unknown.output)")

        let single = try CommandLineTool.run(kiln, ["compile", model.path, "-o", directory.path, "--target", "x86-64-v2"])
        #expect(single.status == 0, "\(single.output)")
        let inspectSingle = try CommandLineTool.run(kiln, ["inspect", artifact])
        #expect(inspectSingle.output.contains("code for sse41 (runs here): CPU x86-64-v2"), "\(inspectSingle.output)")
        #expect(!inspectSingle.output.contains("code for avx2"))
        let wrong = try CommandLineTool.run(kiln, ["compile", model.path, "-o", directory.path, "--target", "pentium"])
        #expect(wrong.status != 0 && wrong.output.contains("unknown --target 'pentium'"), "\(wrong.output)")
    }

    /// The same artifact for AArch64, run under qemu on a Cortex-A53 (NEON) and a Cortex-A76
    /// (NEON with `sdot`): each emulated CPU's hardware capabilities, read as the runtime reads
    /// them, choose its variant, which the loader driver runs from the artifact with `dlopen`.
    @Test(.enabled(if: AArch64Emulation.isAvailable, AArch64Emulation.skipReason))
    func aarch64ArtifactRunsTheVariantOfEachEmulatedCPU() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let graph = try Self.model()
        var options = Self.options
        options.target = .portable(.aarch64)
        let result = try Compiler().compile(graph, options: options, outputDirectory: directory)
        let input = TensorData(uniformValues(graph.type(of: graph.inputs[0]).elementCount, in: -2...2, seed: 6), shape: [1, 6, 6, 3])
        let expected = try ReferenceInterpreter(result.graph).run([input])[0]
        let loader = directory.appendingPathComponent("loader")
        try AArch64Emulation.linkLoader(to: loader)
        for (cpu, level) in [("cortex-a53", "neon"), ("cortex-a76", "neondot")] {
            let capabilities = try AArch64Emulation.hardwareCapabilities(loader: loader, cpu: cpu)
            let features = HostCPU.aarch64Features(hwcap: capabilities.hwcap, hwcap2: capabilities.hwcap2)
            let variant = try #require(result.metadata.variant(for: features))
            #expect(variant.isaLevel == level, "\(cpu) has \(features.sorted())")
            let output = try AArch64Emulation.runLoaded(
                result.artifact, entryPoint: variant.entryPoint, loader: loader, cpu: cpu,
                arenaBytes: result.metadata.arenaByteCount, inputs: [input.bytes], outputByteCounts: [expected.bytes.count],
                directory: directory)[0]
            expectClose(
                TensorData(dtype: .float32, shape: expected.shape, bytes: output).floats(), expected.floats(), tolerance: 1e-4,
                "\(cpu) variant \(level)")
        }
    }

    @Test func aarch64FeaturesComeFromTheAuxiliaryVector() {
        // AT_PAGESZ, then AT_HWCAP with FP, ASIMD and ASIMDDP, then AT_HWCAP2 with I8MM, then AT_NULL.
        let entries: [(UInt64, UInt64)] = [(6, 4096), (16, 1 | 2 | 1 << 20), (26, 1 << 13), (0, 0)]
        let bytes = entries.flatMap { type, value in
            (0..<8).map { UInt8(truncatingIfNeeded: type >> (8 * $0)) } + (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        }
        #expect(HostCPU.aarch64Features(fromAuxiliaryVector: bytes) == ["fp-armv8", "neon", "dotprod", "i8mm"])
        #expect(HostCPU.aarch64Features(fromAuxiliaryVector: Array(bytes[..<16])) == nil)
    }
}
