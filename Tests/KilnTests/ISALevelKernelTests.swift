import Kiln
import Testing

/// The kernel sweeps of ``IntegerKernelTests``, ``KernelTests`` and ``FloatOpTests``
/// for the layers whose kernels differ by ISA level (fully-connected,
/// convolution, depthwise, and the vector-width-dependent resize, gather and
/// reductions), compiled explicitly for each x86-64 level and for
/// AArch64 (run under qemu-aarch64): int8 bit-exact, float within the sweeps'
/// tolerance. One suite per level, each enabled only where this host can run it.
enum ISALevelKernelTests {
    @Suite(.enabled(if: X86Level.avx512vnni.isSupported, X86Level.avx512vnni.skipReason))
    struct AVX512VNNI {
        @Test(arguments: KernelSweepCase.all)
        func sweep(_ c: KernelSweepCase) throws { try c.check(X86Level.avx512vnni.options) }
    }

    @Suite(.enabled(if: X86Level.avx512.isSupported, X86Level.avx512.skipReason))
    struct AVX512 {
        @Test(arguments: KernelSweepCase.all)
        func sweep(_ c: KernelSweepCase) throws { try c.check(X86Level.avx512.options) }
    }

    @Suite(.enabled(if: X86Level.avx2.isSupported, X86Level.avx2.skipReason))
    struct AVX2 {
        @Test(arguments: KernelSweepCase.all)
        func sweep(_ c: KernelSweepCase) throws { try c.check(X86Level.avx2.options) }
    }

    @Suite(.enabled(if: X86Level.sse41.isSupported, X86Level.sse41.skipReason))
    struct SSE41 {
        @Test(arguments: KernelSweepCase.all)
        func sweep(_ c: KernelSweepCase) throws { try c.check(X86Level.sse41.options) }
    }

    @Suite(.enabled(if: AArch64Emulation.isAvailable, AArch64Emulation.skipReason))
    struct AArch64NEON {
        @Test(arguments: KernelSweepCase.all)
        func sweep(_ c: KernelSweepCase) throws { try c.check(AArch64Emulation.neon) }
    }

    /// NEON with `sdot`: the plan has no dot-product kernels for it yet, so this checks the same
    /// kernels compiled for a Cortex-A76, whose scheduling and instruction selection differ.
    @Suite(.enabled(if: AArch64Emulation.isAvailable, AArch64Emulation.skipReason))
    struct AArch64NEONDotProd {
        @Test(arguments: KernelSweepCase.int8)
        func sweep(_ c: KernelSweepCase) throws { try c.check(AArch64Emulation.neonDotProd) }
    }
}

/// One case of the sweeps whose kernels differ by ISA level.
enum KernelSweepCase: Sendable, CustomTestStringConvertible {
    case int8Convolution(IntegerKernelTests.ConvCase)
    case int8FullyConnected(IntegerKernelTests.FullyConnectedCase)
    case int8Depthwise(IntegerKernelTests.DepthwiseCase)
    case floatConvolution(KernelTests.ConvCase)
    case floatDepthwise(FloatOpTests.DepthwiseCase)
    case residualAdd(ResidualAddFusionTests.Case)
    case selection(SelectionKernelTests.Case)
    case sparseGEMM(SparseKernelTests.Case)
    case sparseConvolution(SparseKernelTests.ConvolutionCase)
    case sharedWeights(SharedWeightKernelTests.Case)
    case semiStructured(SemiStructuredSparseKernelTests.Case)
    case bandedChain(BandedChainTests.Case)
    case int8BandedChain(BandedChainTests.Case)

    /// The int8 cases.
    static let int8: [Self] =
        IntegerKernelTests.convolutionCases.map(Self.int8Convolution)
        + IntegerKernelTests.fullyConnectedCases.map(Self.int8FullyConnected)
        + IntegerKernelTests.depthwiseCases.map(Self.int8Depthwise)

    /// Every case, int8 and float.
    static let all: [Self] =
        int8 + KernelTests.convolutionCases.map(Self.floatConvolution) + FloatOpTests.depthwiseCases.map(Self.floatDepthwise)
        + ResidualAddFusionTests.cases.map(Self.residualAdd) + SelectionKernelTests.isaCases.map(Self.selection)
        + SparseKernelTests.cases.map(Self.sparseGEMM) + SparseKernelTests.convolutionCases.map(Self.sparseConvolution)
        + SharedWeightKernelTests.cases.map(Self.sharedWeights)
        + SemiStructuredSparseKernelTests.cases.map(Self.semiStructured) + BandedChainTests.cases.prefix(4).map(Self.bandedChain)
        + BandedChainTests.cases.prefix(4).map(Self.int8BandedChain)

    var testDescription: String {
        switch self {
        case .int8Convolution(let c): "int8 conv \(c.testDescription)"
        case .int8FullyConnected(let c): "int8 fc \(c.testDescription)"
        case .int8Depthwise(let c): "int8 depthwise \(c.testDescription)"
        case .floatConvolution(let c): "conv \(c.testDescription)"
        case .floatDepthwise(let c): "depthwise \(c.testDescription)"
        case .residualAdd(let c): "residual add \(c.testDescription)"
        case .selection(let c): c.testDescription
        case .sparseGEMM(let c): "block-sparse \(c.testDescription)"
        case .sparseConvolution(let c): "block-sparse \(c.testDescription)"
        case .sharedWeights(let c): "shared weights \(c.testDescription)"
        case .semiStructured(let c): "semi-structured \(c.testDescription)"
        case .bandedChain(let c): "banded chain \(c.testDescription)"
        case .int8BandedChain(let c): "int8 banded chain \(c.testDescription)"
        }
    }

    /// Compiles and checks the case for the target of `options`.
    func check(_ options: CompileOptions) throws {
        switch self {
        case .int8Convolution(let c): try IntegerKernelTests.checkConvolution(c, options: options)
        case .int8FullyConnected(let c): try IntegerKernelTests.checkFullyConnected(c, options: options)
        case .int8Depthwise(let c): try IntegerKernelTests.checkDepthwise(c, options: options)
        case .floatConvolution(let c): try KernelTests.checkConvolution(c, options: options)
        case .floatDepthwise(let c): try FloatOpTests.checkDepthwise(c, options: options)
        case .residualAdd(let c): try ResidualAddFusionTests.check(c, options: options)
        case .selection(let c): try SelectionKernelTests.check(c, options: options)
        case .sparseGEMM(let c): try SparseKernelTests.check(c, options: options)
        case .sparseConvolution(let c): try SparseKernelTests.checkConvolution(c, options: options)
        case .sharedWeights(let c): try SharedWeightKernelTests.check(c, options: options)
        case .semiStructured(let c): try SemiStructuredSparseKernelTests.check(c, options: options)
        case .bandedChain(let c): try BandedChainTests.check(c, options: options)
        case .int8BandedChain(let c): try BandedChainTests.checkInt8(c, options: options)
        }
    }
}
