#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A compiled model loaded from an artifact file, ready to run.
///
/// Safe to share between threads: the model owns one scratch arena and one
/// set of buffer tables that every run reuses, so runs on one instance take
/// turns (a mutex held for the run; uncontended, it costs tens of nanoseconds
/// and allocates nothing). For inferences in parallel, load one instance per
/// thread; instances share nothing but the read-only mapped library.
///
/// glibc's loader shares a library among all handles opened on the same
/// file, so do not overwrite an artifact in place while a model loaded from
/// it is alive; write the new one to a new path (or rename over the old,
/// as `ArtifactFile.write` does).
public final class CompiledModel: @unchecked Sendable {
    /// The description of the model stored in the artifact.
    public let metadata: ArtifactMetadata
    /// The artifact file this model was loaded from; `nil` for a model linked into the program.
    public let url: URL?

    /// The signature of the generated C entry point:
    /// `void kiln_run(void *arena, const void *const *inputs, void *const *outputs)`.
    public typealias EntryPoint =
        @convention(c) (
            UnsafeMutableRawPointer?,
            UnsafePointer<UnsafeRawPointer?>?,
            UnsafePointer<UnsafeMutableRawPointer?>?
        ) -> Void

    /// The signature of the generated multi-threaded entry point: the serial one's parameters,
    /// then the ``ThreadPool`` and the `parallel_for` that hands split layers' rows to it.
    typealias ParallelEntryPoint =
        @convention(c) (
            UnsafeMutableRawPointer?,
            UnsafePointer<UnsafeRawPointer?>?,
            UnsafePointer<UnsafeMutableRawPointer?>?,
            UnsafeMutableRawPointer?,
            UnsafeMutableRawPointer?
        ) -> Void

    /// Kept alive so that `entryPoint` stays mapped; `nil` for a linked model.
    private let library: DynamicLibrary?
    let entryPoint: EntryPoint
    /// The multi-threaded entry point and its pool, when the model runs on more than one thread.
    private(set) var parallel: (entryPoint: ParallelEntryPoint, pool: ThreadPool)?
    /// `kilnParallelFor` as the pointer the generated code calls.
    nonisolated(unsafe) static let parallelFor = unsafeBitCast(kilnParallelFor, to: UnsafeMutableRawPointer.self)

    /// The started delegate and the CPU code between its partitions; `nil` when the model runs on the CPU alone.
    private(set) var delegated: Delegated?
    /// Where each layer runs and, for layers on the CPU, why: the artifact's placement when its
    /// delegate started, every layer on the CPU (with the delegate's error) when it did not, and
    /// empty for a model compiled without a delegate, which runs wholly on the CPU.
    public private(set) var placement: [LayerPlacement] = []
    /// The name of the device the delegate runs on; `nil` when the model runs on the CPU alone.
    public var delegateDevice: String? { delegated?.delegate.deviceName }
    /// Whether the delegate reads weights and the tensors it exchanges with the CPU in place, on a
    /// device that shares this machine's memory, instead of copying them; `false` without a delegate.
    public var delegateSharesHostMemory: Bool { delegated?.delegate.sharesHostMemory ?? false }

    /// The threads a run uses: the pool's, or 1 for a model without split layers or a pool.
    public var threadCount: Int { parallel?.pool.threadCount ?? 1 }
    /// Scratch memory for the generated code's intermediates, allocated once.
    let arena: UnsafeMutableRawPointer
    /// The pointer tables handed to the entry point, filled in by each run.
    let inputTable: UnsafeMutablePointer<UnsafeRawPointer?>
    let outputTable: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// The cycle counters of a model compiled with per-layer profiling.
    private var layerCycleCounters: UnsafeMutablePointer<UInt64>?
    /// Held for each run: the arena, the pointer tables and the counters are written only under it.
    /// A pthread mutex rather than `Synchronization.Mutex`, whose futex ThreadSanitizer cannot see.
    private let runLock: UnsafeMutablePointer<pthread_mutex_t>
    /// Each tensor's size and alignment, computed once so runs do no shape arithmetic.
    let inputRequirements: [BufferRequirement]
    let outputRequirements: [BufferRequirement]

    /// The alignment the generated code relies on for the arena.
    static let arenaAlignment = 64

