import Kiln
import Testing

/// The kernel sweeps of ``IntegerKernelTests``, ``KernelTests`` and ``FloatOpTests`` for layers
/// whose kernels differ by ISA level, compiled for each x86-64 level
/// explicitly (fully-connected, convolution, depthwise): int8 bit-exact, float
/// within the sweeps' tolerance.
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
}
