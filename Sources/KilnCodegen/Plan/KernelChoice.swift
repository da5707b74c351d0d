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
        /// A float ``gemm(rowsPerBlock:)`` over a block-pruned filter: tiles of one block of 16
        /// output channels, each multiplying only the reduction positions where the block has a
        /// nonzero weight (``BlockSparsity``), listed at build time.
        case sparseGEMM(rowsPerBlock: Int)
        /// A float matrix-vector product (a few rows) over an unstructured sparse filter: slices of 16
        /// units, each step gathering one input per unit into vectors of `lanes` (``SlicedNonzeros``).
        case sparseGEMV(lanes: Int)
        /// A float matrix-vector product (a few rows) over an unstructured sparse filter on AVX-512:
        /// slices of 16 units, each step picking one input per unit from a chunk of 32 with a
        /// two-register permute (``ChunkedNonzeros``, ``PermutedSparseGEMVKernel``).
        case sparseGEMVPermuted
        /// A float matrix-vector product (a few rows) over a filter pruned N:4, on AVX2 and AVX-512:
        /// slices of `lanes` units, each group of four inputs giving each unit its `kept` picks by
        /// in-lane permutes (``SemiStructuredNonzeros``, ``SemiStructuredSparseGEMVKernel``).
        case sparseGEMVSemiStructured(lanes: Int, kept: Int)
        /// A float matrix-vector product (one row) over shared weights on AVX-512 and AVX2: slices
        /// of one vector of units, each step's 4-bit indices shifted out of a word that serves eight
        /// (``CodebookWords``, ``CodebookGEMVKernel``).
        case codebookGEMV
        /// An int8 ``gemm(rowsPerBlock:)`` on x86 without `vpdpbusd`: the reduction in pairs, each
        /// multiplied with `multiply` into vectors of `lanes` i32.
        case gemmPairwise(rowsPerBlock: Int, multiply: PairwiseMultiply, lanes: Int)
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
        /// A float ``conv(pixelsPerBlock:)`` over a block-pruned filter: tiles of one block of 16
        /// output channels, each multiplying only the (window tap, input channel) positions where
        /// the block has a nonzero weight (``BlockSparsity``).
        case sparseConv(pixelsPerBlock: Int)
        /// A 3×3 stride-1 float convolution by Winograd's F(2×2, 3×3) (``WinogradConv2DKernel``):
        /// blocks of `tilesPerBlock` 2×2 output tiles, transformed together, sharing each
        /// weight load of their 16 matrix products; 2.25× fewer multiply-adds than ``conv(pixelsPerBlock:)``.
        case winograd(tilesPerBlock: Int)
        /// An int8 ``conv(pixelsPerBlock:)`` on x86 without `vpdpbusd`: each tap's channels in
        /// pairs, multiplied with `multiply` into vectors of `lanes` i32.
        case convPairwise(pixelsPerBlock: Int, multiply: PairwiseMultiply, lanes: Int)
        /// An int8 ``conv(pixelsPerBlock:)`` on `vpdpbusd`; with `staged`, each block
        /// first copies the input it reads, made unsigned, into a buffer on the stack.
        case convVNNI(pixelsPerBlock: Int, staged: Bool)
        /// Depthwise convolution vectorized over channels, `pixelsPerBlock`
        /// pixels whose window lies inside the input sharing each weight vector.
        /// With `pixelsPerVector` above 1 (stride-1 layers with fewer channels than a
        /// vector), that many pixels side by side fill each vector, and a block is
        /// `pixelsPerBlock` such vectors. With `channelsOutermost`, each vector of channels
        /// runs over every pixel in turn (its weights stay in registers); otherwise each block
        /// of pixels runs over every channel (less loop overhead on small maps).
        case depthwise(pixelsPerBlock: Int, pixelsPerVector: Int = 1, channelsOutermost: Bool = true)
        /// An int8 ``depthwise(pixelsPerBlock:pixelsPerVector:channelsOutermost:)`` whose blocks of
        /// `widestLanes` lanes (then one each of half, a quarter, … down to 8 left over) multiply
        /// 16-bit pairs with `multiply`.
        case depthwisePairwise(
            pixelsPerBlock: Int, multiply: PairwiseMultiply, widestLanes: Int, pixelsPerVector: Int = 1,
            channelsOutermost: Bool = true)
        /// Emitted as part of node `into`; nothing of its own.
        case absorbed(into: Int)
        /// Nothing to compute: a reshape computed in place, whose result is its operand's bytes.
        case elided
        /// The op's one kernel (element-wise, pooling, layout, softmax, …).
        case standard
    }

    /// The x86 instruction that multiplies 16-bit pairs and adds each pair into an i32 lane.
    public enum PairwiseMultiply: String, Sendable, Hashable {
        /// AVX-512 VNNI's `vpdpwssd`, which also accumulates.
        case vpdpwssd
        /// SSE2's `pmaddwd` (AVX2 and AVX-512 on wider vectors), followed by an add.
        case pmaddwd
    }

    /// The kernel family.
    public var kernel: Kernel
    /// The XNNPACK-style name shown by `kiln inspect`.
    public var name: String
    /// The residual `add` node (by index) fused into this layer's epilogue, if any.
    public var residualAdd: Int? = nil
    /// How the layer's work divides among threads; `nil` for a layer that runs on one.
    public var split: RowSplit? = nil
    /// Whether the float filter's weights, at most 16 distinct values (`share-weights`), are packed
    /// as 4-bit indices into their ``WeightCodebook`` and looked up inside the kernel.
    public var sharesWeights = false
    /// For shared weights of a matrix product over many rows: the reduction steps decoded at a
    /// time into a stack buffer that every block of rows then reads; `nil` decodes each weight
    /// vector where it is used.
    public var decodedSteps: Int? = nil
    /// Whether the result is written over an operand's bytes (``MemoryPlan/inPlace``), so the
    /// node's pointers may alias.
    public var inPlace = false
    /// For a layer of a banded chain: the chain, whose depthwise layer's call runs its layers a
    /// band of rows at a time. ``split`` then gives the rows each call of the layer takes.
    public var band: BandedChain? = nil

    /// Independent positions of a layer's outermost output axis that threads share: output rows of
    /// a convolution (in every batch entry), rows of a matrix product. Each call computes a range
    /// of them whose ends are multiples of `granularity` (the kernel's block of rows), or `units`.
    public struct RowSplit: Sendable, Hashable {
        /// The output axis a layer's work is split along.
        public enum Axis: Sendable, Hashable {
            /// Output rows of a convolution, rows of a matrix product.
            case rows
            /// Output channels of a matrix product with too few rows to split (a matrix-vector
            /// product), in whole register tiles.
            case outputChannels
        }

        /// Positions along the split axis.
        public var units: Int
        /// The block size chunk boundaries are multiples of.
        public var granularity: Int
        /// The axis split.
        public var axis: Axis

        /// Creates a split of `units` positions along `axis` in blocks of `granularity`.
        public init(units: Int, granularity: Int, axis: Axis = .rows) {
            self.units = units
            self.granularity = granularity
            self.axis = axis
        }
    }

    /// Whether the node is emitted as part of another.
    public var isAbsorbed: Bool {
        if case .absorbed = kernel { return true }
        return false
    }

    /// Whether the node emits no code: absorbed into another, or elided.
    public var emitsNothing: Bool {
        if case .elided = kernel { return true }
        return isAbsorbed
    }
}
