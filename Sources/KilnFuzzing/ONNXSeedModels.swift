/// Small valid ONNX models the ONNX fuzz target starts from, written field by
/// field in protobuf wire format (field numbers from `onnx.proto`).
///
/// Between them they use every operator the ONNX importer converts: an NCHW
/// image network, and a token network with the element-wise, shape and
/// normalization operators.
public enum ONNXSeedModels {
    /// Every built-in seed, as file bytes.
    public static var all: [[UInt8]] {
        [imageNetwork, tokenNetwork, quantizedNetwork, integerNetwork, recurrentNetwork(steps: 5)].map(\.encoded)
    }

    /// The file bytes of ``integerNetwork``, for tests of int8 model inputs.
    public static var integerNetworkBytes: [UInt8] { integerNetwork.encoded }

    /// The file bytes of ``recurrentNetwork(steps:)``, for tests of long sequences.
    public static func recurrentNetworkBytes(steps: Int) -> [UInt8] { recurrentNetwork(steps: steps).encoded }

    /// A bidirectional LSTM (hidden 4, with biases and clip) and a reverse GRU (linear_before_reset)
    /// reading one sequence `[steps, 1, 3]`; their `Y` sequences are the outputs; opset 14.
    static func recurrentNetwork(steps: Int) -> M {
        model(
            opset: 14,
            nodes: [
                node(
                    "LSTM", ["x", "lstm_w", "lstm_r", "lstm_b"], "lstm",
                    [int("hidden_size", 4), string("direction", "bidirectional"), float("clip", 3)]),
                node(
                    "GRU", ["x", "gru_w", "gru_r"], "gru",
                    [int("hidden_size", 4), string("direction", "reverse"), int("linear_before_reset", 1)]),
            ],
            initializers: [
                floats("lstm_w", [2, 16, 3], seed: 1), floats("lstm_r", [2, 16, 4], seed: 2), floats("lstm_b", [2, 32], seed: 3),
                floats("gru_w", [1, 12, 3], seed: 4), floats("gru_r", [1, 12, 4], seed: 5),
            ],
            inputs: [value(11, "x", [steps, 1, 3])],
            outputs: [value(12, "lstm", [steps, 2, 1, 4]), value(12, "gru", [steps, 1, 1, 4])])
    }

    typealias Field = (number: Int, value: ProtobufWireMessage.Value)
    typealias M = ProtobufWireMessage

    /// `ModelProto`: ir_version 1, graph 7, opset_import 8 (version 2).
    static func model(opset: Int, nodes: [Field], initializers: [Field], inputs: [Field], outputs: [Field]) -> M {
        M([
            M.int(1, 8),
            M.message(7, [M.string(2, "seed")] + nodes + initializers + inputs + outputs),
            M.message(8, [M.string(1, ""), M.int(2, opset)]),
        ])
    }

    /// `GraphProto.node` (1): `NodeProto` input 1, output 2, name 3, op_type 4, attribute 5.
    static func node(_ op: String, _ inputs: [String], _ output: String, _ attributes: [Field] = []) -> Field {
        M.message(1, inputs.map { M.string(1, $0) } + [M.string(2, output), M.string(3, output), M.string(4, op)] + attributes)
    }

    /// `NodeProto.attribute` (5): `AttributeProto` name 1, f 2, i 3, floats 7, ints 8, type 20.
    static func ints(_ name: String, _ values: [Int]) -> Field {
        M.message(5, [M.string(1, name)] + values.map { M.int(8, $0) } + [M.int(20, 7)])
    }

    static func int(_ name: String, _ value: Int) -> Field { M.message(5, [M.string(1, name), M.int(3, value), M.int(20, 2)]) }
    static func float(_ name: String, _ value: Float) -> Field { M.message(5, [M.string(1, name), M.float(2, value), M.int(20, 1)]) }
    static func string(_ name: String, _ value: String) -> Field {
        M.message(5, [M.string(1, name), M.string(4, value), M.int(20, 3)])
    }

