import Foundation
import Testing

@testable import KilnImport

/// Writing a model and reading it back gives the same model, for every option the reader decodes.
@Suite struct TFLiteEncodingTests {
    static let options: [TFLiteBuiltinOptions] = [
        .none, .pad, .transpose, .dequantize, .padV2, .quantize, .hardSwish, .unsupported(typeCode: 120),
        .conv2D(
            TFLiteConv2DOptions(
                padding: .valid, strideWidth: 2, strideHeight: 3, dilationWidthFactor: 4, dilationHeightFactor: 5,
                activation: .relu6)),
        .depthwiseConv2D(
            TFLiteDepthwiseConv2DOptions(
                padding: .same, strideWidth: 1, strideHeight: 2, depthMultiplier: 3, dilationWidthFactor: 4,
                dilationHeightFactor: 5, activation: .tanh)),
        .pool2D(
            TFLitePool2DOptions(
                padding: .valid, strideWidth: 2, strideHeight: 1, filterWidth: 3, filterHeight: 4, activation: .relu)),
        .fullyConnected(
            TFLiteFullyConnectedOptions(
                activation: .reluN1To1, weightsFormat: .shuffled4x16Int8, keepNumDims: true,
                asymmetricQuantizeInputs: true)),
        .softmax(beta: 0.5), .concatenation(axis: -1, activation: .relu), .add(activation: .relu6),
        .mul(activation: .none), .sub(activation: .relu), .div(activation: .tanh), .reshape(newShape: [1, -1]),
        .reshape(newShape: nil), .gather(axis: 2, batchDims: 1), .reducer(keepDims: true),
        .squeeze(dimensions: [0, 2]),
        .stridedSlice(
            TFLiteStridedSliceOptions(
                beginMask: 1, endMask: 2, ellipsisMask: 4, newAxisMask: 8, shrinkAxisMask: 16, offset: true)),
        .leakyRelu(alpha: 0.125), .pack(valuesCount: 3, axis: -1), .gelu(approximate: true), .split(count: 4), .splitV(count: 2),
        .unpack(count: 49, axis: 0),
    ]

    /// A model holding one operator per options value, with every kind of tensor field set.
    static var model: TFLiteModel {
        let tensors = [
            TFLiteTensor(name: "x", shape: [1, 4], shapeSignature: [-1, 4], type: .float32, buffer: 0),
            TFLiteTensor(
                name: "w", shape: [2, 4], type: .int8, buffer: 1,
                quantization: TFLiteQuantization(
                    scale: [0.5, 0.25], zeroPoint: [0, -3], quantizedDimension: 0, min: [-1, -2], max: [1, 2])),
            TFLiteTensor(name: "state", shape: [], type: .other(99), buffer: 0, isVariable: true),
        ]
        return TFLiteModel(
            description: "written by Kiln",
            operatorCodes: [
                TFLiteOperatorCode(builtinCode: .add), TFLiteOperatorCode(builtinCode: .unknown(200), version: 3),
                TFLiteOperatorCode(builtinCode: .custom, customCode: "MyOp"),
            ],
            subgraphs: [
                TFLiteSubgraph(
                    name: "main", tensors: tensors, inputs: [0], outputs: [2],
                    operators: options.enumerated().map { index, options in
                        TFLiteOperator(opcodeIndex: index % 3, inputs: [0, -1, 1], outputs: [2], options: options)
                    }),
                TFLiteSubgraph(name: "", tensors: [], inputs: [], outputs: [], operators: []),
            ],
            buffers: [[], [1, 2, 3, 4, 5, 6, 7, 8]])
    }

    @Test func everyFieldRoundTrips() throws {
        let model = Self.model
        #expect(try TFLiteModel(bytes: model.encoded(), source: "written.tflite") == model)
    }

    @Test func scalarRangesLieInsideTheFileAndMissTheHeader() {
        let (bytes, ranges) = Self.model.encodedWithScalarRanges()
        #expect(ranges.count > Self.options.count)
        #expect(ranges.allSatisfy { $0.lowerBound >= 8 && $0.upperBound <= bytes.count })
    }

    // Enabled only where ../shared/models exists: the models are not in the repository.
    @Test(.enabled(if: ReferenceModels.available, ReferenceModels.skipReason), arguments: ReferenceModels.names)
    func referenceModelsRoundTrip(_ name: String) throws {
        let model = try ReferenceModels.model(name)
        let bytes = model.encoded()
        #expect(try TFLiteModel(bytes: bytes, source: name) == model)
        // Unshared vtables cost little next to the weights.
        let original = try ReferenceModels.bytes(name)
        #expect(bytes.count <= original.count + 8192)
    }
}
