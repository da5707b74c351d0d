#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A started OpenCL delegate: one device, its context and queue, the built program, every
/// device buffer (weights uploaded once) and one kernel object per launch with its arguments
/// bound, so a run only copies the partition's inputs, enqueues kernels and copies outputs back.
final class OpenCLDelegate {
    private let cl: OpenCLLibrary
    private let context: OpaquePointer
    private let queue: OpaquePointer
    private let program: OpaquePointer
    private var buffers: [OpaquePointer] = []
    /// Per partition, per launch: the kernel object with its arguments bound.
    private var kernels: [[OpaquePointer]] = []
    private let description: OpenCLProgram
    /// The device's name, as its driver reports it.
    let deviceName: String

    /// Starts the delegate for `program` on the best device (a GPU, else an accelerator, else any),
    /// uploading weights from `constants`.
    init(program description: OpenCLProgram, constants: UnsafeRawPointer?) throws {
        let cl = try OpenCLLibrary()
        let device = try Self.bestDevice(cl)
        var status: Int32 = 0
        var devices: [OpaquePointer?] = [device]
        guard let context = cl.createContext(nil, 1, &devices, nil, nil, &status) else {
            throw OpenCLError.call("clCreateContext", status: status)
        }
        guard let queue = cl.createCommandQueue(context, device, 0, &status) else {
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
        // From here on, deinit releases whatever was created.
        for buffer in description.buffers {
            let size = max(buffer.byteCount, 4)
            var created: OpaquePointer?
            if let offset = buffer.constantOffset {
                guard let constants, offset >= 0, offset + buffer.byteCount <= description.constantsByteCount else {
                    throw OpenCLError.unavailable("a weights buffer lies outside the artifact's constants; recompile it")
                }
                created = cl.createBuffer(
                    context, OpenCLLibrary.Constant.memReadOnly | OpenCLLibrary.Constant.memCopyHostPointer, size,
                    UnsafeMutableRawPointer(mutating: constants + offset), &status)
            } else {
                created = cl.createBuffer(context, OpenCLLibrary.Constant.memReadWrite, size, nil, &status)
            }
            guard let created else { throw OpenCLError.call("clCreateBuffer", status: status) }
            buffers.append(created)
        }
        for partition in description.partitions {
            var partitionKernels: [OpaquePointer] = []
            for launch in partition.launches {
                guard let kernel = cl.createKernel(program, launch.kernel, &status) else {
                    kernels.append(partitionKernels)
                    throw OpenCLError.call("clCreateKernel(\(launch.kernel))", status: status)
                }
                partitionKernels.append(kernel)
                for (position, index) in launch.buffers.enumerated() {
                    guard buffers.indices.contains(index) else {
                        kernels.append(partitionKernels)
                        throw OpenCLError.unavailable("kernel \(launch.kernel) names a buffer that does not exist; recompile")
                    }
                    var memory: OpaquePointer? = buffers[index]
                    try cl.check(
                        cl.setKernelArg(kernel, UInt32(position), MemoryLayout<OpaquePointer?>.size, &memory),
                        "clSetKernelArg")
                }
            }
            kernels.append(partitionKernels)
        }
    }

    deinit {
        for kernel in kernels.joined() { _ = cl.releaseKernel(kernel) }
        for buffer in buffers { _ = cl.releaseMemObject(buffer) }
        _ = cl.releaseProgram(program)
        _ = cl.releaseCommandQueue(queue)
        _ = cl.releaseContext(context)
    }

    /// Runs partition `index`: uploads its inputs from the host, runs its kernels in order and
    /// downloads its outputs, returning once they are on the host.
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
        for upload in partition.uploads {
            let buffer = description.buffers[upload.buffer]
            try cl.check(
                cl.enqueueWriteBuffer(
                    queue, buffers[upload.buffer], 0, 0, buffer.byteCount, host(upload.location), 0, nil, nil),
                "clEnqueueWriteBuffer")
        }
        // An empty tensor has no work, and OpenCL 1.2 rejects a global size of zero.
        for (launch, kernel) in zip(partition.launches, kernels[index]) where !launch.globalSize.contains(0) {
            try launch.globalSize.withUnsafeBufferPointer { size in
                try cl.check(
                    cl.enqueueNDRangeKernel(queue, kernel, UInt32(size.count), nil, size.baseAddress, nil, 0, nil, nil),
                    "clEnqueueNDRangeKernel(\(launch.kernel))")
            }
        }
        for download in partition.downloads {
            let buffer = description.buffers[download.buffer]
            try cl.check(
                cl.enqueueReadBuffer(
                    queue, buffers[download.buffer], 0, 0, buffer.byteCount, host(download.location), 0, nil, nil),
                "clEnqueueReadBuffer")
        }
        try cl.check(cl.finish(queue), "clFinish")
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
