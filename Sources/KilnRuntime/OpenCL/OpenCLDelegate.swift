#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A started OpenCL delegate: one device, its context and queue, the built program, every
/// device buffer (weights uploaded once) and one kernel object per launch with its arguments
/// bound, so a run only copies the partition's inputs, enqueues kernels and copies outputs back.
///
/// On a device that shares the host's memory (integrated GPUs, CPU devices), weights are read in
/// place from the artifact's library and the tensors a partition exchanges with the CPU through the
/// arena are read and written in place there: those buffers are created over host memory and
/// mapped to the host except while a partition's kernels run, so nothing is copied.
final class OpenCLDelegate {
    private let cl: OpenCLLibrary
    private let context: OpaquePointer
    private let queue: OpaquePointer
    private let program: OpaquePointer
    private var buffers: [OpaquePointer] = []
    /// Per partition, per launch: the kernel object with its arguments bound.
    private var kernels: [[OpaquePointer]] = []
    private let description: OpenCLProgram
    /// The arena-backed buffers, by index, with the host memory each is created over; mapped to
    /// the host between partitions.
    private var arenaBacked: [Int: UnsafeMutableRawPointer] = [:]
    /// Per partition, the arena-backed buffers its kernels or copies touch, in index order.
    private var arenaBackedPerPartition: [[Int]] = []
    /// The allocation the planned tensors' sub-buffers lie in, if any.
    private var sharedTensorMemory: OpaquePointer?
    /// The device's name, as its driver reports it.
    let deviceName: String
    /// Whether weights and arena tensors are used in place rather than copied.
    let sharesHostMemory: Bool
    /// With per-layer profiling, the device nanoseconds of each layer's kernels (indexed like the
    /// placement), summed over runs; empty otherwise.
    private(set) var layerNanoseconds: [UInt64]
    /// One profiling event per launch of the longest partition, reused by every run.
    private var events: [OpaquePointer?]

    /// Starts the delegate for `program` on the best device (a GPU, else an accelerator, else any),
    /// with weights from `constants` and the CPU code's `arena`.
    ///
    /// `KILN_OPENCL_ZERO_COPY=0` in the environment makes it copy even where the device shares memory.
    /// With `profiledLayers`, the number of the model's layers, each kernel's device time is
    /// recorded per layer (``layerNanoseconds``).
    init(
        program description: OpenCLProgram, constants: UnsafeRawPointer?, arena: UnsafeMutableRawPointer,
        profiledLayers: Int? = nil
    ) throws {
        let cl = try OpenCLLibrary()
        let device = try Self.bestDevice(cl)
        var status: Int32 = 0
        var devices: [OpaquePointer?] = [device]
        guard let context = cl.createContext(nil, 1, &devices, nil, nil, &status) else {
            throw OpenCLError.call("clCreateContext", status: status)
        }
        let properties = profiledLayers == nil ? 0 : OpenCLLibrary.Constant.queueProfilingEnable
        guard let queue = cl.createCommandQueue(context, device, properties, &status) else {
            _ = cl.releaseContext(context)
            throw OpenCLError.call("clCreateCommandQueue", status: status)
        }
        let deviceName = (try? cl.deviceString(device, OpenCLLibrary.Constant.deviceName)) ?? "OpenCL device"
        let program: OpaquePointer
        do {
            program = try OpenCLProgramBuilder(cl: cl, context: context, device: device, deviceName: deviceName)
                .build(source: description.source)
        } catch {
            _ = cl.releaseCommandQueue(queue)
            _ = cl.releaseContext(context)
            throw error
        }
        self.cl = cl
        self.context = context
        self.queue = queue
        self.program = program
        self.description = description
        self.deviceName = deviceName
        layerNanoseconds = [UInt64](repeating: 0, count: profiledLayers ?? 0)
        events = [OpaquePointer?](
            repeating: nil, count: profiledLayers == nil ? 0 : description.partitions.map(\.launches.count).max() ?? 0)
        sharesHostMemory =
            ProcessInfo.processInfo.environment["KILN_OPENCL_ZERO_COPY"] != "0"
            && (try? cl.deviceNumber(device, OpenCLLibrary.Constant.deviceHostUnifiedMemory)) ?? 0 != 0
        // From here on, deinit releases whatever was created.
        try createBuffers(constants: constants, arena: arena, device: device)
        try createKernels()
    }

