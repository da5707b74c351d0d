import Kiln
import Testing

/// The kernel sweeps of ``IntegerKernelTests``, ``KernelTests`` and ``FloatOpTests``
/// for the layers whose kernels differ by ISA level (fully-connected,
/// convolution, depthwise), compiled explicitly for each x86-64 level and for
/// AArch64 (run under qemu-aarch64): int8 bit-exact, float within the sweeps'
/// tolerance.
enum ISALevelKernelTests {
    @Suite(.enabled(if: X86Level.avx512vnni.isSupported, X86Level.avx512vnni.skipReason))
    struct AVX512VNNI {
        let options = X86Level.avx512vnni.options
        @Test(arguments: IntegerKernelTests.convolutionCases)
        func int8Convolution(_ c: IntegerKernelTests.ConvCase) throws { try IntegerKernelTests.checkConvolution(c, options: options) }
        @Test(arguments: IntegerKernelTests.fullyConnectedCases)
        func int8FullyConnected(_ c: IntegerKernelTests.FullyConnectedCase) throws {
            try IntegerKernelTests.checkFullyConnected(c, options: options)
        }
        @Test(arguments: IntegerKernelTests.depthwiseCases)
        func int8Depthwise(_ c: IntegerKernelTests.DepthwiseCase) throws { try IntegerKernelTests.checkDepthwise(c, options: options) }
        @Test(arguments: KernelTests.convolutionCases)
        func floatConvolution(_ c: KernelTests.ConvCase) throws { try KernelTests.checkConvolution(c, options: options) }
        @Test(arguments: FloatOpTests.depthwiseCases)
        func floatDepthwise(_ c: FloatOpTests.DepthwiseCase) throws { try FloatOpTests.checkDepthwise(c, options: options) }
    }

    @Suite(.enabled(if: X86Level.avx512.isSupported, X86Level.avx512.skipReason))
    struct AVX512 {
        let options = X86Level.avx512.options
        @Test(arguments: IntegerKernelTests.convolutionCases)
        func int8Convolution(_ c: IntegerKernelTests.ConvCase) throws { try IntegerKernelTests.checkConvolution(c, options: options) }
        @Test(arguments: IntegerKernelTests.fullyConnectedCases)
        func int8FullyConnected(_ c: IntegerKernelTests.FullyConnectedCase) throws {
            try IntegerKernelTests.checkFullyConnected(c, options: options)
        }
        @Test(arguments: IntegerKernelTests.depthwiseCases)
        func int8Depthwise(_ c: IntegerKernelTests.DepthwiseCase) throws { try IntegerKernelTests.checkDepthwise(c, options: options) }
        @Test(arguments: KernelTests.convolutionCases)
        func floatConvolution(_ c: KernelTests.ConvCase) throws { try KernelTests.checkConvolution(c, options: options) }
        @Test(arguments: FloatOpTests.depthwiseCases)
        func floatDepthwise(_ c: FloatOpTests.DepthwiseCase) throws { try FloatOpTests.checkDepthwise(c, options: options) }
    }

    @Suite(.enabled(if: X86Level.avx2.isSupported, X86Level.avx2.skipReason))
    struct AVX2 {
        let options = X86Level.avx2.options
        @Test(arguments: IntegerKernelTests.convolutionCases)
        func int8Convolution(_ c: IntegerKernelTests.ConvCase) throws { try IntegerKernelTests.checkConvolution(c, options: options) }
        @Test(arguments: IntegerKernelTests.fullyConnectedCases)
        func int8FullyConnected(_ c: IntegerKernelTests.FullyConnectedCase) throws {
            try IntegerKernelTests.checkFullyConnected(c, options: options)
        }
        @Test(arguments: IntegerKernelTests.depthwiseCases)
        func int8Depthwise(_ c: IntegerKernelTests.DepthwiseCase) throws { try IntegerKernelTests.checkDepthwise(c, options: options) }
        @Test(arguments: KernelTests.convolutionCases)
        func floatConvolution(_ c: KernelTests.ConvCase) throws { try KernelTests.checkConvolution(c, options: options) }
        @Test(arguments: FloatOpTests.depthwiseCases)
        func floatDepthwise(_ c: FloatOpTests.DepthwiseCase) throws { try FloatOpTests.checkDepthwise(c, options: options) }
    }