    /// Loads the artifact at `url`, checking that this runtime and CPU can run it.
    ///
    /// Verifies the trailer and checksum, the artifact format and Kiln
    /// versions, and the CPU features the generated code needs, then loads
    /// the library and allocates the arena. Each failure throws a
    /// `RuntimeError` naming the file and what to do about it.
    ///
    /// With `threads` above 1 (by default one per performance core, ``ThreadPool/defaultThreadCount``),
    /// layers the compiler split among threads (large convolutions and matrix products) run on a
    /// ``ThreadPool`` of that many threads, created for this model when it has such layers; the
    /// results are the same bit for bit as on one thread.
    ///
    /// An artifact holding several models (KilnPlugin writes one per model file) loads the one
    /// named `model`; `nil` takes the artifact's only model.
    ///
    /// An artifact with code for several ISA levels (the default `.portable` target) runs the best
    /// one `cpuFeatures` allows, by default this CPU's (``HostCPU/features``); ``metadata`` then
    /// describes that variant. Pass a smaller set to run a more portable variant,
    /// as a test of what another machine runs.
    ///
    /// A model compiled with a delegate (`CompileOptions(delegates:)`) runs its delegated layers there
    /// when the delegate starts on this machine, and entirely on the CPU otherwise, unless the
    /// artifact or `delegate` requires it; ``placement`` tells where each layer runs and why.
    public convenience init(
        contentsOf url: URL, model: String? = nil, threads: Int = ThreadPool.defaultThreadCount,
        cpuFeatures: Set<String>? = HostCPU.features, delegate: DelegateSelection = .automatic
    ) throws {
        try self.init(
            contentsOf: url, model: model, cpuFeatures: cpuFeatures, delegate: delegate,
            makePool: threads > 1 ? { ThreadPool(threads: threads) } : nil)
    }

    /// Loads the artifact at `url` (its model named `model`, if it holds several) to run its split
    /// layers on `pool`, which models may share (one runs on it at a time; a layer that finds it
    /// busy runs on its caller alone).
    public convenience init(
        contentsOf url: URL, model: String? = nil, pool: ThreadPool?, cpuFeatures: Set<String>? = HostCPU.features,
        delegate: DelegateSelection = .automatic
    ) throws {
        try self.init(
            contentsOf: url, model: model, cpuFeatures: cpuFeatures, delegate: delegate,
            makePool: pool.map { pool in { pool } })
    }

    /// Loads the artifact at `url`, calling `makePool` for a pool only if the model has split layers.
    private convenience init(
        contentsOf url: URL, model name: String?, cpuFeatures: Set<String>?, delegate selection: DelegateSelection,
        makePool: (() -> ThreadPool)?
    ) throws {
        guard url.isFileURL else {
            throw RuntimeError("cannot load '\(url)': compiled models must be local files")
        }
        let source = url.path
        let models = try ArtifactFile.readContents(contentsOf: url).models
        let metadata = try Self.checkCompatibility(
            of: Self.select(name, among: models, source: source), cpuFeatures: cpuFeatures, source: source)
        let requirements = try Self.bufferRequirements(of: metadata, source: source)

        let library = try DynamicLibrary(path: source) { reason in
            RuntimeError(
                "cannot load the code of '\(source)' (model '\(metadata.modelName)'): \(reason)")
        }
        let address = try library.address(of: metadata.entryPoint) { reason in
            RuntimeError(
                "'\(source)' (model '\(metadata.modelName)') does not export its entry point"
                    + " '\(metadata.entryPoint)' (\(reason)); the artifact is damaged, recompile it"
            )
        }

        var counters: UnsafeMutablePointer<UInt64>?
        if metadata.profiledLayers != nil {
            let symbol = metadata.entryPoint + "_layer_cycles"
            counters = try library.address(of: symbol) { reason in
                RuntimeError(
                    "'\(source)' (model '\(metadata.modelName)') was compiled with per-layer profiling but does not"
                        + " export '\(symbol)' (\(reason)); the artifact is damaged, recompile it")
            }.assumingMemoryBound(to: UInt64.self)
        }
        var parallel: (ParallelEntryPoint, ThreadPool)?
        if let symbol = metadata.parallelEntryPoint, let pool = makePool?(), pool.threadCount > 1 {
            let parallelAddress = try library.address(of: symbol) { reason in
                RuntimeError(
                    "'\(source)' (model '\(metadata.modelName)') does not export its multi-threaded entry point"
                        + " '\(symbol)' (\(reason)); the artifact is damaged, recompile it")
            }
            parallel = (unsafeBitCast(parallelAddress, to: ParallelEntryPoint.self), pool)
        }
        self.init(
            metadata: metadata, url: url, library: library, entryPoint: unsafeBitCast(address, to: EntryPoint.self),
            requirements: requirements)
        layerCycleCounters = counters
        self.parallel = parallel
        // After the arena exists: a delegate on a device that shares host memory works in it.
        (delegated, placement) = try Self.startDelegate(
            for: metadata, library: library, selection: selection, threaded: parallel != nil, arena: arena,
            source: source)
    }

