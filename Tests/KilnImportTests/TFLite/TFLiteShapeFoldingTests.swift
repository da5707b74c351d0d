import KilnIR
import Testing

@testable import KilnImport

/// Shape computations around reshapes fold to constants at import; ones that
/// depend on the model's data are a clear error naming the tensor.
@Suite struct TFLiteShapeFoldingTests {
    /// `x[1,2,3] → SHAPE → STRIDED_SLICE (batch) → PACK [batch, -1] → RESHAPE(x) → RELU`, with
    /// the sliced shape read from a second model input instead when `shapeFromInput`.
    static func flattenModel(shapeFromInput: Bool = false) -> TFLiteModel {
        func int32s(_ values: [Int32]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) } }
        let tensors = [
            TFLiteTensor(name: "x", shape: [1, 2, 3], shapeSignature: [-1, 2, 3], type: .float32, buffer: 0),
            TFLiteTensor(name: "shape", shape: [3], type: .int32, buffer: 0),
            TFLiteTensor(name: "begin", shape: [1], type: .int32, buffer: 1),
            TFLiteTensor(name: "end", shape: [1], type: .int32, buffer: 2),
            TFLiteTensor(name: "batch", shape: [], type: .int32, buffer: 0),
            TFLiteTensor(name: "minus_one", shape: [], type: .int32, buffer: 3),
            TFLiteTensor(name: "packed", shape: [2], type: .int32, buffer: 0),
            TFLiteTensor(name: "flat", shape: [1, 6], type: .float32, buffer: 0),
            TFLiteTensor(name: "y", shape: [1, 6], type: .float32, buffer: 0),
            TFLiteTensor(name: "runtime_shape", shape: [3], type: .int32, buffer: 0),
        ]
        let shapeOperand = shapeFromInput ? 9 : 1
        let operators = [
            TFLiteOperator(opcodeIndex: 0, inputs: [0], outputs: [1], options: .none),
            TFLiteOperator(
                opcodeIndex: 1, inputs: [shapeOperand, 2, 3, 3], outputs: [4],
                options: .stridedSlice(TFLiteStridedSliceOptions(shrinkAxisMask: 1))),
            TFLiteOperator(opcodeIndex: 2, inputs: [4, 5], outputs: [6], options: .pack(valuesCount: 2, axis: 0)),
            TFLiteOperator(opcodeIndex: 3, inputs: [0, 6], outputs: [7], options: .reshape(newShape: nil)),
            TFLiteOperator(opcodeIndex: 4, inputs: [7], outputs: [8], options: .none),
        ]
        return TFLiteModel(
            operatorCodes: [.shape, .stridedSlice, .pack, .reshape, .relu].map { TFLiteOperatorCode(builtinCode: $0) },
            subgraphs: [
                TFLiteSubgraph(
                    name: "main", tensors: tensors, inputs: shapeFromInput ? [0, 9] : [0], outputs: [8],
                    operators: operators)
            ],
            buffers: [[], int32s([0]), int32s([1]), int32s([-1])])
    }

    @Test func flattenChainFoldsToAStaticReshape() throws {
        let graph = try TFLiteImporter.importGraph(Self.flattenModel(), name: "flatten", source: "flatten.tflite")
        #expect(graph.nodes.map(\.op.kindName) == ["reshape", "relu"])
        #expect(graph.type(of: graph.outputs[0]).shape == [1, 6])
    }

    @Test func shapeFromTheModelsDataIsADynamicShapeError() throws {
        let error = #expect(throws: TFLiteError.self) {
            try TFLiteImporter.importGraph(Self.flattenModel(shapeFromInput: true), name: "dynamic", source: "dynamic.tflite")
        }
        let message = error?.message ?? ""
        #expect(message.hasPrefix("dynamic.tflite: operator #1 STRIDED_SLICE: tensor 'batch' is computed from 'runtime_shape'"), "\(message)")
        #expect(message.contains("depends on the model's input data: a dynamic shape"), "\(message)")
    }
}
