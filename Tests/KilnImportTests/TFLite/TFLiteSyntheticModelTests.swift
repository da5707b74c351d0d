import Foundation
import Testing

@testable import KilnImport

/// Hand-built models for what the reference models do not exercise.
@Suite struct TFLiteSyntheticModelTests {
    typealias S = SyntheticTFLite

    /// Input t0 [1, 4] → ADD (opcode 0) with a constant t1 → t2.
    static func addModel(
        operatorCodes: [FB] = [S.operatorCode(deprecated: 0)], optionsType: UInt8 = 11,
        options: [Int: FB]? = [0: .int8(1)], inputs: [Int32] = [0, 1], version: UInt32 = 3,
        buffers: [FB]? = nil
    ) -> [UInt8] {
        FB.file(
            root: S.model(
                version: version, operatorCodes: operatorCodes,
                tensors: [
                    S.tensor("x", shape: [1, 4]), S.tensor("c", shape: [4], buffer: 1),
                    S.tensor("y", shape: [1, 4]),
                ],
                operators: [
                    S.op(
                        opcode: 0, inputs: inputs, outputs: [2], optionsType: optionsType,
                        options: options)
                ],
                buffers: buffers ?? [S.buffer([]), S.buffer(Array(0..<16))]))
    }

    @Test func readsAHandBuiltModel() throws {
        let model = try TFLiteModel(bytes: Self.addModel(), source: "add.tflite")
        #expect(model.description == "synthetic")
        #expect(model.operatorCodes == [TFLiteOperatorCode(builtinCode: .add)])
        #expect(model.subgraphs[0].operators[0].options == .add(activation: .relu))
        #expect(model.buffers == [[], Array(0..<16)])
        #expect(model.tensor(1).name == "c" && model.tensor(1).buffer == 1)
        #expect(model.tensor(1).quantization == nil && !model.tensor(1).isVariable)
        #expect(
            model.summary.contains(
                "#0 ADD v1: t0 FLOAT32[1,4], t1 FLOAT32[4] const → t2 FLOAT32[1,4]"))
    }

    @Test func builtinCodeIsTheLargerOfTheByteAndTheExtendedField() throws {
        let codes = [
            // Old writers: only the byte.
            S.operatorCode(deprecated: 3),
            // Codes past 127: the byte saturates at the placeholder, the int32 holds the code.
            S.operatorCode(deprecated: 127, builtin: 150),
            // New writers fill both with the same value.
            S.operatorCode(deprecated: 9, builtin: 9),
            S.operatorCode(deprecated: 32, custom: "MyCustomOp"),
            S.operatorCode(deprecated: 127, builtin: 400),
        ]
        let model = try TFLiteModel(bytes: Self.addModel(operatorCodes: codes), source: "codes")
        #expect(
            model.operatorCodes.map(\.builtinCode) == [
                .conv2D, .gelu, .fullyConnected, .custom, .unknown(400),
            ])
        #expect(model.operatorCodes[3].customCode == "MyCustomOp")
        #expect(model.operatorCodes[4].builtinCode.name == "BuiltinOperator(400)")
        #expect(model.summary.contains("#0 CONV_2D v1"))
    }

    @Test func builtinOperatorCodesAndNamesFollowTheSchema() {
        let expected: [(TFLiteBuiltinOperator, Int, String)] = [
            (.add, 0, "ADD"), (.averagePool2D, 1, "AVERAGE_POOL_2D"),
            (.concatenation, 2, "CONCATENATION"),
            (.conv2D, 3, "CONV_2D"), (.depthwiseConv2D, 4, "DEPTHWISE_CONV_2D"),
            (.dequantize, 6, "DEQUANTIZE"), (.fullyConnected, 9, "FULLY_CONNECTED"),
            (.logistic, 14, "LOGISTIC"), (.maxPool2D, 17, "MAX_POOL_2D"), (.mul, 18, "MUL"),
            (.relu, 19, "RELU"), (.relu6, 21, "RELU6"), (.reshape, 22, "RESHAPE"),
            (.softmax, 25, "SOFTMAX"), (.tanh, 28, "TANH"), (.custom, 32, "CUSTOM"),
            (.pad, 34, "PAD"),
            (.mean, 40, "MEAN"), (.quantize, 114, "QUANTIZE"), (.hardSwish, 117, "HARD_SWISH"),
            (.batchMatMul, 126, "BATCH_MATMUL"), (.gelu, 150, "GELU"),
            (.rightShift, 161, "RIGHT_SHIFT"),
        ]
        for (op, code, name) in expected {
            #expect(op.code == code && op.name == name)
            #expect(TFLiteBuiltinOperator(code: code) == op)
        }
        #expect(TFLiteBuiltinOperator(code: 162) == .unknown(162))
        #expect(TFLiteBuiltinOperator(code: -1) == .unknown(-1))
        for code in 0..<162 {
            #expect(TFLiteBuiltinOperator(code: code).code == code)
        }
    }

    @Test func tensorTypesFollowTheSchema() {
        #expect(TFLiteTensorType(code: 0) == .float32 && TFLiteTensorType(code: 9) == .int8)
        #expect(TFLiteTensorType(code: 10) == .float64 && TFLiteTensorType(code: 17) == .int4)
        #expect(TFLiteTensorType(code: 99) == .other(99) && TFLiteTensorType.other(99).code == 99)
        for code in 0..<18 {
            #expect(TFLiteTensorType(code: code).code == code)
        }
        #expect(
            TFLiteTensorType.int32.elementSize == 4 && TFLiteTensorType.string.elementSize == nil)
    }

    @Test func optionsWithoutATableReadAsSchemaDefaults() throws {
        let bytes = Self.addModel(optionsType: 1, options: nil)
        let model = try TFLiteModel(bytes: bytes, source: "defaults")
        #expect(
            model.subgraphs[0].operators[0].options
                == .conv2D(
                    TFLiteConv2DOptions(
                        padding: .same, strideWidth: 0, strideHeight: 0, dilationWidthFactor: 1,
                        dilationHeightFactor: 1, activation: .none)))
    }

    @Test func decodesOtherOptionTables() throws {
        let cases: [(UInt8, [Int: FB], TFLiteBuiltinOptions)] = [
            (17, [0: .vector([.int32(1), .int32(-1)])], .reshape(newShape: [1, -1])),
            (17, [:], .reshape(newShape: nil)),
            (27, [0: .bool(true)], .reducer(keepDims: true)),
            (10, [0: .int32(-1), 1: .int8(3)], .concatenation(axis: -1, activation: .relu6)),
            (22, [:], .pad),
            (21, [0: .int8(4)], .mul(activation: .tanh)),
            (
                8, [0: .int8(1), 1: .int8(1), 2: .bool(true), 3: .bool(true)],
                .fullyConnected(
                    TFLiteFullyConnectedOptions(
                        activation: .relu, weightsFormat: .shuffled4x16Int8, keepNumDims: true,
                        asymmetricQuantizeInputs: true))
            ),
            (
                2,
                [
                    0: .int8(1), 1: .int32(2), 2: .int32(3), 3: .int32(4), 4: .int8(3),
                    5: .int32(2), 6: .int32(5),
                ],
                .depthwiseConv2D(
                    TFLiteDepthwiseConv2DOptions(
                        padding: .valid, strideWidth: 2, strideHeight: 3, depthMultiplier: 4,
                        dilationWidthFactor: 2, dilationHeightFactor: 5, activation: .relu6))
            ),
            (9, [0: .float(0.5)], .softmax(beta: 0.5)),
            (23, [0: .int32(1)], .gather(axis: 1, batchDims: 0)),
            (30, [0: .vector([.int32(0)])], .squeeze(dimensions: [0])),
            (75, [0: .float(0.25)], .leakyRelu(alpha: 0.25)),
            (91, [:], .hardSwish),
            (120, [0: .int32(7)], .unsupported(typeCode: 120)),
        ]
        for (type, fields, expected) in cases {
            let model = try TFLiteModel(
                bytes: Self.addModel(optionsType: type, options: fields), source: "options")
            #expect(model.subgraphs[0].operators[0].options == expected)
            #expect(expected.typeCode == Int(type))
        }
    }

    @Test func rejectsUnknownEnumValuesInOptions() {
        expectTFLiteFailure(
            containing: "bad.tflite: ", "fused_activation_function", "unknown fused activation 9"
        ) {
            _ = try TFLiteModel(bytes: Self.addModel(options: [0: .int8(9)]), source: "bad.tflite")
        }
        expectTFLiteFailure(containing: "Model.subgraphs[0].operators[0].builtin_options.padding") {
            _ = try TFLiteModel(
                bytes: Self.addModel(optionsType: 1, options: [0: .int8(2)]), source: "bad.tflite")
        }
    }

    @Test func optionalInputsAreMinusOneAndOtherIndicesAreChecked() throws {
        let model = try TFLiteModel(bytes: Self.addModel(inputs: [0, -1]), source: "optional")
        #expect(model.subgraphs[0].operators[0].inputs == [0, -1])
        expectTFLiteFailure(
            containing:
                "m.tflite: subgraph 0, operator 0 (ADD) inputs: tensor index 7 is out of range",
            "3 tensors"
        ) {
            _ = try TFLiteModel(bytes: Self.addModel(inputs: [0, 7]), source: "m.tflite")
        }
        expectTFLiteFailure(containing: "buffer index 1 is out of range; the model has 1 buffers") {
            _ = try TFLiteModel(bytes: Self.addModel(buffers: [S.buffer([])]), source: "m.tflite")
        }
        let badOpcode = FB.file(
            root: S.model(
                operatorCodes: [S.operatorCode(deprecated: 0)],
                tensors: [S.tensor("x", shape: [1])],
                operators: [S.op(opcode: 3, inputs: [0], outputs: [0])]))
        expectTFLiteFailure(containing: "operator code index 3 is out of range") {
            _ = try TFLiteModel(bytes: badOpcode, source: "m.tflite")
        }
    }

    @Test func readsBuffersStoredOutsideTheFlatBuffer() throws {
        // Large models append their weights after the FlatBuffer and record offset and size.
        let marker: UInt64 = 0x0123_4567_89AB_CDEF
        var bytes = Self.addModel(buffers: [
            S.buffer([]), .table([1: .uint64(marker), 2: .uint64(8)]),
        ])
        let markerBytes = (0..<8).map { UInt8(truncatingIfNeeded: marker >> (8 * $0)) }
        let slot = try #require(
            (0...(bytes.count - 8)).first { Array(bytes[$0..<($0 + 8)]) == markerBytes })
        let dataOffset = UInt64(bytes.count)
        for index in 0..<8 {
            bytes[slot + index] = UInt8(truncatingIfNeeded: dataOffset >> (8 * index))
        }
        let external: [UInt8] = [9, 8, 7, 6, 5, 4, 3, 2]
        let model = try TFLiteModel(bytes: bytes + external, source: "large.tflite")
        #expect(model.buffers[1] == external)

        // The same file cut short: the external data is missing.
        expectTFLiteFailure(
            containing:
                "large.tflite: Model.buffers[1]: the external data of 8 bytes at byte \(dataOffset)",
            "runs past the end"
        ) {
            _ = try TFLiteModel(bytes: bytes + external.prefix(4), source: "large.tflite")
        }
        // Offset 1 is writers' placeholder for "no external data".
        let placeholder = Self.addModel(buffers: [
            S.buffer([]), .table([1: .uint64(1), 2: .uint64(0)]),
        ])
        #expect(try TFLiteModel(bytes: placeholder, source: "p").buffers[1] == [])
    }

    @Test func rejectsFilesThatAreNotTensorFlowLiteModels() {
        expectTFLiteFailure(containing: "x.npy: not a TensorFlow Lite model", "TFL3") {
            _ = try TFLiteModel(
                bytes: [0x93] + Array("NUMPY".utf8) + Array(repeating: 0, count: 32),
                source: "x.npy")
        }
        expectTFLiteFailure(containing: "e.tflite: not a TensorFlow Lite model", "only 0 bytes") {
            _ = try TFLiteModel(bytes: [], source: "e.tflite")
        }
        expectTFLiteFailure(containing: "v2.tflite: schema version 2 is not supported") {
            _ = try TFLiteModel(bytes: Self.addModel(version: 2), source: "v2.tflite")
        }
        let empty = FB.file(root: .table([0: .uint32(3)]))
        expectTFLiteFailure(containing: "n.tflite: the model has no subgraphs") {
            _ = try TFLiteModel(bytes: empty, source: "n.tflite")
        }
    }

    @Test func missingFilesAreNamed() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("absent.tflite")
        expectTFLiteFailure(containing: "absent.tflite", "no such file") {
            _ = try TFLiteModel(contentsOf: url)
        }
    }
}