    /// Creates every device buffer: weights from the constants, arena-backed buffers over the
    /// arena where the device shares the host's memory, and the other tensors in the device
    /// memory they share as planned (each in its own allocation where the device cannot).
    private func createBuffers(constants: UnsafeRawPointer?, arena: UnsafeMutableRawPointer, device: OpaquePointer) throws {
        typealias Constant = OpenCLLibrary.Constant
        let arenaOffsets = sharesHostMemory ? description.arenaBackedBuffers : [:]
        var status: Int32 = 0
        sharedTensorMemory = try createSharedTensorMemory(excluding: arenaOffsets, device: device)
        for (index, buffer) in description.buffers.enumerated() {
            let size = max(buffer.byteCount, 4)
            var created: OpaquePointer?
            if let offset = buffer.constantOffset {
                guard let constants, offset >= 0, offset + buffer.byteCount <= description.constantsByteCount else {
                    throw OpenCLError.unavailable("a weights buffer lies outside the artifact's constants; recompile it")
                }
                let host = UnsafeMutableRawPointer(mutating: constants + offset)
                // A driver may refuse host memory it cannot pin (the library's read-only pages): copy then.
                if sharesHostMemory, buffer.byteCount > 0 {
                    created = cl.createBuffer(
                        context, Constant.memReadOnly | Constant.memUseHostPointer, buffer.byteCount, host, &status)
                }
                created =
                    created
                    ?? cl.createBuffer(context, Constant.memReadOnly | Constant.memCopyHostPointer, size, host, &status)
            } else if let offset = arenaOffsets[index] {
                created = try arenaBackedBuffer(index, over: arena + offset, byteCount: buffer.byteCount)
            } else if let sharedTensorMemory, let offset = buffer.deviceOffset {
                created =
                    cl.subBuffer(of: sharedTensorMemory, offset: offset, byteCount: size, status: &status)
                    ?? cl.createBuffer(context, Constant.memReadWrite, size, nil, &status)
            } else {
                created = cl.createBuffer(context, Constant.memReadWrite, size, nil, &status)
            }
            guard let created else { throw OpenCLError.call("clCreateBuffer", status: status) }
            buffers.append(created)
        }
        arenaBackedPerPartition = description.partitions.map { partition in
            let touched = partition.launches.flatMap(\.buffers) + (partition.uploads + partition.downloads).map(\.buffer)
            return Set(touched).filter { arenaBacked[$0] != nil }.sorted()
        }
    }

    /// The one allocation the planned tensors share, or `nil` when none is planned or the device
    /// cannot place sub-buffers at the planned offsets.
    private func createSharedTensorMemory(excluding arenaBacked: [Int: Int], device: OpaquePointer) throws -> OpaquePointer? {
        let planned = description.buffers.indices.filter {
            description.buffers[$0].deviceOffset != nil && description.buffers[$0].constantOffset == nil && arenaBacked[$0] == nil
        }
        let alignmentBits = (try? cl.deviceNumber(device, OpenCLLibrary.Constant.deviceMemBaseAddressAlignment)) ?? 0
        guard !planned.isEmpty, alignmentBits >= 8 else { return nil }
        let alignment = Int(alignmentBits) / 8
        var byteCount = 0
        for index in planned {
            let buffer = description.buffers[index]
            guard let offset = buffer.deviceOffset, offset >= 0, offset % alignment == 0 else { return nil }
            byteCount = max(byteCount, offset + max(buffer.byteCount, 4))
        }
        var status: Int32 = 0
        guard let memory = cl.createBuffer(context, OpenCLLibrary.Constant.memReadWrite, byteCount, nil, &status) else {
            throw OpenCLError.call("clCreateBuffer", status: status)
        }
        return memory
    }