    /// Takes ownership of a loaded entry point and allocates the arena and pointer tables once.
    private init(
        metadata: ArtifactMetadata, url: URL?, library: DynamicLibrary?, entryPoint: EntryPoint,
        requirements: (inputs: [BufferRequirement], outputs: [BufferRequirement])
    ) {
        self.metadata = metadata
        self.url = url
        self.library = library
        self.entryPoint = entryPoint
        self.inputRequirements = requirements.inputs
        self.outputRequirements = requirements.outputs
        // At least one byte, so a model with no intermediates still gets a valid pointer.
        arena = UnsafeMutableRawPointer.allocate(
            byteCount: max(1, metadata.arenaByteCount), alignment: Self.arenaAlignment)
        inputTable = .allocate(capacity: max(1, metadata.inputs.count))
        inputTable.initialize(repeating: nil, count: max(1, metadata.inputs.count))
        outputTable = .allocate(capacity: max(1, metadata.outputs.count))
        outputTable.initialize(repeating: nil, count: max(1, metadata.outputs.count))
        runLock = .allocate(capacity: 1)
        pthread_mutex_init(runLock, nil)
    }

    /// Wraps a model whose object file is linked into this program (`kiln compile --static`).
    ///
    /// `metadataJSON` is what the object's `kiln_NAME_metadata()` returns; it
    /// is checked like an artifact's (format, Kiln version, CPU features).
    ///
    /// ```swift
    /// let model = try CompiledModel(linkedEntryPoint: kiln_Digits_run, metadataJSON: String(cString: kiln_Digits_metadata()))
    /// ```
    public convenience init(linkedEntryPoint: EntryPoint, metadataJSON: String) throws {
        let source = "linked model"
        let metadata: ArtifactMetadata
        do {
            metadata = try JSONDecoder().decode(ArtifactMetadata.self, from: Data(metadataJSON.utf8))
        } catch {
            throw RuntimeError("the linked model's metadata cannot be read (\(error)); regenerate its object file")
        }
        // A static object holds one variant, so this only checks it.
        _ = try Self.checkCompatibility(of: metadata, cpuFeatures: HostCPU.features, source: source)
        let requirements = try Self.bufferRequirements(of: metadata, source: source)
        self.init(metadata: metadata, url: nil, library: nil, entryPoint: linkedEntryPoint, requirements: requirements)
    }

    deinit {
        // The delegate's buffers may lie in the arena: release them first.
        delegated = nil
        arena.deallocate()
        inputTable.deallocate()
        outputTable.deallocate()
        pthread_mutex_destroy(runLock)
        runLock.deallocate()
        // `library` closes itself after this, once nothing can call into it.
    }

    /// The model named `name` among an artifact's `models`, or its only model when `name` is nil.
    private static func select(_ name: String?, among models: [ArtifactMetadata], source: String) throws
        -> ArtifactMetadata
    {
        let names = models.map { "'\($0.modelName)'" }.joined(separator: ", ")
        guard let name else {
            guard models.count == 1 else {
                throw RuntimeError("'\(source)' holds \(models.count) models (\(names)); name the one to load with model:")
            }
            return models[0]
        }
        guard let model = models.first(where: { $0.modelName == name }) else {
            throw RuntimeError(
                "'\(source)' holds no model named '\(name)' but \(names); rebuild the app if the model was just added")
        }
        return model
    }

