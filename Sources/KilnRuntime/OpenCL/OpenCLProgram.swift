/// Everything the OpenCL delegate runs, generated at build time: OpenCL C source, device
/// buffers (weights among them), and per partition its uploads, kernel launches and downloads.
public struct OpenCLProgram: Codable, Hashable, Sendable {
    /// The OpenCL C source of every kernel.
    public var source: String
    /// The exported data symbol in the artifact's library holding the weights buffers start from.
    public var constantsSymbol: String
    /// The size of that data.
    public var constantsByteCount: Int
    /// The device buffers, indexed by ``Launch/buffers`` and ``Transfer/buffer``.
    public var buffers: [Buffer]
    /// The partitions, in the order the schedule names them.
    public var partitions: [Partition]

    /// Creates a program from all of its parts.
    public init(source: String, constantsSymbol: String, constantsByteCount: Int, buffers: [Buffer], partitions: [Partition]) {
        self.source = source
        self.constantsSymbol = constantsSymbol
        self.constantsByteCount = constantsByteCount
        self.buffers = buffers
        self.partitions = partitions
    }

    /// One device buffer.
    public struct Buffer: Codable, Hashable, Sendable {
        /// Its size in bytes.
        public var byteCount: Int
        /// For a read-only weights buffer, where its bytes start in the constants; `nil` otherwise.
        public var constantOffset: Int?
        /// For a tensor, where it lies in the device memory the program's tensors share
        /// (``deviceMemoryByteCount``), planned at build time; `nil` for its own allocation.
        public var deviceOffset: Int?

        /// Creates a buffer description.
        public init(byteCount: Int, constantOffset: Int? = nil, deviceOffset: Int? = nil) {
            self.byteCount = byteCount
            self.constantOffset = constantOffset
            self.deviceOffset = deviceOffset
        }
    }

    /// The bytes of device memory the planned tensors share: the end of the last one.
    public var deviceMemoryByteCount: Int {
        buffers.reduce(0) { end, buffer in buffer.deviceOffset.map { max(end, $0 + buffer.byteCount) } ?? end }
    }

    /// A connected piece of the graph that runs on the device.
    public struct Partition: Codable, Hashable, Sendable {
        /// Host values copied to device buffers before the kernels run.
        public var uploads: [Transfer]
        /// The kernels, in order.
        public var launches: [Launch]
        /// Device buffers copied back to the host after the kernels.
        public var downloads: [Transfer]

        /// Creates a partition.
        public init(uploads: [Transfer], launches: [Launch], downloads: [Transfer]) {
            self.uploads = uploads
            self.launches = launches
            self.downloads = downloads
        }
    }

    /// A copy between a device buffer and a value on the host.
    public struct Transfer: Codable, Hashable, Sendable {
        /// The device buffer.
        public var buffer: Int
        /// The host memory: a model input or output, or a place in the arena.
        public var location: HostLocation

        /// Creates a transfer.
        public init(buffer: Int, location: HostLocation) {
            self.buffer = buffer
            self.location = location
        }
    }

    /// Where a value lives on the host, as the CPU code keeps it.
    public enum HostLocation: Codable, Hashable, Sendable {
        /// The caller's input buffer `index`.
        case input(Int)
        /// The caller's output buffer `index`.
        case output(Int)
        /// The arena, from `offset`.
        case arena(Int)
    }

    /// One kernel launch: a kernel of the source, its buffer arguments and its global size.
    public struct Launch: Codable, Hashable, Sendable {
        /// The kernel's function name in the source.
        public var kernel: String
        /// Its arguments, device buffers in parameter order.
        public var buffers: [Int]
        /// The global work size (one to three dimensions).
        public var globalSize: [Int]
        /// The layer (index in the placement) the kernel computes, for per-layer profiles.
        public var layer: Int?

        /// Creates a launch.
        public init(kernel: String, buffers: [Int], globalSize: [Int], layer: Int? = nil) {
            self.kernel = kernel
            self.buffers = buffers
            self.globalSize = globalSize
            self.layer = layer
        }
    }
}

extension OpenCLProgram {
    /// The buffers a device sharing the host's memory can use in place of the arena, by the arena
    /// offset each lives at: those whose every copy is to or from one arena range, at least a
    /// byte long, that no other such range overlaps (kernels take their buffers as `restrict`).
    public var arenaBackedBuffers: [Int: Int] {
        var places: [Int: Set<HostLocation>] = [:]
        for partition in partitions {
            for transfer in partition.uploads + partition.downloads {
                places[transfer.buffer, default: []].insert(transfer.location)
            }
        }
        var ranges: [(buffer: Int, offset: Int, end: Int)] = []
        for (buffer, locations) in places where locations.count == 1 && buffers.indices.contains(buffer) {
            guard case .arena(let offset) = locations.first, buffers[buffer].byteCount > 0,
                buffers[buffer].constantOffset == nil
            else { continue }
            ranges.append((buffer, offset, offset + buffers[buffer].byteCount))
        }
        ranges.sort { ($0.offset, $0.buffer) < ($1.offset, $1.buffer) }
        var backed: [Int: Int] = [:]
        for (position, range) in ranges.enumerated() {
            let overlapsBefore = position > 0 && ranges[..<position].contains { $0.end > range.offset }
            let overlapsAfter = position + 1 < ranges.count && ranges[position + 1].offset < range.end
            if !overlapsBefore && !overlapsAfter { backed[range.buffer] = range.offset }
        }
        return backed
    }
}