    /// A buffer over `host`, mapped to the host; a device buffer instead when the driver refuses
    /// the host memory or maps it elsewhere (then the partition copies as usual).
    private func arenaBackedBuffer(_ index: Int, over host: UnsafeMutableRawPointer, byteCount: Int) throws -> OpaquePointer? {
        typealias Constant = OpenCLLibrary.Constant
        var status: Int32 = 0
        guard let buffer = cl.createBuffer(context, Constant.memReadWrite | Constant.memUseHostPointer, byteCount, host, &status)
        else { return cl.createBuffer(context, Constant.memReadWrite, max(byteCount, 4), nil, &status) }
        let mapped = cl.enqueueMapBuffer(
            queue, buffer, 1, Constant.mapRead | Constant.mapWrite, 0, byteCount, 0, nil, nil, &status)
        guard status == 0, mapped == host else {
            if status == 0 { _ = cl.enqueueUnmapMemObject(queue, buffer, mapped, 0, nil, nil) }
            _ = cl.finish(queue)
            _ = cl.releaseMemObject(buffer)
            return cl.createBuffer(context, Constant.memReadWrite, max(byteCount, 4), nil, &status)
        }
        arenaBacked[index] = host
        return buffer
    }

    /// Creates one kernel object per launch and binds its buffers.
    private func createKernels() throws {
        var status: Int32 = 0
        for partition in description.partitions {
            var partitionKernels: [OpaquePointer] = []
            defer { kernels.append(partitionKernels) }
            for launch in partition.launches {
                guard let kernel = cl.createKernel(program, launch.kernel, &status) else {
                    throw OpenCLError.call("clCreateKernel(\(launch.kernel))", status: status)
                }
                partitionKernels.append(kernel)
                for (position, index) in launch.buffers.enumerated() {
                    guard buffers.indices.contains(index) else {
                        throw OpenCLError.unavailable("kernel \(launch.kernel) names a buffer that does not exist; recompile")
                    }
                    var memory: OpaquePointer? = buffers[index]
                    try cl.check(
                        cl.setKernelArg(kernel, UInt32(position), MemoryLayout<OpaquePointer?>.size, &memory),
                        "clSetKernelArg")
                }
            }
        }
    }

    deinit {
        for (index, host) in arenaBacked { _ = cl.enqueueUnmapMemObject(queue, buffers[index], host, 0, nil, nil) }
        _ = cl.finish(queue)
        for kernel in kernels.joined() { _ = cl.releaseKernel(kernel) }
        for buffer in buffers { _ = cl.releaseMemObject(buffer) }
        if let sharedTensorMemory { _ = cl.releaseMemObject(sharedTensorMemory) }
        _ = cl.releaseProgram(program)
        _ = cl.releaseCommandQueue(queue)
        _ = cl.releaseContext(context)
    }

    /// Runs partition `index`: uploads its inputs from the host, runs its kernels in order and
    /// downloads its outputs, returning once they are on the host. Arena-backed buffers are
    /// handed to the device for the kernels and mapped back after them instead of copied.
    func run(
        partition index: Int, arena: UnsafeMutableRawPointer, inputs: UnsafePointer<UnsafeRawPointer?>,
        outputs: UnsafePointer<UnsafeMutableRawPointer?>
    ) throws {
        let partition = description.partitions[index]
        func host(_ location: OpenCLProgram.HostLocation) -> UnsafeMutableRawPointer? {
            switch location {
            case .input(let input): UnsafeMutableRawPointer(mutating: inputs[input])
            case .output(let output): outputs[output]
            case .arena(let offset): arena + offset
            }
        }
        for upload in partition.uploads where arenaBacked[upload.buffer] == nil {
            let buffer = description.buffers[upload.buffer]
            try cl.check(
                cl.enqueueWriteBuffer(
                    queue, buffers[upload.buffer], 0, 0, buffer.byteCount, host(upload.location), 0, nil, nil),
                "clEnqueueWriteBuffer")
        }
        for shared in arenaBackedPerPartition[index] {
            try cl.check(
                cl.enqueueUnmapMemObject(queue, buffers[shared], arenaBacked[shared], 0, nil, nil), "clEnqueueUnmapMemObject")
        }
        let profiling = !events.isEmpty
        // An empty tensor has no work, and OpenCL 1.2 rejects a global size of zero.
        for (number, (launch, kernel)) in zip(partition.launches, kernels[index]).enumerated()
        where !launch.globalSize.contains(0) {
            try launch.globalSize.withUnsafeBufferPointer { size in
                try events.withUnsafeMutableBufferPointer { events in
                    try cl.check(
                        cl.enqueueNDRangeKernel(
                            queue, kernel, UInt32(size.count), nil, size.baseAddress, nil, 0, nil,
                            profiling ? events.baseAddress.map { $0 + number } : nil),
                        "clEnqueueNDRangeKernel(\(launch.kernel))")
                }
            }
        }
        for shared in arenaBackedPerPartition[index] {
            var status: Int32 = 0
            let mapped = cl.enqueueMapBuffer(
                queue, buffers[shared], 0, OpenCLLibrary.Constant.mapRead | OpenCLLibrary.Constant.mapWrite, 0,
                description.buffers[shared].byteCount, 0, nil, nil, &status)
            try cl.check(status, "clEnqueueMapBuffer")
            guard mapped == arenaBacked[shared] else {
                throw OpenCLError.unavailable("the driver mapped an arena tensor to another address; run with KILN_OPENCL_ZERO_COPY=0")
            }
        }
        for download in partition.downloads where arenaBacked[download.buffer] == nil {
            let buffer = description.buffers[download.buffer]
            try cl.check(
                cl.enqueueReadBuffer(
                    queue, buffers[download.buffer], 0, 0, buffer.byteCount, host(download.location), 0, nil, nil),
                "clEnqueueReadBuffer")
        }
        try cl.check(cl.finish(queue), "clFinish")
        if profiling { try recordLayerTimes(of: partition) }
    }