    /// `GraphProto.initializer` (5): `TensorProto` dims 1, data_type 2, float_data 4, int64_data 7, name 8.
    static func floats(_ name: String, _ shape: [Int], seed: Int = 1, positive: Bool = false) -> Field {
        let count = shape.reduce(1, *)
        let values = (0..<count).map { Float(($0 * 37 + seed * 11) % 23) / 23 - (positive ? -0.1 : 0.45) }
        return M.message(5, shape.map { M.int(1, $0) } + [M.int(2, 1)] + values.map { M.float(4, $0) } + [M.string(8, name)])
    }

    static func integers(_ name: String, _ values: [Int], shape: [Int]? = nil) -> Field {
        M.message(5, (shape ?? [values.count]).map { M.int(1, $0) } + [M.int(2, 7)] + values.map { M.int(7, $0) } + [M.string(8, name)])
    }

    /// An int8 (type 3), uint8 (2) or int32 (6) initializer, its values in `int32_data` (5).
    static func small(_ name: String, _ values: [Int], shape: [Int], type: Int) -> Field {
        M.message(5, shape.map { M.int(1, $0) } + [M.int(2, type)] + values.map { M.int(5, $0) } + [M.string(8, name)])
    }

    /// `GraphProto.input` (11) or `output` (12): `ValueInfoProto` name 1, type 2 → tensor_type 1 → elem_type 1, shape 2 → dim 1 → dim_value 1.
    static func value(_ number: Int, _ name: String, _ shape: [Int], type: Int = 1) -> Field {
        let dimensions = shape.map { M.message(1, [M.int(1, $0)]) }
        return M.message(number, [M.string(1, name), M.message(2, [M.message(1, [M.int(1, type), M.message(2, dimensions)])])])
    }

    /// An integer model as tf2onnx converts a TFLite model with int8 inputs and outputs: an int8
    /// input read by DequantizeLinear, Gemm with int8 weights and int32 bias, Relu, QuantizeLinear
    /// to an int8 output; opset 13.
    static var integerNetwork: M {
        model(
            opset: 13,
            nodes: [
                node("DequantizeLinear", ["x", "xs", "xz"], "x_d"),
                node("DequantizeLinear", ["wq", "ws", "wz"], "w"),
                node("DequantizeLinear", ["bq", "bs", "bz"], "b"),
                node("Gemm", ["x_d", "w", "b"], "y", [int("transB", 1)]),
                node("QuantizeLinear", ["y", "ys", "yz"], "y_q"),
                node("DequantizeLinear", ["y_q", "ys", "yz"], "y_d"),
                node("Relu", ["y_d"], "r"),
                node("QuantizeLinear", ["r", "ys", "yz"], "out"),
            ],
            initializers: [
                floats("xs", [], seed: 1, positive: true), small("xz", [-3], shape: [], type: 3),
                small("wq", (0..<40).map { ($0 * 29) % 201 - 100 }, shape: [5, 8], type: 3),
                floats("ws", [], seed: 2, positive: true), small("wz", [0], shape: [], type: 3),
                small("bq", [40, -7, 300, 0, -1000], shape: [5], type: 6), floats("bs", [], seed: 3, positive: true),
                small("bz", [0], shape: [], type: 6), floats("ys", [], seed: 4, positive: true),
                small("yz", [-20], shape: [], type: 3),
            ],
            inputs: [value(11, "x", [1, 8], type: 3)], outputs: [value(12, "out", [1, 5], type: 3)])
    }

