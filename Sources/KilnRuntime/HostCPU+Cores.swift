#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Darwin)
    import Darwin
#endif

extension HostCPU {
    /// The performance cores this process may run on: physical cores, not SMT siblings, and on
    /// a CPU with big and little cores (Arm big.LITTLE, Intel's P- and E-cores, Apple's
    /// performance levels) only the big ones. At least 1.
    ///
    /// Split layers are bound by multiply-adds, which SMT siblings share and little cores run
    /// several times slower (a split layer waits for its slowest chunk), so only these cores help.
    public static let performanceCoreCount: Int = max(1, detectPerformanceCores() ?? activeProcessorCount)

    private static var activeProcessorCount: Int { ProcessInfo.processInfo.activeProcessorCount }

    private static func detectPerformanceCores() -> Int? {
        #if canImport(Darwin)
            for name in ["hw.perflevel0.physicalcpu", "hw.physicalcpu"] {
                var count: Int32 = 0
                var size = MemoryLayout<Int32>.size
                if sysctlbyname(name, &count, &size, nil, 0) == 0, count > 0 { return Int(count) }
            }
            return nil
        #elseif os(Linux)
            let allowed = readText("/proc/self/status").flatMap { status in
                status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
                    .flatMap { cpuList(String($0.dropFirst("Cpus_allowed_list:".count))) }
            }
            guard let allowed, !allowed.isEmpty else { return nil }
            let topology = allowed.map { cpu in
                let directory = "/sys/devices/system/cpu/cpu\(cpu)"
                return CPUTopology(
                    cpu: cpu,
                    core: readText("\(directory)/topology/core_cpus_list")
                        ?? readText("\(directory)/topology/thread_siblings_list"),
                    capacity: readText("\(directory)/cpu_capacity").flatMap { Int($0) })
            }
            let bigCores = readText("/sys/devices/cpu_core/cpus").flatMap(cpuList).map(Set.init)
            return performanceCores(topology, intelCoreCPUs: bigCores)
        #else
            return nil
        #endif
    }

    /// One logical CPU as Linux's sysfs describes it.
    struct CPUTopology {
        /// The CPU's number.
        var cpu: Int
        /// The CPUs of its physical core (`topology/core_cpus_list`), which names the core.
        var core: String?
        /// Its relative speed (`cpu_capacity`, Arm only): the big cores have the largest.
        var capacity: Int?
    }

    /// The physical cores among `cpus` that are big: of the largest capacity where capacities
    /// differ, and among `intelCoreCPUs` (a hybrid Intel CPU's P-cores, `/sys/devices/cpu_core/cpus`)
    /// where given.
    static func performanceCores(_ cpus: [CPUTopology], intelCoreCPUs: Set<Int>?) -> Int {
        var big = cpus
        if let intelCoreCPUs, big.contains(where: { intelCoreCPUs.contains($0.cpu) }) {
            big = big.filter { intelCoreCPUs.contains($0.cpu) }
        }
        if let largest = big.compactMap(\.capacity).max() {
            big = big.filter { ($0.capacity ?? largest) == largest }
        }
        // A CPU whose core is unknown counts as a core of its own.
        return Set(big.map { $0.core?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "cpu\($0.cpu)" }).count
    }

    /// The CPU numbers of a Linux CPU list such as `0-3,8,10-11`; nil if it is malformed.
    static func cpuList(_ text: String) -> [Int]? {
        var cpus: [Int] = []
        for part in text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            switch bounds.count {
            case 1:
                guard let cpu = bounds[0] else { return nil }
                cpus.append(cpu)
            case 2:
                guard let low = bounds[0], let high = bounds[1], low <= high else { return nil }
                cpus.append(contentsOf: low...high)
            default:
                return nil
            }
        }
        return cpus
    }

    private static func readText(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
