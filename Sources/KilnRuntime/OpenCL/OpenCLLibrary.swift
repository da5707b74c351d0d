#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The OpenCL 1.2 entry points the delegate calls, bound from the system's `libOpenCL` with
/// `dlopen` at run time, so neither Kiln nor an app links against OpenCL.
///
/// The ICD loader (`ocl-icd`, a vendor's driver package, Apple's framework) is searched for
/// under `KILN_OPENCL_LIBRARY` when that is set (an empty value or a path to nothing means
/// "no OpenCL here", which is how tests check the fallback), else under its usual names.
final class OpenCLLibrary: @unchecked Sendable {
    typealias Handle = OpaquePointer
    typealias Status = Int32

    let getPlatformIDs: @convention(c) (UInt32, UnsafeMutablePointer<Handle?>?, UnsafeMutablePointer<UInt32>?) -> Status
    let getDeviceIDs:
        @convention(c) (Handle?, UInt64, UInt32, UnsafeMutablePointer<Handle?>?, UnsafeMutablePointer<UInt32>?) -> Status
    let getDeviceInfo: @convention(c) (Handle?, UInt32, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> Status
    let createContext:
        @convention(c) (
            UnsafePointer<Int>?, UInt32, UnsafePointer<Handle?>?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?,
            UnsafeMutablePointer<Status>?
        ) -> Handle?
    let createCommandQueue: @convention(c) (Handle?, Handle?, UInt64, UnsafeMutablePointer<Status>?) -> Handle?
    let createProgramWithSource:
        @convention(c) (
            Handle?, UInt32, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int>?, UnsafeMutablePointer<Status>?
        ) -> Handle?
    let createProgramWithBinary:
        @convention(c) (
            Handle?, UInt32, UnsafePointer<Handle?>?, UnsafePointer<Int>?, UnsafePointer<UnsafePointer<UInt8>?>?,
            UnsafeMutablePointer<Status>?, UnsafeMutablePointer<Status>?
        ) -> Handle?
    let buildProgram:
        @convention(c) (
            Handle?, UInt32, UnsafePointer<Handle?>?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?,
            UnsafeMutableRawPointer?
        ) -> Status
    let getProgramBuildInfo:
        @convention(c) (Handle?, Handle?, UInt32, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> Status
    let getProgramInfo: @convention(c) (Handle?, UInt32, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> Status
    let createKernel: @convention(c) (Handle?, UnsafePointer<CChar>?, UnsafeMutablePointer<Status>?) -> Handle?
    let setKernelArg: @convention(c) (Handle?, UInt32, Int, UnsafeRawPointer?) -> Status
    let createBuffer: @convention(c) (Handle?, UInt64, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Status>?) -> Handle?
    let createSubBuffer: @convention(c) (Handle?, UInt64, UInt32, UnsafeRawPointer?, UnsafeMutablePointer<Status>?) -> Handle?
    let enqueueWriteBuffer:
        @convention(c) (
            Handle?, Handle?, UInt32, Int, Int, UnsafeRawPointer?, UInt32, UnsafePointer<Handle?>?,
            UnsafeMutablePointer<Handle?>?
        ) -> Status
    let enqueueReadBuffer:
        @convention(c) (
            Handle?, Handle?, UInt32, Int, Int, UnsafeMutableRawPointer?, UInt32, UnsafePointer<Handle?>?,
            UnsafeMutablePointer<Handle?>?
        ) -> Status
    let enqueueNDRangeKernel:
        @convention(c) (
            Handle?, Handle?, UInt32, UnsafePointer<Int>?, UnsafePointer<Int>?, UnsafePointer<Int>?, UInt32,
            UnsafePointer<Handle?>?, UnsafeMutablePointer<Handle?>?
        ) -> Status
    let enqueueMapBuffer:
        @convention(c) (
            Handle?, Handle?, UInt32, UInt64, Int, Int, UInt32, UnsafePointer<Handle?>?, UnsafeMutablePointer<Handle?>?,
            UnsafeMutablePointer<Status>?
        ) -> UnsafeMutableRawPointer?
    let enqueueUnmapMemObject:
        @convention(c) (
            Handle?, Handle?, UnsafeMutableRawPointer?, UInt32, UnsafePointer<Handle?>?, UnsafeMutablePointer<Handle?>?
        ) -> Status
    let finish: @convention(c) (Handle?) -> Status
    let getEventProfilingInfo: @convention(c) (Handle?, UInt32, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> Status
    let releaseEvent: @convention(c) (Handle?) -> Status
    let releaseMemObject: @convention(c) (Handle?) -> Status
    let releaseKernel: @convention(c) (Handle?) -> Status
    let releaseProgram: @convention(c) (Handle?) -> Status
    let releaseCommandQueue: @convention(c) (Handle?) -> Status
    let releaseContext: @convention(c) (Handle?) -> Status

    private let handle: UnsafeMutableRawPointer

    /// The library names tried in order when `KILN_OPENCL_LIBRARY` is not set.
    static let defaultNames = [
        "libOpenCL.so.1", "libOpenCL.so", "/System/Library/Frameworks/OpenCL.framework/OpenCL",
    ]

    /// Opens the OpenCL library and binds every entry point, or throws ``OpenCLError/unavailable(_:)``.
    init() throws {
        let names: [String]
        if let configured = getenv("KILN_OPENCL_LIBRARY").map({ String(cString: $0) }) {
            guard !configured.isEmpty else {
                throw OpenCLError.unavailable("KILN_OPENCL_LIBRARY is set to nothing")
            }
            names = [configured]
        } else {
            names = Self.defaultNames
        }
        var reasons: [String] = []
        var opened: UnsafeMutableRawPointer?
        for name in names {
            if let library = dlopen(name, RTLD_NOW | RTLD_LOCAL) {
                opened = library
                break
            }
            reasons.append(dlerror().map { String(cString: $0) } ?? "\(name): cannot be opened")
        }
        guard let opened else {
            throw OpenCLError.unavailable("no OpenCL library could be loaded (\(reasons.joined(separator: "; ")))")
        }
        handle = opened
        func bind<Function>(_ name: String) throws -> Function {
            guard let address = dlsym(opened, name) else {
                throw OpenCLError.unavailable("the OpenCL library does not export \(name)")
            }
            return unsafeBitCast(address, to: Function.self)
        }
        do {
            getPlatformIDs = try bind("clGetPlatformIDs")
            getDeviceIDs = try bind("clGetDeviceIDs")
            getDeviceInfo = try bind("clGetDeviceInfo")
            createContext = try bind("clCreateContext")
            createCommandQueue = try bind("clCreateCommandQueue")
            createProgramWithSource = try bind("clCreateProgramWithSource")
            createProgramWithBinary = try bind("clCreateProgramWithBinary")
            buildProgram = try bind("clBuildProgram")
            getProgramBuildInfo = try bind("clGetProgramBuildInfo")
            getProgramInfo = try bind("clGetProgramInfo")
            createKernel = try bind("clCreateKernel")
            setKernelArg = try bind("clSetKernelArg")
            createBuffer = try bind("clCreateBuffer")
            createSubBuffer = try bind("clCreateSubBuffer")
            enqueueWriteBuffer = try bind("clEnqueueWriteBuffer")
            enqueueReadBuffer = try bind("clEnqueueReadBuffer")
            enqueueNDRangeKernel = try bind("clEnqueueNDRangeKernel")
            enqueueMapBuffer = try bind("clEnqueueMapBuffer")
            enqueueUnmapMemObject = try bind("clEnqueueUnmapMemObject")
            finish = try bind("clFinish")
            getEventProfilingInfo = try bind("clGetEventProfilingInfo")
            releaseEvent = try bind("clReleaseEvent")
            releaseMemObject = try bind("clReleaseMemObject")
            releaseKernel = try bind("clReleaseKernel")
            releaseProgram = try bind("clReleaseProgram")
            releaseCommandQueue = try bind("clReleaseCommandQueue")
            releaseContext = try bind("clReleaseContext")
        } catch {
            dlclose(opened)
            throw error
        }
    }

    deinit {
        dlclose(handle)
    }

    /// Throws ``OpenCLError/call(_:status:)`` unless `status` is `CL_SUCCESS`.
    @inline(__always)
    func check(_ status: Status, _ call: @autoclosure () -> String) throws {
        guard status == 0 else { throw OpenCLError.call(call(), status: status) }
    }

    /// A string-valued device property (name, vendor, driver version, extensions).
    func deviceString(_ device: Handle, _ parameter: UInt32) throws -> String {
        var size = 0
        try check(getDeviceInfo(device, parameter, 0, nil, &size), "clGetDeviceInfo")
        var bytes = [UInt8](repeating: 0, count: max(size, 1))
        try check(getDeviceInfo(device, parameter, bytes.count, &bytes, nil), "clGetDeviceInfo")
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// A `cl_uint` or `cl_bool` device property (sub-buffer alignment, shared memory, …).
    func deviceNumber(_ device: Handle, _ parameter: UInt32) throws -> UInt32 {
        var value: UInt32 = 0
        try check(getDeviceInfo(device, parameter, MemoryLayout<UInt32>.size, &value, nil), "clGetDeviceInfo")
        return value
    }

    /// The nanoseconds the device spent running a finished command, from its profiling event.
    func duration(of event: Handle) throws -> UInt64 {
        var start: UInt64 = 0
        var end: UInt64 = 0
        try check(
            getEventProfilingInfo(event, Constant.profilingCommandStart, MemoryLayout<UInt64>.size, &start, nil),
            "clGetEventProfilingInfo")
        try check(
            getEventProfilingInfo(event, Constant.profilingCommandEnd, MemoryLayout<UInt64>.size, &end, nil),
            "clGetEventProfilingInfo")
        return end >= start ? end - start : 0
    }

    /// A `cl_mem` over `byteCount` bytes of `buffer` from `offset`.
    func subBuffer(of buffer: Handle, offset: Int, byteCount: Int, status: inout Status) -> Handle? {
        withUnsafeBytes(of: (offset, byteCount)) { region in
            createSubBuffer(buffer, Constant.memReadWrite, Constant.bufferCreateTypeRegion, region.baseAddress, &status)
        }
    }

    /// Constants of the OpenCL 1.2 headers the delegate uses.
    enum Constant {
        static let deviceTypeGPU: UInt64 = 1 << 2
        static let deviceTypeAccelerator: UInt64 = 1 << 3
        static let deviceTypeAll: UInt64 = 0xFFFF_FFFF
        static let deviceName: UInt32 = 0x102B
        static let deviceVendor: UInt32 = 0x102C
        static let driverVersion: UInt32 = 0x102D
        static let deviceVersion: UInt32 = 0x102F
        static let deviceExtensions: UInt32 = 0x1030
        static let deviceHostUnifiedMemory: UInt32 = 0x1035
        static let deviceMemBaseAddressAlignment: UInt32 = 0x1019
        static let bufferCreateTypeRegion: UInt32 = 0x1220
        static let queueProfilingEnable: UInt64 = 1 << 1
        static let profilingCommandStart: UInt32 = 0x1282
        static let profilingCommandEnd: UInt32 = 0x1283
        static let programBuildLog: UInt32 = 0x1183
        static let programBinarySizes: UInt32 = 0x1165
        static let programBinaries: UInt32 = 0x1166
        static let memReadWrite: UInt64 = 1 << 0
        static let memReadOnly: UInt64 = 1 << 2
        static let memUseHostPointer: UInt64 = 1 << 3
        static let memCopyHostPointer: UInt64 = 1 << 5
        static let mapRead: UInt64 = 1 << 0
        static let mapWrite: UInt64 = 1 << 1
        static let deviceNotFound: Int32 = -1
        static let buildProgramFailure: Int32 = -11
        static let platformNotFound: Int32 = -1001
    }
}
