import Foundation
import Testing

@testable import KilnImport

/// Facts about the four MLPerf Tiny models, checked against a dump of the files.
// Enabled only where ../shared/models exists: the models are not in the repository.
@Suite(.enabled(if: ReferenceModels.available, ReferenceModels.skipReason))
struct TFLiteReferenceModelTests {
    @Test func anomalyDetectionFloatIsTenFullyConnectedLayers() throws {
        let model = try ReferenceModels.model("ad01_fp32.tflite")
        #expect(model.version == 3)
        #expect(model.description == "MLIR Converted.")
        #expect(model.subgraphs.count == 1)
        #expect(
            model.operatorCodes == [TFLiteOperatorCode(builtinCode: .fullyConnected, version: 1)])
        let subgraph = model.subgraphs[0]
        #expect(subgraph.name == "main")
        #expect(model.operatorNames == Array(repeating: "FULLY_CONNECTED", count: 10))

        let input = model.tensor(try #require(subgraph.inputs.first))
        let output = model.tensor(try #require(subgraph.outputs.first))
        #expect(subgraph.inputs == [0] && subgraph.outputs == [30])
        #expect(input.name == "input_1" && input.shape == [1, 640] && input.type == .float32)
        #expect(output.name == "Identity" && output.shape == [1, 640] && output.type == .float32)
        #expect(input.shapeSignature == [-1, 640])
        #expect(input.quantization == nil)

        // Nine hidden layers with ReLU, then a linear output layer.
        let activations = subgraph.operators.map { op -> TFLiteActivation? in
            guard case .fullyConnected(let options) = op.options else { return nil }
            #expect(options.weightsFormat == .default && !options.keepNumDims)
            return options.activation
        }
        #expect(activations == Array(repeating: .relu, count: 9) + [TFLiteActivation.none])

        // Layer widths 640 → 128 ×4 → 8 → 128 ×4 → 640, weights [out, in].
        let weightShapes = subgraph.operators.map { model.tensor($0.inputs[1]).shape }
        #expect(
            weightShapes == [
                [128, 640], [128, 128], [128, 128], [128, 128], [8, 128], [128, 8], [128, 128],
                [128, 128], [128, 128], [640, 128],
            ])
        #expect(subgraph.operators[0].inputs == [0, 11, 1])
        #expect(subgraph.operators[0].outputs == [21])
        #expect(model.buffers.count == 33)
    }

    @Test func anomalyDetectionInt8IsQuantizedPerTensor() throws {
        let model = try ReferenceModels.model("ad01_int8.tflite")
        #expect(model.operatorNames == Array(repeating: "FULLY_CONNECTED", count: 10))
        #expect(model.operatorCodes[0].version == 4)
        let subgraph = model.subgraphs[0]
        let input = model.tensor(subgraph.inputs[0])
        let output = model.tensor(subgraph.outputs[0])
        #expect(input.type == .int8 && input.shape == [1, 640])
        #expect(output.type == .int8 && output.shape == [1, 640])
        let inputQuantization = try #require(input.quantization)
        #expect(inputQuantization.scale == [0.3910152316093445])
        #expect(inputQuantization.zeroPoint == [89])
        #expect(inputQuantization.min == [-84.79798126220703])
        #expect(try #require(output.quantization).zeroPoint == [96])

        for op in subgraph.operators {
            let weights = model.tensor(op.inputs[1])
            let bias = model.tensor(op.inputs[2])
            #expect(weights.type == .int8)
            #expect(try #require(weights.quantization).scale.count == 1)
            #expect(try #require(weights.quantization).zeroPoint == [0])
            #expect(bias.type == .int32)
            // The bias scale is the input scale times the weight scale.
            let inputScale = try #require(model.tensor(op.inputs[0]).quantization?.scale.first)
            let weightScale = try #require(weights.quantization?.scale.first)
            let biasScale = try #require(bias.quantization?.scale.first)
            #expect(abs(biasScale - inputScale * weightScale) <= 1e-6 * biasScale)
        }
        // ReLU outputs use the whole int8 range for [0, max]: zero point -128.
        let hidden = model.tensor(subgraph.operators[0].outputs[0])
        #expect(hidden.type == .int8 && hidden.quantization?.zeroPoint == [-128])
    }

    @Test func keywordSpottingFloatHasTheDSCNNOperatorSequence() throws {
        let model = try ReferenceModels.model("kws_ref_model_float32.tflite")
        #expect(
            model.operatorNames
                == ["CONV_2D"]
                + Array(repeating: ["DEPTHWISE_CONV_2D", "CONV_2D"], count: 4).flatMap { $0 }
                + ["AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"])
        #expect(model.operatorCodes.map(\.builtinCode.code) == [3, 4, 1, 22, 9, 25])
        let subgraph = model.subgraphs[0]
        let input = model.tensor(subgraph.inputs[0])
        let output = model.tensor(subgraph.outputs[0])
        #expect(input.shape == [1, 49, 10, 1] && input.type == .float32)
        #expect(output.shape == [1, 12] && output.type == .float32)