    @Suite(.enabled(if: X86Level.sse41.isSupported, X86Level.sse41.skipReason))
    struct SSE41 {
        let options = X86Level.sse41.options
        @Test(arguments: IntegerKernelTests.convolutionCases)
        func int8Convolution(_ c: IntegerKernelTests.ConvCase) throws { try IntegerKernelTests.checkConvolution(c, options: options) }
        @Test(arguments: IntegerKernelTests.fullyConnectedCases)
        func int8FullyConnected(_ c: IntegerKernelTests.FullyConnectedCase) throws {
            try IntegerKernelTests.checkFullyConnected(c, options: options)
        }
        @Test(arguments: IntegerKernelTests.depthwiseCases)
        func int8Depthwise(_ c: IntegerKernelTests.DepthwiseCase) throws { try IntegerKernelTests.checkDepthwise(c, options: options) }
        @Test(arguments: KernelTests.convolutionCases)
        func floatConvolution(_ c: KernelTests.ConvCase) throws { try KernelTests.checkConvolution(c, options: options) }
        @Test(arguments: FloatOpTests.depthwiseCases)
        func floatDepthwise(_ c: FloatOpTests.DepthwiseCase) throws { try FloatOpTests.checkDepthwise(c, options: options) }
    }

    @Suite(.enabled(if: AArch64Emulation.isAvailable, AArch64Emulation.skipReason))
    struct AArch64NEON {
        let options = AArch64Emulation.neon
        @Test(arguments: IntegerKernelTests.convolutionCases)
        func int8Convolution(_ c: IntegerKernelTests.ConvCase) throws { try IntegerKernelTests.checkConvolution(c, options: options) }
        @Test(arguments: IntegerKernelTests.fullyConnectedCases)
        func int8FullyConnected(_ c: IntegerKernelTests.FullyConnectedCase) throws {
            try IntegerKernelTests.checkFullyConnected(c, options: options)
        }
        @Test(arguments: IntegerKernelTests.depthwiseCases)
        func int8Depthwise(_ c: IntegerKernelTests.DepthwiseCase) throws { try IntegerKernelTests.checkDepthwise(c, options: options) }
        @Test(arguments: KernelTests.convolutionCases)
        func floatConvolution(_ c: KernelTests.ConvCase) throws { try KernelTests.checkConvolution(c, options: options) }
        @Test(arguments: FloatOpTests.depthwiseCases)
        func floatDepthwise(_ c: FloatOpTests.DepthwiseCase) throws { try FloatOpTests.checkDepthwise(c, options: options) }
    }

    /// NEON with `sdot`: the plan has no dot-product kernels for it yet, so this checks the same
    /// kernels compiled for a Cortex-A76, whose scheduling and instruction selection differ.
    @Suite(.enabled(if: AArch64Emulation.isAvailable, AArch64Emulation.skipReason))
    struct AArch64NEONDotProd {
        let options = AArch64Emulation.neonDotProd
        @Test(arguments: IntegerKernelTests.convolutionCases)
        func int8Convolution(_ c: IntegerKernelTests.ConvCase) throws { try IntegerKernelTests.checkConvolution(c, options: options) }
        @Test(arguments: IntegerKernelTests.fullyConnectedCases)
        func int8FullyConnected(_ c: IntegerKernelTests.FullyConnectedCase) throws {
            try IntegerKernelTests.checkFullyConnected(c, options: options)
        }
        @Test(arguments: IntegerKernelTests.depthwiseCases)
        func int8Depthwise(_ c: IntegerKernelTests.DepthwiseCase) throws { try IntegerKernelTests.checkDepthwise(c, options: options) }
    }
}
