import Testing

@testable import KilnRuntime

@Suite("Performance cores and the default thread count")
struct PerformanceCoreTests {
    typealias CPU = HostCPU.CPUTopology

    @Test(arguments: [
        ("0", [0]), ("0-3", [0, 1, 2, 3]), ("0-1,4,6-7\n", [0, 1, 4, 6, 7]),
    ])
    func cpuListsExpandRanges(text: String, cpus: [Int]) {
        #expect(HostCPU.cpuList(text) == cpus)
    }

    @Test(arguments: ["3-1", "a", "1-2-3", "0,,x"])
    func malformedCPUListsAreRejected(text: String) {
        #expect(HostCPU.cpuList(text) == nil)
    }

    @Test func smtSiblingsShareACore() {
        // Four cores with two hardware threads each, numbered as Linux does on x86 (n and n+4).
        let cpus = (0..<8).map { CPU(cpu: $0, core: "\($0 % 4),\($0 % 4 + 4)", capacity: nil) }
        #expect(HostCPU.performanceCores(cpus, intelCoreCPUs: nil) == 4)
    }

    @Test func onlyTheBigCoresOfBigLittleCount() {
        // A phone's 4 little (capacity 446) and 4 big (1024) Arm cores.
        let cpus = (0..<8).map { CPU(cpu: $0, core: "\($0)", capacity: $0 < 4 ? 446 : 1024) }
        #expect(HostCPU.performanceCores(cpus, intelCoreCPUs: nil) == 4)
    }

    @Test func onlyThePCoresOfAHybridIntelCPUCount() {
        // 6 P-cores with SMT (CPUs 0-11) and 8 E-cores (12-19).
        let cpus = (0..<20).map { CPU(cpu: $0, core: $0 < 12 ? "\($0 / 2 * 2)-\($0 / 2 * 2 + 1)" : "\($0)", capacity: nil) }
        #expect(HostCPU.performanceCores(cpus, intelCoreCPUs: Set(0..<12)) == 6)
        // A process pinned to E-cores only still gets them.
        #expect(HostCPU.performanceCores(Array(cpus[12...]), intelCoreCPUs: Set(0..<12)) == 8)
    }

    @Test func unknownTopologyCountsEachCPU() {
        let cpus = (0..<3).map { CPU(cpu: $0, core: nil, capacity: nil) }
        #expect(HostCPU.performanceCores(cpus, intelCoreCPUs: nil) == 3)
    }

    @Test func theDefaultIsBetweenOneAndFour() {
        #expect(HostCPU.performanceCoreCount >= 1)
        #expect((1...4).contains(ThreadPool.defaultThreadCount))
        #expect(ThreadPool.defaultThreadCount == min(HostCPU.performanceCoreCount, 4))
    }
}