        let ops = subgraph.operators
        #expect(
            ops[0].options
                == .conv2D(
                    TFLiteConv2DOptions(
                        padding: .same, strideWidth: 2, strideHeight: 2, activation: .relu)))
        #expect(model.tensor(ops[0].outputs[0]).shape == [1, 25, 5, 64])
        #expect(
            ops[1].options
                == .depthwiseConv2D(
                    TFLiteDepthwiseConv2DOptions(
                        padding: .same, strideWidth: 1, strideHeight: 1, depthMultiplier: 1,
                        activation: .relu)))
        #expect(
            ops[2].options
                == .conv2D(
                    TFLiteConv2DOptions(
                        padding: .same, strideWidth: 1, strideHeight: 1, activation: .relu)))
        // The pool covers the whole 25×5 feature map: one value per channel.
        #expect(
            ops[9].options
                == .pool2D(
                    TFLitePool2DOptions(
                        padding: .valid, strideWidth: 5, strideHeight: 25, filterWidth: 5,
                        filterHeight: 25)))
        #expect(ops[10].options == .none)
        // The new shape comes as a constant int32 tensor: [-1, 64].
        #expect(
            model.buffers[model.tensor(ops[10].inputs[1]).buffer] == [
                255, 255, 255, 255, 64, 0, 0, 0,
            ])
        #expect(ops[11].options == .fullyConnected(TFLiteFullyConnectedOptions()))
        #expect(ops[12].options == .softmax(beta: 1))
        #expect(ops.map(\.options.typeCode) == [1, 2, 1, 2, 1, 2, 1, 2, 1, 5, 0, 8, 9])

        // This "float" model stores its convolution filters as int8, one scale
        // per tensor (weight-only quantization); depthwise filters stay float.
        let filter = model.tensor(ops[0].inputs[1])
        #expect(filter.type == .int8 && filter.shape == [64, 10, 4, 1])
        #expect(filter.quantization?.scale.count == 1)
        #expect(model.tensor(ops[1].inputs[1]).type == .float32)
    }

    @Test func keywordSpottingInt8HasPerChannelFilters() throws {
        let model = try ReferenceModels.model("kws_ref_model.tflite")
        let ops = model.subgraphs[0].operators
        let input = model.tensor(model.subgraphs[0].inputs[0])
        let output = model.tensor(model.subgraphs[0].outputs[0])
        #expect(input.type == .int8 && input.quantization?.scale == [0.5847029089927673])
        #expect(input.quantization?.zeroPoint == [83])
        // Softmax output: probabilities in [0, 1) over int8, so scale 1/256 and zero point -128.
        #expect(output.type == .int8 && output.quantization?.scale == [0.00390625])
        #expect(output.quantization?.zeroPoint == [-128])

        for (index, op) in ops.enumerated() {
            let isConv = index < 9 && index % 2 == 0
            let isDepthwise = index < 9 && index % 2 == 1
            guard isConv || isDepthwise else { continue }
            let filter = model.tensor(op.inputs[1])
            let bias = model.tensor(op.inputs[2])
            let filterQuantization = try #require(filter.quantization)
            #expect(filter.type == .int8)
            // Conv filters [out, h, w, in] vary along dimension 0; depthwise [1, h, w, out] along 3.
            let channelDimension = isConv ? 0 : 3
            #expect(filterQuantization.quantizedDimension == channelDimension)
            #expect(filterQuantization.scale.count == filter.shape[channelDimension])
            #expect(filterQuantization.scale.count == 64 && filterQuantization.isPerChannel)
            #expect(filterQuantization.zeroPoint == Array(repeating: 0, count: 64))
            #expect(bias.type == .int32 && bias.shape == [64])
            let biasScales = try #require(bias.quantization?.scale)
            let inputScale = try #require(model.tensor(op.inputs[0]).quantization?.scale.first)
            for (biasScale, filterScale) in zip(biasScales, filterQuantization.scale) {
                #expect(abs(biasScale - inputScale * filterScale) <= 1e-6 * biasScale)
            }
            let activation = model.tensor(op.outputs[0])
            #expect(activation.type == .int8 && activation.quantization?.scale.count == 1)
            #expect(activation.quantization?.zeroPoint == [-128])
        }
        #expect(model.operatorCodes.map(\.version) == [3, 3, 2, 1, 4, 2])
    }

    @Test(arguments: ReferenceModels.names)
    func constantBuffersHoldOneElementPerShapeEntry(name: String) throws {
        let model = try ReferenceModels.model(name)
        #expect(model.buffers[0].isEmpty)
        var constants = 0
        for tensor in model.subgraphs[0].tensors where !model.buffers[tensor.buffer].isEmpty {
            let elementSize = try #require(tensor.type.elementSize)
            let elements = tensor.shape.reduce(1, *)
            #expect(
                model.buffers[tensor.buffer].count == elements * elementSize,
                "\(tensor.name) \(tensor.shape) \(tensor.type.name)")
            constants += 1
        }
        #expect(constants >= 11)
        // Activations have no data.
        for op in model.subgraphs[0].operators {
            #expect(op.outputs.allSatisfy { model.buffers[model.tensor($0).buffer].isEmpty })
        }
    }

    @Test(arguments: ReferenceModels.names)
    func readingTheFileMatchesReadingItsBytes(name: String) throws {
        let fromFile = try ReferenceModels.model(name)
        let fromBytes = try TFLiteModel(bytes: ReferenceModels.bytes(name), source: name)
        #expect(fromFile == fromBytes)
    }

    @Test func summaryListsOperatorsWithTensorShapes() throws {
        let summary = try ReferenceModels.model("kws_ref_model.tflite").summary
        #expect(summary.contains("schema version 3, \"MLIR Converted.\""))
        #expect(
            summary.contains(
                "#0 CONV_2D v3: t0 INT8[1,49,10,1], t17 INT8[64,10,4,1] const, t3 INT32[64] const → "
                    + "t22 INT8[1,25,5,64]"))
        #expect(summary.contains("#12 SOFTMAX v2: t33 INT8[1,12] → t34 INT8[1,12]"))
        #expect(summary.contains("outputs: t34 INT8[1,12]"))
        #expect(summary.split(separator: "\n").count == 1 + 1 + 1 + 13 + 1)
    }
}
