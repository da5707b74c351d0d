import AllocationCounter
import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnRuntime
import Testing

/// Inference on caller-owned buffers allocates nothing: every allocation the calling thread makes
/// (malloc and its relatives, interposed in the test executable) is counted across many runs.
@Suite(.enabled(if: kiln_allocation_counting_supported(), "allocations are counted by interposing glibc's malloc"))
struct ZeroAllocationTests {
    /// The thread's allocations while `body` runs.
    static func allocations(_ body: () throws -> Void) rethrows -> Int {
        kiln_allocation_counting_begin()
        defer { _ = kiln_allocation_counting_end() }
        try body()
        return kiln_allocation_counting_end()
    }

    /// The counter sees what Swift allocates, so a zero below means something.
    @Test func theCounterSeesAllocations() {
        var kept: [[Int]] = []
        let count = Self.allocations { kept.append(Array(0..<Int.random(in: 10...20))) }
        #expect(count >= 1 && kept.count == 1)
    }

    @Test(arguments: ["float32", "int8"])
    func pointerRunsAllocateNothing(_ precision: String) throws {
        try expectNoAllocations(precision, graph: QuantizeInt8Tests.network(), inputShape: [1, 12, 12, 3], outputCount: 10)
    }

    /// With threads, the calling thread's runs allocate nothing either (the workers exist already).
    @Test func threadedRunsAllocateNothing() throws {
        try expectNoAllocations(
            "float32", graph: ThreadedRunTests.network(), inputShape: [1, 33, 29, 8], outputCount: 200, threads: 2)
    }

    func expectNoAllocations(
        _ precision: String, graph: Graph, inputShape: Shape, outputCount: Int, threads: Int = 1
    ) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = CompileOptions()
        if precision == "int8" {
            let calibration = try QuantizeInt8Tests.writeCalibration(to: directory, shape: inputShape, count: 4)
            options = CompileOptions(quantization: .int8(calibration: .npy(calibration.path)))
        }
        let result = try Compiler().compile(graph, options: options, outputDirectory: directory)
        let model = try CompiledModel(contentsOf: result.artifact, threads: threads)
        #expect(model.threadCount == threads)
        let input = UnsafeMutableBufferPointer<Float>.allocate(capacity: inputShape.elementCount)
        defer { input.deallocate() }
        input.initialize(repeating: 0.25)
        let output = UnsafeMutableBufferPointer<Float>.allocate(capacity: outputCount)
        defer { output.deallocate() }
        let inputs = UnsafeMutableBufferPointer<UnsafeRawBufferPointer>.allocate(capacity: 1)
        defer { inputs.deallocate() }
        inputs.initialize(repeating: UnsafeRawBufferPointer(input))
        let outputs = UnsafeMutableBufferPointer<UnsafeMutableRawBufferPointer>.allocate(capacity: 1)
        defer { outputs.deallocate() }
        outputs.initialize(repeating: UnsafeMutableRawBufferPointer(output))
        try model.run(UnsafeBufferPointer(input), into: output)  // first run: lazy binding, page faults

        let count = try Self.allocations {
            for _ in 0..<25 {
                try model.run(UnsafeBufferPointer(input), into: output)
                try model.run(input: UnsafeRawBufferPointer(input), output: UnsafeMutableRawBufferPointer(output))
                try model.run(inputs: UnsafeBufferPointer(inputs), outputs: UnsafeBufferPointer(outputs))
            }
        }
        #expect(count == 0, "75 runs allocated \(count) times")
        // The array API returns new arrays: counted, so the runtime's allocations are seen too.
        let values = Array(input)
        #expect(try Self.allocations { _ = try model.run(inputs: [values]) } > 0)
        #expect(output.allSatisfy { $0.isFinite })
    }
}
