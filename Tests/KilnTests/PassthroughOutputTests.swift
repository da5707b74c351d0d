import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnRuntime
import Testing

/// Outputs that are the graph's input or a constant are copied byte for byte,
/// for every element type and for sizes around the copy loop's vector widths.
///
/// The output buffer is allocated to its exact size with a guard after it, so
/// a copy that writes one byte too many fails here, and under
/// AddressSanitizer (`swift test --sanitize=address`) fails at the write.
@Suite struct PassthroughOutputTests {
    static let dtypes: [DType] = [.float32, .float16, .int8, .int32]
    static let shapes: [Shape] = [[1], [3], [7, 5], [1, 4096], [2, 3, 17]]

    static func type(_ dtype: DType, _ shape: Shape) -> TensorType {
        TensorType(dtype, shape, quantization: dtype == .int8 ? .perTensor(scale: 0.5, zeroPoint: 3) : nil)
    }

    /// Deterministic bytes that differ at every position.
    static func pattern(_ count: Int, salt: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ salt) }
    }

    /// Compiles `graph`, runs it on `input` and returns the output bytes, checking the guard after them.
    static func run(_ graph: Graph, input: [UInt8]) throws -> [UInt8] {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Compiler().compile(
            graph, options: CompileOptions(), outputDirectory: directory)
        let model = try CompiledModel(contentsOf: result.artifact)
        let outputCount = graph.type(of: graph.outputs[0]).byteCount
        let guardBytes = 64
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: outputCount + guardBytes, alignment: 16)
        defer { output.deallocate() }
        output.initializeMemory(as: UInt8.self, repeating: 0xA5)
        try input.withUnsafeBytes { inputBytes in
            try model.run(input: inputBytes, output: UnsafeMutableRawBufferPointer(rebasing: output[..<outputCount]))
        }
        #expect(output[outputCount...].allSatisfy { $0 == 0xA5 }, "\(graph.name) wrote past its output")
        return Array(output[..<outputCount])
    }

    @Test(arguments: dtypes, shapes)
    func inputAsOutputIsCopiedExactly(dtype: DType, shape: Shape) throws {
        var graph = Graph(name: "identity_\(dtype)")
        let input = graph.addInput(name: "x", type: Self.type(dtype, shape))
        graph.outputs = [input]
        let bytes = Self.pattern(Self.type(dtype, shape).byteCount, salt: 1)
        #expect(try Self.run(graph, input: bytes) == bytes)
    }

    @Test(arguments: dtypes, shapes)
    func constantAsOutputIsCopiedExactly(dtype: DType, shape: Shape) throws {
        var graph = Graph(name: "constant_\(dtype)")
        _ = graph.addInput(name: "x", type: TensorType(.float32, [1, 4]))
        let type = Self.type(dtype, shape)
        let bytes = Self.pattern(type.byteCount, salt: 2)
        graph.outputs = [
            graph.addConstant(
                name: "c", data: TensorData(dtype: dtype, shape: shape, bytes: bytes), quantization: type.quantization)
        ]
        #expect(try Self.run(graph, input: Self.pattern(16, salt: 3)) == bytes)
    }
}
