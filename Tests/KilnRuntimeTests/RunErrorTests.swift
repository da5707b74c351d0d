import Testing

@testable import KilnRuntime

@Suite("Errors running models")
struct RunErrorTests {
    @Test func wrongValueCountNamesTensorAndSizes() throws {
        try withModel(TestModels.double()) { model in
            expectRuntimeError(
                containing:
                    "input 'x' of model 'double' takes 4 float32 values (16 bytes); got 3 values (12 bytes)"
            ) {
                _ = try model.predict([1, 2, 3])
            }
            expectRuntimeError(containing: "input 'x'", "got 5 values (20 bytes)") {
                _ = try model.run(inputs: [[1, 2, 3, 4, 5]])
            }
        }
    }

    @Test func wrongByteCountIsReportedInBytes() throws {
        try withModel(TestModels.double()) { model in
            let input = [UInt8](repeating: 0, count: 15)
            var output = [Float](repeating: 0, count: 4)
            expectRuntimeError(containing: "takes 4 float32 values (16 bytes); got 15 bytes") {
                try input.withUnsafeBytes { input in
                    try output.withUnsafeMutableBytes { output in
                        try model.run(input: input, output: output)
                    }
                }
            }
        }
    }

    @Test func wrongOutputSizeIsReported() throws {
        try withModel(TestModels.double()) { model in
            let input = [Float](repeating: 0, count: 4)
            var output = [Float](repeating: 0, count: 8)
            expectRuntimeError(
                containing: "output 'y' of model 'double' produces 4 float32 values (16 bytes);"
                    + " got 8 values (32 bytes)"
            ) {
                try input.withUnsafeBufferPointer { input in
                    try output.withUnsafeMutableBufferPointer { output in
                        try model.run(input, into: output)
                    }
                }
            }
        }
    }

    @Test func wrongInputCountIsReported() throws {
        try withModel(TestModels.pair()) { model in
            expectRuntimeError(containing: "model 'pair' takes 2 inputs ('a', 'b'); got 1") {
                _ = try model.run(inputs: [[1, 2]])
            }
            expectRuntimeError(containing: "model 'pair' takes 2 inputs ('a', 'b'); got 0") {
                try model.run(
                    inputs: UnsafeBufferPointer(start: nil, count: 0),
                    outputs: .init(start: nil, count: 0))
            }
        }
    }

    @Test func wrongOutputCountIsReported() throws {
        try withModel(TestModels.pair()) { model in
            let a: [Float] = [1, 2]
            let b: [Float] = [1, 2, 3]
            var total: [Float] = [0]
            expectRuntimeError(
                containing: "model 'pair' takes 2 outputs ('total', 'scaled'); got 1"
            ) {
                try a.withUnsafeBytes { a in
                    try b.withUnsafeBytes { b in
                        try total.withUnsafeMutableBytes { total in
                            try [a, b].withUnsafeBufferPointer { inputs in
                                try [total].withUnsafeBufferPointer { outputs in
                                    try model.run(inputs: inputs, outputs: outputs)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test func singleTensorAPIsRejectMultiTensorModels() throws {
        try withModel(TestModels.pair()) { model in
            expectRuntimeError(containing: "predict(_:) needs a model with one input and one output") {
                _ = try model.predict([1, 2])
            }
            var output = [Float](repeating: 0, count: 1)
            expectRuntimeError(containing: "run(input:output:) needs a model with one input") {
                try [Float(1), 2].withUnsafeBytes { input in
                    try output.withUnsafeMutableBytes { output in
                        try model.run(input: input, output: output)
                    }
                }
            }
        }
    }

    /// The array APIs convert an int8 tensor at the boundary instead of refusing the model; the
    /// raw int8 API needs int8 throughout.
    @Test func arrayAPIsConvertNonFloatTensors() throws {
        try withModel(TestModels.double(inputType: .int8)) { model in
            let output = try model.predict([Float](repeating: 0, count: 16))
            #expect(output.count == 4)
            expectRuntimeError(containing: "input 'x' of model 'double' takes 16 int8 values (16 bytes); got 4 values") {
                _ = try model.predict([Float](repeating: 0, count: 4))
            }
            expectRuntimeError(containing: "run(quantized:) needs a model whose tensors are all int8", "'y'", "float32") {
                _ = try model.run(quantized: [[Int8](repeating: 0, count: 16)])
            }
        }
    }

    @Test func int8ValuesQuantizeLikeTensorFlowLite() throws {
        let signature = TensorSignature(name: "q", elementType: .int8, shape: [7], scale: 0.5, zeroPoint: -3)
        let values: [Float] = [0, 1.2, 0.25, -0.25, 100, -100, .nan]
        var bytes = [UInt8](repeating: 0, count: 7)
        try bytes.withUnsafeMutableBytes { try signature.encode(values, into: $0, role: "input") }
        // 1.2 / 0.5 = 2.4 → 2; ±0.5 steps round away from zero; out-of-range values clamp; NaN is the zero point.
        #expect(bytes.map { Int8(bitPattern: $0) } == [-3, -1, -2, -4, 127, -128, -3])
        let decoded = try bytes.withUnsafeBytes { try signature.decode($0, role: "output") }
        #expect(decoded == [0, 1, 0.5, -0.5, 65, -62.5, 0])
    }

    @Test func int32ValuesMustBeWholeAndFloat16IsRefused() throws {
        let indices = TensorSignature(name: "ids", elementType: .int32, shape: [2])
        var bytes = [UInt8](repeating: 0, count: 8)
        expectRuntimeError(containing: "input 'ids' takes int32 values, but element 1 is 0.5") {
            try bytes.withUnsafeMutableBytes { try indices.encode([3, 0.5], into: $0, role: "input") }
        }
        let half = TensorSignature(name: "h", elementType: .float16, shape: [4])
        expectRuntimeError(containing: "output 'h' is float16", "raw buffers") {
            _ = try bytes.withUnsafeBytes { try half.decode($0, role: "output") }
        }
    }

    @Test func misalignedBufferIsReported() throws {
        try withModel(TestModels.double()) { model in
            let storage = [UInt8](repeating: 0, count: 17)
            var output = [Float](repeating: 0, count: 4)
            expectRuntimeError(containing: "input 'x'", "aligned to 4 bytes") {
                try storage.withUnsafeBytes { storage in
                    let base = storage.baseAddress.map { $0 + 1 }
                    let input = UnsafeRawBufferPointer(start: base, count: 16)
                    try output.withUnsafeMutableBytes { output in
                        try model.run(input: input, output: output)
                    }
                }
            }
        }
    }
}
