#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Builds the delegate's program for one device, once: from a cached binary when one exists for
/// this device, driver and source, otherwise from source, caching the binary it gets.
///
/// The cache lives under `KILN_OPENCL_CACHE`, else `$XDG_CACHE_HOME/kiln/opencl` or
/// `~/.cache/kiln/opencl`; a binary that fails to load or build is ignored and rebuilt.
struct OpenCLProgramBuilder {
    let cl: OpenCLLibrary
    let context: OpaquePointer
    let device: OpaquePointer
    let deviceName: String

    /// The program built for the device, or ``OpenCLError/buildFailed(device:log:)`` with the driver's log.
    func build(source: String) throws -> OpaquePointer {
        let cacheFile = cacheURL(source: source)
        if let cacheFile, let binary = try? InputFile.read(cacheFile), !binary.isEmpty,
            let program = try? program(binary: [UInt8](binary))
        {
            return program
        }
        var status: Int32 = 0
        let created: OpaquePointer? = source.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            var length = source.utf8.count
            return cl.createProgramWithSource(context, 1, &pointer, &length, &status)
        }
        guard let created else { throw OpenCLError.call("clCreateProgramWithSource", status: status) }
        var devices: [OpaquePointer?] = [device]
        let built = cl.buildProgram(created, 1, &devices, Self.options, nil, nil)
        guard built == 0 else {
            let log = buildLog(created)
            _ = cl.releaseProgram(created)
            if built == OpenCLLibrary.Constant.buildProgramFailure {
                throw OpenCLError.buildFailed(device: deviceName, log: log)
            }
            throw OpenCLError.call("clBuildProgram", status: built)
        }
        if let cacheFile, let binary = try? binary(of: created) {
            // A cache that cannot be written only costs the next load a build.
            try? FileManager.default.createDirectory(
                at: cacheFile.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? OutputFile.write(binary, to: cacheFile)
        }
        return created
    }

    /// Options every build uses: IEEE results (NaN stays NaN, so no fast math) and correctly
    /// rounded division and square root, which int8 requantization and the reference rely on.
    static let options = "-cl-std=CL1.2 -cl-fp32-correctly-rounded-divide-sqrt"

    /// The program from a cached binary, built; `nil`-free throw when the driver rejects it.
    private func program(binary: [UInt8]) throws -> OpaquePointer {
        var status: Int32 = 0
        var binaryStatus: Int32 = 0
        var devices: [OpaquePointer?] = [device]
        let created: OpaquePointer? = binary.withUnsafeBufferPointer { bytes in
            var pointer: UnsafePointer<UInt8>? = bytes.baseAddress
            var length = bytes.count
            return cl.createProgramWithBinary(context, 1, &devices, &length, &pointer, &binaryStatus, &status)
        }
        guard let created, status == 0, binaryStatus == 0 else {
            if let created { _ = cl.releaseProgram(created) }
            throw OpenCLError.call("clCreateProgramWithBinary", status: status != 0 ? status : binaryStatus)
        }
        let built = cl.buildProgram(created, 1, &devices, Self.options, nil, nil)
        guard built == 0 else {
            _ = cl.releaseProgram(created)
            throw OpenCLError.call("clBuildProgram", status: built)
        }
        return created
    }

    /// The device binary of a built program.
    private func binary(of program: OpaquePointer) throws -> [UInt8] {
        var size = 0
        try cl.check(
            cl.getProgramInfo(program, OpenCLLibrary.Constant.programBinarySizes, MemoryLayout<Int>.size, &size, nil),
            "clGetProgramInfo")
        guard size > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: size)
        try bytes.withUnsafeMutableBufferPointer { buffer in
            var pointer: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            try cl.check(
                cl.getProgramInfo(
                    program, OpenCLLibrary.Constant.programBinaries, MemoryLayout<UnsafeMutablePointer<UInt8>?>.size,
                    &pointer, nil), "clGetProgramInfo")
        }
        return bytes
    }

    /// The driver's build log, trimmed.
    private func buildLog(_ program: OpaquePointer) -> String {
        var size = 0
        guard cl.getProgramBuildInfo(program, device, OpenCLLibrary.Constant.programBuildLog, 0, nil, &size) == 0,
            size > 0
        else { return "(the driver gave no build log)" }
        var bytes = [UInt8](repeating: 0, count: size)
        guard cl.getProgramBuildInfo(program, device, OpenCLLibrary.Constant.programBuildLog, size, &bytes, nil) == 0
        else { return "(the driver gave no build log)" }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The cache file for this source on this device and driver; `nil` when no cache directory is known.
    private func cacheURL(source: String) -> URL? {
        let environment = ProcessInfo.processInfo.environment
        let directory: URL
        if let configured = environment["KILN_OPENCL_CACHE"] {
            guard !configured.isEmpty else { return nil }
            directory = URL(fileURLWithPath: configured)
        } else if let cache = environment["XDG_CACHE_HOME"], !cache.isEmpty {
            directory = URL(fileURLWithPath: cache).appendingPathComponent("kiln/opencl")
        } else if let home = environment["HOME"], !home.isEmpty {
            directory = URL(fileURLWithPath: home).appendingPathComponent(".cache/kiln/opencl")
        } else {
            return nil
        }
        let driver = (try? cl.deviceString(device, OpenCLLibrary.Constant.driverVersion)) ?? ""
        let version = (try? cl.deviceString(device, OpenCLLibrary.Constant.deviceVersion)) ?? ""
        let identity = Array("\(deviceName)\u{0}\(driver)\u{0}\(version)\u{0}\(source)".utf8)
        let key = ArtifactChecksum.hash(identity)
        return directory.appendingPathComponent(String(key, radix: 16) + ".bin")
    }
}
