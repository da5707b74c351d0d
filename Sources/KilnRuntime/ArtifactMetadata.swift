/// Everything the runtime needs to know about a compiled model, stored as JSON in the artifact.
public struct ArtifactMetadata: Codable, Hashable, Sendable {
    /// The artifact layout version this runtime reads; bumped on any incompatible change.
    public static let currentFormatVersion = 1

    /// The artifact layout version the file was written with.
    public var formatVersion: Int
    /// The version of Kiln that compiled the model.
    public var kilnVersion: String
    /// The model's name, used in error messages.
    public var modelName: String
    /// The C symbol of the generated entry point, normally `kiln_run`.
    public var entryPoint: String
    /// The C symbol of the multi-threaded entry point, which hands the layers split among threads
    /// to the runtime's thread pool; `nil` when every layer runs on one thread.
    public var parallelEntryPoint: String?
    /// The inputs, in the order the entry point takes them.
    public var inputs: [TensorSignature]
    /// The outputs, in the order the entry point writes them.
    public var outputs: [TensorSignature]
    /// The size of the scratch arena the entry point needs for intermediates.
    public var arenaByteCount: Int
    /// LLVM feature names (such as "avx2" or "sse4.1") the generated code uses.
    public var requiredCPUFeatures: [String]
    /// The LLVM target triple the code was generated for.
    public var targetTriple: String
    /// The LLVM CPU name the code was tuned for.
    public var targetCPU: String
    /// The number of bytes of weights embedded in the library.
    public var weightByteCount: Int
    /// For a model compiled with per-layer profiling, the layer names its cycle
    /// counters belong to (one `UInt64` each, in order); `nil` otherwise.
    public var profiledLayers: [String]?
    /// The ISA level the code is for (`avx2`, `neondot`, …); `nil` in artifacts from before variants.
    public var isaLevel: String?
    /// For an artifact holding code for several ISA levels, each level's code, best first (the
    /// first is also described by the fields above); `nil` for one level. A loaded
    /// `CompiledModel`'s metadata describes the variant it runs.
    public var variants: [CodeVariant]?
    /// For a model compiled with a delegate, where each layer runs and the delegate's payload;
    /// every variant then also exports `ENTRY_nodes`, which runs a range of layers on the CPU.
    public var delegatePlan: DelegatePlan?

    /// The code for one ISA level in an artifact that holds several.
    public struct CodeVariant: Codable, Hashable, Sendable {
        /// The ISA level, as the kernel plan names it (`avx512vnni`, `avx2`, `neon`, …).
        public var isaLevel: String
        /// The C symbol of this variant's entry point.
        public var entryPoint: String
        /// The C symbol of this variant's multi-threaded entry point, if it has split layers.
        public var parallelEntryPoint: String?
        /// LLVM feature names the variant's code uses; a CPU must have all of them to run it.
        public var requiredCPUFeatures: [String]
        /// The LLVM CPU name the variant was tuned for.
        public var targetCPU: String

        /// Creates a variant from all of its fields.
        public init(
            isaLevel: String, entryPoint: String, parallelEntryPoint: String?, requiredCPUFeatures: [String],
            targetCPU: String
        ) {
            self.isaLevel = isaLevel
            self.entryPoint = entryPoint
            self.parallelEntryPoint = parallelEntryPoint
            self.requiredCPUFeatures = requiredCPUFeatures
            self.targetCPU = targetCPU
        }
    }

    /// Creates metadata from all of its fields.
    public init(
        formatVersion: Int = ArtifactMetadata.currentFormatVersion,
        kilnVersion: String = KilnVersion.current,
        modelName: String,
        entryPoint: String = "kiln_run",
        inputs: [TensorSignature],
        outputs: [TensorSignature],
        arenaByteCount: Int,
        requiredCPUFeatures: [String],
        targetTriple: String,
        targetCPU: String,
        weightByteCount: Int,
        profiledLayers: [String]? = nil,
        parallelEntryPoint: String? = nil,
        isaLevel: String? = nil,
        variants: [CodeVariant]? = nil
    ) {
        self.formatVersion = formatVersion
        self.kilnVersion = kilnVersion
        self.modelName = modelName
        self.entryPoint = entryPoint
        self.inputs = inputs
        self.outputs = outputs
        self.arenaByteCount = arenaByteCount
        self.requiredCPUFeatures = requiredCPUFeatures
        self.targetTriple = targetTriple
        self.targetCPU = targetCPU
        self.weightByteCount = weightByteCount
        self.profiledLayers = profiledLayers
        self.parallelEntryPoint = parallelEntryPoint
        self.isaLevel = isaLevel
        self.variants = variants
    }
}