    /// Rejects artifacts from another format or Kiln version, or for a CPU this one is not, and
    /// returns the metadata of the best code variant a CPU with `cpuFeatures` runs.
    private static func checkCompatibility(of metadata: ArtifactMetadata, cpuFeatures: Set<String>?, source: String)
        throws -> ArtifactMetadata
    {
        guard metadata.formatVersion == ArtifactMetadata.currentFormatVersion else {
            throw ArtifactFile.formatVersionError(
                source: source, formatVersion: metadata.formatVersion,
                kilnVersion: metadata.kilnVersion)
        }
        guard KilnVersion.isCompatible(metadata.kilnVersion) else {
            let series = KilnVersion.majorMinor(of: KilnVersion.current) ?? KilnVersion.current
            throw RuntimeError(
                "'\(source)' was compiled by Kiln \(metadata.kilnVersion), this runtime is"
                    + " \(KilnVersion.current); recompile it with Kiln \(series).x")
        }
        // Checked before loading: running the code would die with SIGILL instead.
        guard let variant = metadata.variant(for: cpuFeatures) else {
            let baseline = metadata.codeVariants.last ?? metadata.codeVariants[0]
            let missing = HostCPU.missingFeatures(baseline.requiredCPUFeatures, available: cpuFeatures ?? [])
            let compiledFor =
                metadata.codeVariants.count == 1
                ? "was compiled for CPU '\(baseline.targetCPU)' (\(metadata.targetTriple)) and needs"
                : "holds code for \(metadata.codeVariants.map(\.isaLevel).joined(separator: ", ")) (\(metadata.targetTriple));"
                    + " even its most portable variant needs"
            throw RuntimeError(
                "'\(source)' (model '\(metadata.modelName)') \(compiledFor) CPU"
                    + " \(missing.count == 1 ? "feature" : "features")"
                    + " \(missing.joined(separator: ", ")), which this machine lacks;"
                    + " recompile it for this machine's CPU or a more generic one (target .portable)")
        }
        return metadata.variants == nil ? metadata : metadata.selecting(variant)
    }

    /// What each tensor's buffer must be, or an error if the metadata describes impossible sizes.
    private static func bufferRequirements(of metadata: ArtifactMetadata, source: String) throws
        -> (inputs: [BufferRequirement], outputs: [BufferRequirement])
    {
        func requirements(_ tensors: [TensorSignature], _ role: String) throws
            -> [BufferRequirement]
        {
            try tensors.map { tensor in
                guard let count = tensor.checkedByteCount else {
                    throw RuntimeError(
                        "'\(source)' declares \(role) '\(tensor.name)' with invalid shape"
                            + " \(tensor.shape); the artifact is damaged, recompile it")
                }
                return BufferRequirement(byteCount: count, elementType: tensor.elementType)
            }
        }
        guard metadata.arenaByteCount >= 0 else {
            throw RuntimeError(
                "'\(source)' declares a negative arena size (\(metadata.arenaByteCount));"
                    + " the artifact is damaged, recompile it")
        }
        return (
            try requirements(metadata.inputs, "input"), try requirements(metadata.outputs, "output")
        )
    }
}

/// The size and alignment a caller's buffer must have for one tensor.
struct BufferRequirement {
    var byteCount: Int
    var elementType: ElementType

    /// Element alignment: what the generated code's loads and stores assume.
    var alignment: Int { elementType.byteSize }
}

extension CompiledModel {
    /// Runs `body`, which uses the arena, the pointer tables or the counters, while no other
    /// thread does: runs on one model take turns.
    func exclusively<Result>(_ body: () throws -> Result) rethrows -> Result {
        pthread_mutex_lock(runLock)
        defer { pthread_mutex_unlock(runLock) }
        return try body()
    }

    /// CPU time-stamp cycles spent in each layer of `metadata.profiledLayers`,
    /// summed over every run since loading or the last ``resetLayerCycles()``;
    /// `nil` for a model compiled without per-layer profiling.
    public func layerCycles() -> [UInt64]? {
        guard let layerCycleCounters, let layers = metadata.profiledLayers else { return nil }
        return exclusively { Array(UnsafeBufferPointer(start: layerCycleCounters, count: layers.count)) }
    }

    /// Device nanoseconds spent in each delegated layer of `metadata.profiledLayers` (zero for
    /// layers on the CPU), summed over every run since loading or the last ``resetLayerCycles()``;
    /// `nil` for a model compiled without per-layer profiling or running on the CPU alone.
    public func delegateLayerNanoseconds() -> [UInt64]? {
        guard let delegate = delegated?.delegate, metadata.profiledLayers != nil else { return nil }
        return exclusively { delegate.layerNanoseconds }
    }

    /// Sets every layer's cycle count and delegate time to zero (e.g. after warm-up runs).
    public func resetLayerCycles() {
        guard let layerCycleCounters, let layers = metadata.profiledLayers else { return }
        exclusively {
            layerCycleCounters.update(repeating: 0, count: layers.count)
            delegated?.delegate.resetLayerNanoseconds()
        }
    }
}
