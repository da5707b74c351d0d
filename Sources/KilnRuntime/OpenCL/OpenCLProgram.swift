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

        /// Creates a buffer description.
        public init(byteCount: Int, constantOffset: Int? = nil) {
            self.byteCount = byteCount
            self.constantOffset = constantOffset
        }
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

        /// Creates a launch.
        public init(kernel: String, buffers: [Int], globalSize: [Int]) {
            self.kernel = kernel
            self.buffers = buffers
            self.globalSize = globalSize
        }
    }
}
