/// Why the OpenCL delegate could not start or run: a missing library or device, or a failed
/// OpenCL call named with its status code.
public enum OpenCLError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No usable OpenCL library, platform or device on this machine.
    case unavailable(String)
    /// An OpenCL call returned an error status.
    case call(String, status: Int32)
    /// The driver could not compile the delegate's kernels; carries the driver's build log.
    case buildFailed(device: String, log: String)

    /// The message, naming the failing call and its status.
    public var description: String {
        switch self {
        case .unavailable(let reason): "OpenCL is not available: \(reason)"
        case .call(let call, let status): "\(call) failed with \(Self.name(of: status)) (\(status))"
        case .buildFailed(let device, let log):
            "the OpenCL driver for '\(device)' could not build the delegate's kernels:\n\(log)"
        }
    }

    /// The symbolic name of an OpenCL status code, as the headers spell it.
    static func name(of status: Int32) -> String {
        let names: [Int32: String] = [
            -1: "CL_DEVICE_NOT_FOUND", -2: "CL_DEVICE_NOT_AVAILABLE", -3: "CL_COMPILER_NOT_AVAILABLE",
            -4: "CL_MEM_OBJECT_ALLOCATION_FAILURE", -5: "CL_OUT_OF_RESOURCES", -6: "CL_OUT_OF_HOST_MEMORY",
            -7: "CL_PROFILING_INFO_NOT_AVAILABLE", -8: "CL_MEM_COPY_OVERLAP", -11: "CL_BUILD_PROGRAM_FAILURE",
            -30: "CL_INVALID_VALUE", -31: "CL_INVALID_DEVICE_TYPE", -32: "CL_INVALID_PLATFORM", -33: "CL_INVALID_DEVICE",
            -34: "CL_INVALID_CONTEXT", -35: "CL_INVALID_QUEUE_PROPERTIES", -36: "CL_INVALID_COMMAND_QUEUE",
            -37: "CL_INVALID_HOST_PTR", -38: "CL_INVALID_MEM_OBJECT", -42: "CL_INVALID_BINARY",
            -43: "CL_INVALID_BUILD_OPTIONS", -44: "CL_INVALID_PROGRAM", -45: "CL_INVALID_PROGRAM_EXECUTABLE",
            -46: "CL_INVALID_KERNEL_NAME", -48: "CL_INVALID_KERNEL", -49: "CL_INVALID_ARG_INDEX",
            -50: "CL_INVALID_ARG_VALUE", -51: "CL_INVALID_ARG_SIZE", -52: "CL_INVALID_KERNEL_ARGS",
            -53: "CL_INVALID_WORK_DIMENSION", -54: "CL_INVALID_WORK_GROUP_SIZE", -55: "CL_INVALID_WORK_ITEM_SIZE",
            -56: "CL_INVALID_GLOBAL_OFFSET", -61: "CL_INVALID_BUFFER_SIZE", -63: "CL_INVALID_GLOBAL_WORK_SIZE",
            -1001: "CL_PLATFORM_NOT_FOUND_KHR",
        ]
        return names[status] ?? "an OpenCL error"
    }
}