    /// Conv (explicit pads) → BatchNormalization → Relu → MaxPool → depthwise Conv (SAME_UPPER) → Clip →
    /// AveragePool → GlobalMaxPool, and a second branch GlobalAveragePool → Flatten → Gemm → Softmax; opset 13.
    static var imageNetwork: M {
        model(
            opset: 13,
            nodes: [
                node("Conv", ["image", "w1", "b1"], "c1", [ints("kernel_shape", [3, 3]), ints("pads", [1, 1, 1, 1])]),
                node("BatchNormalization", ["c1", "gamma", "beta", "mean", "var"], "bn", [float("epsilon", 0.001)]),
                node("Relu", ["bn"], "r1"),
                node("MaxPool", ["r1"], "p1", [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])]),
                node("Conv", ["p1", "w2"], "c2", [ints("kernel_shape", [3, 3]), int("group", 4), string("auto_pad", "SAME_UPPER")]),
                node("Clip", ["c2", "low", "high"], "clip"),
                node("AveragePool", ["clip"], "avg", [ints("kernel_shape", [3, 3]), ints("pads", [1, 1, 1, 1])]),
                node("GlobalMaxPool", ["avg"], "gmax"),
                node("GlobalAveragePool", ["clip"], "gap"),
                node("Add", ["gap", "gmax"], "sum"),
                node("Flatten", ["sum"], "flat"),
                node("Gemm", ["flat", "w3", "b3"], "logits", [int("transB", 1)]),
                node("Softmax", ["logits"], "probabilities", [int("axis", 1)]),
            ],
            initializers: [
                floats("w1", [4, 3, 3, 3]), floats("b1", [4], seed: 2), floats("gamma", [4], seed: 3), floats("beta", [4], seed: 4),
                floats("mean", [4], seed: 5), floats("var", [4], seed: 6, positive: true), floats("w2", [4, 1, 3, 3], seed: 7),
                floats("low", [], seed: 8), floats("high", [], seed: 9), floats("w3", [3, 4], seed: 10), floats("b3", [3], seed: 11),
            ],
            inputs: [value(11, "image", [1, 3, 8, 8])], outputs: [value(12, "probabilities", [1, 3])])
    }

    /// A QDQ network as ONNX Runtime's `quantize_static` writes one: uint8 and int8 activations, per-channel
    /// int8 weights and int32 biases through DequantizeLinear; Conv, MaxPool, Add, Gemm as int8 layers,
    /// Relu in float; opset 17.
    static var quantizedNetwork: M {
        func qdq(_ x: String, _ name: String, scale: String = "s", zero: String = "z") -> [Field] {
            [node("QuantizeLinear", [x, scale, zero], "\(name)_q"), node("DequantizeLinear", ["\(name)_q", scale, zero], "\(name)_d")]
        }
        let axis0 = int("axis", 0)
        return model(
            opset: 17,
            nodes: qdq("image", "x", zero: "uz")
                + [
                    node("DequantizeLinear", ["wq", "ws", "wz"], "w", [axis0]),
                    node("DequantizeLinear", ["bq", "bs", "bz"], "b", [axis0]),
                    node("Conv", ["x_d", "w", "b"], "c", [ints("kernel_shape", [3, 3]), ints("pads", [1, 1, 1, 1])]),
                ] + qdq("c", "c")
                + [node("MaxPool", ["c_d"], "p", [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])])] + qdq("p", "p")
                + [node("Add", ["p_d", "p_d"], "sum")] + qdq("sum", "sum")
                + [node("Flatten", ["sum_d"], "flat")] + qdq("flat", "flat")
                + [
                    node("DequantizeLinear", ["gq", "gs", "gz"], "g", [int("axis", 1)]),
                    node("Gemm", ["flat_d", "g"], "logits"),
                ] + qdq("logits", "logits") + [node("Relu", ["logits_d"], "out")],
            initializers: [
                floats("s", [], seed: 1, positive: true), small("z", [3], shape: [], type: 3),
                small("uz", [128], shape: [], type: 2), small("wq", (0..<36).map { $0 % 11 - 5 }, shape: [2, 2, 3, 3], type: 3),
                floats("ws", [2], seed: 2, positive: true), small("wz", [0, 0], shape: [2], type: 3),
                small("bq", [40, -7], shape: [2], type: 6), floats("bs", [2], seed: 3, positive: true),
                small("bz", [0, 0], shape: [2], type: 6), small("gq", (0..<24).map { $0 % 7 - 3 }, shape: [8, 3], type: 3),
                floats("gs", [3], seed: 4, positive: true), small("gz", [0, 0, 0], shape: [3], type: 3),
            ],
            inputs: [value(11, "image", [1, 2, 4, 4])], outputs: [value(12, "out", [1, 3])])
    }

    /// LayerNormalization, MatMul, shape arithmetic into Reshape, Transpose, batched MatMul, the
    /// element-wise and binary functions, Slice, Pad, ReduceMean, Squeeze/Unsqueeze, Concat, Cast,
    /// Identity, Dropout, Constant; opset 17.
    static var tokenNetwork: M {
        model(
            opset: 17,
            nodes: [
                node("LayerNormalization", ["tokens", "gamma", "beta"], "norm", [int("axis", -1)]),
                node("MatMul", ["norm", "w"], "projected"),
                node("Shape", ["projected"], "shape"),
                node("Gather", ["shape", "zero"], "batch"),
                node("Unsqueeze", ["batch", "axis0"], "batch1"),
                node("Constant", [], "rest", [ints("value_ints", [4, 2, 3])]),
                node("Concat", ["batch1", "rest"], "target", [int("axis", 0)]),
                node("Reshape", ["projected", "target"], "heads"),
                node("Transpose", ["heads"], "headsFirst", [ints("perm", [0, 2, 1, 3])]),
                node("Transpose", ["headsFirst"], "headsT", [ints("perm", [0, 1, 3, 2])]),
                node("MatMul", ["headsFirst", "headsT"], "scores"),
                node("Div", ["scores", "two"], "scaled"),
                node("Softmax", ["scaled"], "attention", [int("axis", -1)]),
                node("Sub", ["attention", "two"], "d1"),
                node("Mul", ["d1", "attention"], "d2"),
                node("Abs", ["d2"], "d3"),
                node("Sqrt", ["d3"], "d4"),
                node("Log", ["d4"], "d5"),
                node("Exp", ["d5"], "d6"),
                node("Neg", ["d6"], "d7"),
                node("Sigmoid", ["d7"], "d8"),
                node("Tanh", ["d8"], "d9"),
                node("HardSwish", ["d9"], "d10"),
                node("Gelu", ["d10"], "d11"),
                node("Elu", ["d11"], "d12"),
                node("LeakyRelu", ["d12"], "d13", [float("alpha", 0.1)]),
                node("Pow", ["d13", "two"], "d14"),
                node("Max", ["d14", "d13"], "d15"),
                node("Min", ["d15", "two"], "d16"),
                node("Slice", ["d16", "starts", "ends", "axes"], "sliced"),
                node("Pad", ["sliced", "pads"], "padded"),
                node("ReduceMean", ["padded"], "mean", [ints("axes", [3]), int("keepdims", 1)]),
                node("Squeeze", ["mean", "axis3"], "squeezed"),
                node("Unsqueeze", ["squeezed", "axis3"], "unsqueezed"),
                node("Concat", ["unsqueezed", "unsqueezed"], "joined", [int("axis", 3)]),
                node("Cast", ["joined"], "cast", [int("to", 1)]),
                node("Identity", ["cast"], "same"),
                node("Dropout", ["same"], "out"),
            ],
            initializers: [
                floats("gamma", [6]), floats("beta", [6], seed: 2), floats("w", [6, 6], seed: 3), integers("zero", [0], shape: []),
                integers("axis0", [0]), floats("two", [], seed: 4), integers("starts", [0, 1]), integers("ends", [4, 4]),
                integers("axes", [2, 3]), integers("pads", [0, 0, 1, 0, 0, 0, 0, 1]), integers("axis3", [3]),
            ],
            inputs: [value(11, "tokens", [1, 4, 6])], outputs: [value(12, "out", [1, 2, 5, 2])])
    }
}