    /// Adds each finished launch's device time to its layer and releases its event.
    private func recordLayerTimes(of partition: OpenCLProgram.Partition) throws {
        for (number, launch) in partition.launches.enumerated() {
            guard let event = events[number] else { continue }
            events[number] = nil
            defer { _ = cl.releaseEvent(event) }
            let nanoseconds = try cl.duration(of: event)
            if let layer = launch.layer, layerNanoseconds.indices.contains(layer) {
                layerNanoseconds[layer] &+= nanoseconds
            }
        }
    }

    /// Sets every layer's device time to zero.
    func resetLayerNanoseconds() {
        layerNanoseconds = [UInt64](repeating: 0, count: layerNanoseconds.count)
    }

    /// The first GPU of any platform, else the first accelerator, else the first device of any kind.
    static func bestDevice(_ cl: OpenCLLibrary) throws -> OpaquePointer {
        var count: UInt32 = 0
        let status = cl.getPlatformIDs(0, nil, &count)
        guard status == 0 || status == OpenCLLibrary.Constant.platformNotFound else {
            throw OpenCLError.call("clGetPlatformIDs", status: status)
        }
        guard count > 0 else { throw OpenCLError.unavailable("no OpenCL platform is installed") }
        var platforms = [OpaquePointer?](repeating: nil, count: Int(count))
        try cl.check(cl.getPlatformIDs(count, &platforms, nil), "clGetPlatformIDs")
        for type in [
            OpenCLLibrary.Constant.deviceTypeGPU, OpenCLLibrary.Constant.deviceTypeAccelerator,
            OpenCLLibrary.Constant.deviceTypeAll,
        ] {
            for platform in platforms {
                var device: OpaquePointer?
                let found = cl.getDeviceIDs(platform, type, 1, &device, nil)
                if found == 0, let device { return device }
                guard found == OpenCLLibrary.Constant.deviceNotFound else {
                    throw OpenCLError.call("clGetDeviceIDs", status: found)
                }
            }
        }
        throw OpenCLError.unavailable("no OpenCL device is available")
    }
}

/// What OpenCL offers on this machine, for apps and tools that report it before loading a model.
public enum OpenCLDevices {
    /// The name of the device the OpenCL delegate would run on here, or why there is none.
    public static func preferred() -> Result<String, OpenCLError> {
        do {
            let cl = try OpenCLLibrary()
            let device = try OpenCLDelegate.bestDevice(cl)
            return .success(try cl.deviceString(device, OpenCLLibrary.Constant.deviceName))
        } catch let error as OpenCLError {
            return .failure(error)
        } catch {
            return .failure(.unavailable("\(error)"))
        }
    }
}
