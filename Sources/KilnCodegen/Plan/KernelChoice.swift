import KilnIR

/// The kernel chosen for one node before any code is emitted, named the way
/// XNNPACK names its micro-kernels: element types, operation, ISA level and
/// register tile (`qs8_qc8w_conv3x3s2_avx512vnni_6x64`).
public struct KernelChoice: Sendable, Hashable {
    /// The kernel family and the parameters emission follows.
    public enum Kernel: Sendable, Hashable {
        /// Dot products of rows against a packed filter: fully-connected layers
        /// and stride-1 1×1 convolutions, `rowsPerBlock` rows sharing each weight load.
        case gemm(rowsPerBlock: Int)
        /// An int8 ``gemm(rowsPerBlock:)`` on `vpdpbusd`; with `staged`, each block of rows
        /// is first copied, made unsigned, into a buffer on the stack.
        case gemmVNNI(rowsPerBlock: Int, staged: Bool)
        /// A dynamic-range layer on `vpdpbusd` that rounds its float input per row
        /// itself, absorbing the rounding node `rounding`.
        case dynamicRangeGEMMVNNI(rounding: Int, rowsPerBlock: Int)
        /// Convolution as an implicit GEMM over NHWC: blocks of `pixelsPerBlock`
        /// output pixels along a row, each window tap read through a pointer
        /// that points at a row of zero points where the window leaves the input.
        case conv(pixelsPerBlock: Int)
        /// An int8 ``conv(pixelsPerBlock:)`` on `vpdpbusd`; with `staged`, each block
        /// first copies the input it reads, made unsigned, into a buffer on the stack.
        case convVNNI(pixelsPerBlock: Int, staged: Bool)
        /// Depthwise convolution vectorized over channels, `pixelsPerBlock`
        /// pixels whose window lies inside the input sharing each weight vector.
        case depthwise(pixelsPerBlock: Int)
        /// An int8 ``depthwise(pixelsPerBlock:)`` whose blocks of 32 channels (and one of
        /// 16 left over) multiply 16-bit pairs with `vpdpwssd`.
        case depthwiseVNNI(pixelsPerBlock: Int)
        /// Emitted as part of node `into`; nothing of its own.
        case absorbed(into: Int)
        /// The op's one kernel (element-wise, pooling, layout, softmax, …).
        case standard
    }

    /// The kernel family.
    public var kernel: Kernel
    /// The XNNPACK-style name shown by `kiln inspect`.
    public var name: String
    /// The residual `add` node (by index) fused into this layer's epilogue, if any.
    public var residualAdd: Int? = nil

    /// Whether the node is emitted as part of another.
    public var isAbsorbed: Bool {
        if case .absorbed = kernel { return true }
        return false
    }
}
