import Foundation
import Testing

@testable import KilnRuntime

@Suite("Running compiled models")
struct CompiledModelTests {
    let x: [Float] = [1.5, -2, 0.25, 8]

    @Test func predictComputesEveryElement() throws {
        try withModel(TestModels.double()) { model throws in
            #expect(try model.predict(x) == TestModels.expectedDouble(x))
            #expect(try model.predict([0, 0, 0, 0]) == [1, 1, 1, 1])
        }
    }

    @Test func metadataIsTheOneWritten() throws {
        try withModel(TestModels.double()) { model throws in
            #expect(model.metadata == TestModels.double())
            #expect(model.url?.lastPathComponent == "model.kiln")
        }
    }

    @Test func runWithArraysHandlesOneTensor() throws {
        try withModel(TestModels.double()) { model throws in
            #expect(try model.run(inputs: [x]) == [TestModels.expectedDouble(x)])
        }
    }

    @Test func runWithArraysHandlesSeveralTensors() throws {
        try withModel(TestModels.pair()) { model throws in
            let outputs = try model.run(inputs: [[2, 0.5], [1, 2, 3]])
            #expect(outputs == [[8.5], [1.5, 3.5, 5.5]])
        }
    }

    @Test func runWithRawBuffersHandlesSeveralTensors() throws {
        try withModel(TestModels.pair()) { model throws in
            let a: [Float] = [-1, 4]
            let b: [Float] = [10, 20, 30]
            var total: [Float] = [0]
            var scaled: [Float] = [0, 0, 0]
            try a.withUnsafeBytes { a in
                try b.withUnsafeBytes { b in
                    try total.withUnsafeMutableBytes { total in
                        try scaled.withUnsafeMutableBytes { scaled in
                            try [a, b].withUnsafeBufferPointer { inputs in
                                try [total, scaled].withUnsafeBufferPointer { outputs in
                                    try model.run(inputs: inputs, outputs: outputs)
                                }
                            }
                        }
                    }
                }
            }
            #expect(total == [63])
            #expect(scaled == [-14, -24, -34])
        }
    }

    @Test func runWithOneRawBuffer() throws {
        try withModel(TestModels.double()) { model throws in
            var y = [Float](repeating: .nan, count: 4)
            try x.withUnsafeBytes { input in
                try y.withUnsafeMutableBytes { output in
                    try model.run(input: input, output: output)
                }
            }
            #expect(y == TestModels.expectedDouble(x))
        }
    }

    @Test func runWithTypedBuffers() throws {
        try withModel(TestModels.double()) { model throws in
            var y = [Float](repeating: .nan, count: 4)
            try x.withUnsafeBufferPointer { input in
                try y.withUnsafeMutableBufferPointer { output in
                    try model.run(input, into: output)
                }
            }
            #expect(y == TestModels.expectedDouble(x))
        }
    }

    @Test func repeatedRunsReuseTheArena() throws {
        try withModel(TestModels.double()) { model throws in
            for step in 0..<100 {
                let input = (0..<4).map { Float(step * 4 + $0) }
                #expect(try model.predict(input) == TestModels.expectedDouble(input))
            }
        }
    }

    @Test func modelsLoadedTwiceAreIndependent() throws {
        try withArtifact(TestModels.double()) { url throws in
            let first = try CompiledModel(contentsOf: url)
            let second = try CompiledModel(contentsOf: url)
            #expect(try first.predict(x) == second.predict(x))
        }
    }

    @Test func rawRunAcceptsNonFloatModels() throws {
        // The int8 signature covers the same 16 bytes the code reads as 4 floats.
        try withModel(TestModels.double(inputType: .int8)) { model throws in
            var y = [Float](repeating: .nan, count: 4)
            try x.withUnsafeBytes { input in
                try y.withUnsafeMutableBytes { output in
                    try model.run(input: input, output: output)
                }
            }
            #expect(y == TestModels.expectedDouble(x))
        }
    }

    @Test(.enabled(if: HostCPU.features != nil))
    func featuresTheHostHasAreAccepted() throws {
        let present = Array(HostCPU.features?.sorted().prefix(3) ?? [])
        try withModel(TestModels.double(requiredCPUFeatures: present)) { model throws in
            #expect(try model.predict(x) == TestModels.expectedDouble(x))
        }
    }

    @Test func patchReleasesAreCompatible() throws {
        try withModel(TestModels.double(kilnVersion: "0.1.99")) { model throws in
            #expect(try model.predict(x) == TestModels.expectedDouble(x))
        }
    }
}
