#!/usr/bin/env python3
"""Builds Kiln's ONNX import fixtures: NCHW models written with the `onnx` helper API.

Run it through scripts/make_onnx_models.sh, which makes the pinned virtualenv
(.venv-onnx) first. Each model has seeded random weights, is checked by
`onnx.checker`, and is run by ONNX Runtime on a seeded input; both go next to
the model. The graphs use the constructs PyTorch's and tf2onnx's exporters
write: explicit and automatic padding, batch normalization after
convolutions, Clip as ReLU6, residual additions, depthwise convolutions
(group = channels), Flatten of a feature map into Gemm, shape arithmetic
(Shape → Gather → Unsqueeze → Concat → Reshape), LayerNormalization, batched
MatMul, Transpose, Softmax; and, for their operators, a decoder (LeakyRelu,
PRelu, ConvTranspose, grouped Conv, nearest, linear and cubic Resize, SpaceToDepth,
DepthToSpace) and a model with eight outputs (ReduceMax/Sum/Min/Prod/Mean,
ArgMax, Tile, LogSoftmax, Gather on data). Each float model is run by ONNX
Runtime and by onnx's reference implementation before it is written.

Image models also get an int8 QDQ version, made the way ONNX Runtime documents
it (`quant_pre_process`, then `quantize_static` with QDQ format, int8
activations and per-channel int8 weights, calibrated on seeded random images).
cnn, residual and depthwise also get an int8 QOperator version, made the same
way with `quant_format=QuantFormat.QOperator` (QLinearConv, QLinearMatMul,
QuantizeLinear, DequantizeLinear), its `op_types_to_quantize` limited to the
operators whose QOperator form is in the default ONNX domain, so that it has no
com.microsoft nodes (QGemm, QLinearAdd, QLinearGlobalAveragePool, ...): see
QOP_OP_TYPES.

Writes into Tests/KilnTests/Fixtures/ONNX/:
  NAME.onnx            the model
  NAME_qdq.onnx        its int8 QDQ version (image models)
  NAME_qop.onnx        its int8 QOperator version (cnn, residual, depthwise)
  NAME.inputs.npy      ONNX Runtime's input (NCHW for images, as ONNX has it; also NAME_qdq's and NAME_qop's)
  NAME.outputs.npy     ONNX Runtime's output (NAME_qdq.outputs.npy for the QDQ version,
                       NAME_qop.outputs.npy for the QOperator version);
                       NAME.outputs.K.npy, K in graph output order, for a model with several
  README.md            how the files were made, versions and checksums
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

OUT = Path(__file__).resolve().parent.parent / "Tests/KilnTests/Fixtures/ONNX"


class Builder:
    """Collects nodes and seeded initializers for one graph."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list = []
        self.initializers: list = []
        self.count = 0

    def name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}_{self.count}"

    def constant(self, values, kind="const", dtype=np.float32) -> str:
        name = self.name(kind)
        self.initializers.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    def weights(self, shape, scale=None, kind="w") -> str:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        scale = scale if scale is not None else 1.0 / np.sqrt(fan_in)
        return self.constant(self.rng.uniform(-scale, scale, shape), kind)

    def node(self, op: str, inputs, outputs=1, **attributes):
        names = [self.name(op.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, list(inputs), names, name=names[0], **attributes))
        return names[0] if outputs == 1 else names

    def conv(self, x, cin, cout, k, group=1, bias=True, **attributes):
        inputs = [x, self.weights([cout, cin // group, k, k])]
        if bias:
            inputs.append(self.constant(self.rng.uniform(-0.1, 0.1, [cout]), "b"))
        return self.node("Conv", inputs, kernel_shape=[k, k], group=group, **attributes)

    def batch_norm(self, x, channels):
        rng = self.rng
        parameters = [
            self.constant(rng.uniform(0.5, 1.5, [channels]), "gamma"),
            self.constant(rng.uniform(-0.2, 0.2, [channels]), "beta"),
            self.constant(rng.uniform(-0.2, 0.2, [channels]), "mean"),
            self.constant(rng.uniform(0.5, 1.5, [channels]), "var"),
        ]
        return self.node("BatchNormalization", [x, *parameters], epsilon=1e-3)

    def model(self, name, inputs, outputs, opset):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="kiln-fixtures")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return model


def image_input(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def cnn():
    """Conv (explicit pads) → BN → Relu → MaxPool → Conv (asymmetric pads, stride 2) → BN → Clip(0, 6)
    → GlobalAveragePool → Flatten → Gemm → Softmax; opset 13, a symbolic batch."""
    b = Builder(1)
    x = b.conv("image", 3, 8, 3, pads=[1, 1, 1, 1])
    x = b.node("Relu", [b.batch_norm(x, 8)])
    x = b.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = b.conv(x, 8, 16, 3, strides=[2, 2], pads=[1, 1, 0, 0])
    x = b.batch_norm(x, 16)
    x = b.node("Clip", [x, b.constant(0.0, "min"), b.constant(6.0, "max")])
    x = b.node("GlobalAveragePool", [x])
    x = b.node("Flatten", [x], axis=1)
    x = b.node("Gemm", [x, b.weights([16, 10]), b.constant(b.rng.uniform(-0.1, 0.1, [10]), "b")])
    y = b.node("Softmax", [x], axis=1)
    return b.model("cnn", [image_input("image", ["N", 3, 32, 32])], [helper.make_tensor_value_info(y, TensorProto.FLOAT, ["N", 10])], 13)


def residual():
    """Conv → Relu → Conv + 1×1 stride-2 shortcut → Relu → AveragePool (pads, not counted)
    → MaxPool (pads) → Flatten of a 4×4 map → Gemm (transB); opset 17."""
    b = Builder(2)
    x = b.conv("image", 4, 8, 3, strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.node("Relu", [x])
    main = b.conv(x, 8, 8, 3, pads=[1, 1, 1, 1], bias=False)
    shortcut = b.conv("image", 4, 8, 1, strides=[2, 2])
    x = b.node("Relu", [b.node("Add", [main, shortcut])])
    x = b.node("AveragePool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], count_include_pad=0)
    x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.node("Flatten", [x])
    y = b.node("Gemm", [x, b.weights([6, 8 * 4 * 4]), b.constant(b.rng.uniform(-0.1, 0.1, [6]), "b")], transB=1, alpha=0.5, beta=2.0)
    return b.model("residual", [image_input("image", [1, 4, 16, 16])], [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 6])], 17)


def depthwise():
    """MobileNet-style block: 1×1 expand → HardSwish → depthwise 3×3 (SAME_UPPER, stride 2) → BN → Relu
    → 1×1 project + per-channel constant → Transpose to NHWC → Reshape → MatMul → Sigmoid; opset 21."""
    b = Builder(3)
    x = b.node("HardSwish", [b.conv("image", 3, 12, 1)])
    x = b.conv(x, 12, 12, 3, group=12, strides=[2, 2], auto_pad="SAME_UPPER")
    x = b.node("Relu", [b.batch_norm(x, 12)])
    x = b.conv(x, 12, 6, 1)
    x = b.node("Add", [x, b.constant(b.rng.uniform(-0.5, 0.5, [6, 1, 1]), "channel_bias")])
    x = b.node("Transpose", [x], perm=[0, 2, 3, 1])
    x = b.node("Reshape", [x, b.constant([1, -1], "shape", np.int64)])
    x = b.node("MatMul", [x, b.weights([6 * 10 * 10, 5])])
    y = b.node("Sigmoid", [x])
    return b.model("depthwise", [image_input("image", [1, 3, 20, 20])], [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 5])], 21)


def encoder():
    """Transformer-style block on [1, 8, 16] tokens: LayerNormalization, Q/K/V MatMul + Add, heads by
    Reshape/Transpose, batched MatMul, Softmax, shape arithmetic (Shape → Gather → Unsqueeze → Concat →
    Reshape), residual Add, GELU through Erf, ReduceMean; opset 17."""
    b = Builder(4)
    tokens, width, heads = 8, 16, 2
    x = b.node("LayerNormalization", ["tokens", b.constant(b.rng.uniform(0.5, 1.5, [width]), "gamma"),
                                      b.constant(b.rng.uniform(-0.2, 0.2, [width]), "beta")], axis=-1, epsilon=1e-5)

    def project(x):
        return b.node("Add", [b.node("MatMul", [x, b.weights([width, width])]), b.constant(b.rng.uniform(-0.1, 0.1, [width]), "b")])

    def split_heads(x):
        x = b.node("Reshape", [x, b.constant([1, tokens, heads, width // heads], "shape", np.int64)])
        return b.node("Transpose", [x], perm=[0, 2, 1, 3])

    q, k, v = (split_heads(project(x)) for _ in range(3))
    scores = b.node("MatMul", [q, b.node("Transpose", [k], perm=[0, 1, 3, 2])])
    scores = b.node("Div", [scores, b.constant(np.sqrt(width // heads), "scale")])
    attention = b.node("MatMul", [b.node("Softmax", [scores], axis=-1), v])
    attention = b.node("Transpose", [attention], perm=[0, 2, 1, 3])
    # The shape arithmetic PyTorch writes for `x.reshape(x.shape[0], x.shape[1], -1)`.
    shape = b.node("Shape", [attention])
    batch = b.node("Unsqueeze", [b.node("Gather", [shape, b.constant(0, "index", np.int64)], axis=0), b.constant([0], "axes", np.int64)])
    length = b.node("Unsqueeze", [b.node("Gather", [shape, b.constant(1, "index", np.int64)], axis=0), b.constant([0], "axes", np.int64)])
    target = b.node("Concat", [batch, length, b.constant([-1], "rest", np.int64)], axis=0)
    attention = b.node("Reshape", [attention, target])
    x = b.node("Add", ["tokens", project(attention)])
    # GELU as PyTorch exports it before opset 20: x · 0.5 · (1 + erf(x / √2)).
    pre = project(x)
    erf = b.node("Erf", [b.node("Div", [pre, b.constant(np.sqrt(2.0), "sqrt2")])])
    hidden = b.node("Mul", [b.node("Mul", [pre, b.constant(0.5, "half")]), b.node("Add", [erf, b.constant(1.0, "one")])])
    x = b.node("Add", [x, hidden])
    y = b.node("ReduceMean", [x], axes=[1], keepdims=0)
    return b.model("encoder", [helper.make_tensor_value_info("tokens", TensorProto.FLOAT, [1, tokens, width])],
                   [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, width])], 17)


def decoder():
    """Decoder-style chain for the upsampling and rearranging operators: Conv → LeakyRelu(0.2) → Conv (stride 2)
    → PRelu (per-channel slopes [16, 1, 1]) → ConvTranspose (stride 2, pads 1, output_padding 1) → grouped Conv
    (group 2) → Resize (nearest, scales 2, asymmetric, floor) → Resize (linear, sizes 24x24, half_pixel)
    → SpaceToDepth(2) → 1×1 Conv → DepthToSpace(2, DCR) → 1×1 Conv → Softmax over the channels; opset 17."""
    b = Builder(5)
    x = b.conv("image", 3, 8, 3, pads=[1, 1, 1, 1])  # 16x16x8
    x = b.node("LeakyRelu", [x], alpha=0.2)
    x = b.conv(x, 8, 16, 3, strides=[2, 2], pads=[1, 1, 1, 1])  # 8x8x16
    x = b.node("PRelu", [x, b.constant(b.rng.uniform(0.05, 0.5, [16, 1, 1]), "slope")])
    # ConvTranspose weights are [in, out / group, kH, kW].
    x = b.node("ConvTranspose", [x, b.weights([16, 8, 3, 3], scale=1.0 / np.sqrt(16 * 9 / 4)),
                                 b.constant(b.rng.uniform(-0.1, 0.1, [8]), "b")],
               kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])  # 16x16x8
    x = b.conv(x, 8, 8, 3, group=2, pads=[1, 1, 1, 1])
    x = b.node("Resize", [x, "", b.constant([1, 1, 2, 2], "scales")], mode="nearest",
               coordinate_transformation_mode="asymmetric", nearest_mode="floor")  # 32x32x8
    x = b.node("Resize", [x, "", "", b.constant([1, 8, 24, 24], "sizes", np.int64)], mode="linear",
               coordinate_transformation_mode="half_pixel")  # 24x24x8
    x = b.node("SpaceToDepth", [x], blocksize=2)  # 12x12x32
    x = b.conv(x, 32, 16, 1)
    x = b.node("DepthToSpace", [x], blocksize=2, mode="DCR")  # 24x24x4
    x = b.conv(x, 4, 3, 1)
    y = b.node("Softmax", [x], axis=1)
    return b.model("decoder", [image_input("image", [1, 3, 16, 16])],
                   [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 3, 24, 24])], 17)


def reductions():
    """One NCHW input, eight outputs, in this order: ReduceMax over H, W; ReduceSum over C, kept (axes an input,
    as from opset 13); ReduceMin over W; ReduceProd over H of 1 + 0.25 · Tanh(x); ArgMax over C (int64);
    Tile along W → Conv (3×3, stride 2, windows straddling both copies); Flatten → Gemm → LogSoftmax;
    Gather of W columns 0, 2, 4 → ReduceMean over C, kept. The other reductions take their axes as an
    attribute (opset 17)."""
    b = Builder(6)
    x = "features"  # [1, 6, 8, 12]
    outputs = [
        (b.node("ReduceMax", [x], axes=[2, 3], keepdims=0), TensorProto.FLOAT, [1, 6]),
        (b.node("ReduceSum", [x, b.constant([1], "axes", np.int64)], keepdims=1), TensorProto.FLOAT, [1, 1, 8, 12]),
        (b.node("ReduceMin", [x], axes=[3], keepdims=0), TensorProto.FLOAT, [1, 6, 8]),
    ]
    # 1 + tanh/4 lies in [0.75, 1.25]: a product of 8 of them stays within a few powers of 2 of 1.
    factors = b.node("Add", [b.node("Mul", [b.node("Tanh", [x]), b.constant(0.25, "quarter")]), b.constant(1.0, "one")])
    outputs.append((b.node("ReduceProd", [factors], axes=[2], keepdims=0), TensorProto.FLOAT, [1, 6, 12]))
    outputs.append((b.node("ArgMax", [x], axis=1, keepdims=0), TensorProto.INT64, [1, 8, 12]))
    tiled = b.node("Tile", [x, b.constant([1, 1, 1, 2], "repeats", np.int64)])  # [1, 6, 8, 24]
    outputs.append((b.conv(tiled, 6, 4, 3, strides=[2, 2]), TensorProto.FLOAT, [1, 4, 3, 11]))
    flat = b.node("Flatten", [x], axis=1)  # [1, 576]
    logits = b.node("Gemm", [flat, b.weights([576, 10], scale=1.0 / np.sqrt(576)), b.constant(b.rng.uniform(-0.1, 0.1, [10]), "b")])
    outputs.append((b.node("LogSoftmax", [logits], axis=-1), TensorProto.FLOAT, [1, 10]))
    gathered = b.node("Gather", [x, b.constant([0, 2, 4], "indices", np.int64)], axis=3)  # [1, 6, 8, 3]
    outputs.append((b.node("ReduceMean", [gathered], axes=[1], keepdims=1), TensorProto.FLOAT, [1, 1, 8, 3]))
    return b.model("reductions", [image_input("features", [1, 6, 8, 12])],
                   [helper.make_tensor_value_info(name, dtype, shape) for name, dtype, shape in outputs], 17)


def transposed():
    """Transposed convolutions with groups and dilations on a [1, 4, 5, 6] image: ConvTranspose (2 groups of 2
    input channels, 3 outputs each, 3×3, strides 2, dilations 2, pads [1, 0, 1, 2], output_padding [1, 0], bias)
    → Relu → ConvTranspose (one group per channel, 2×3, dilations [1, 2], SAME_UPPER) → [1, 6, 12, 13]."""
    b = Builder(9)
    x = b.node("ConvTranspose", [
        "image", b.weights([4, 3, 3, 3], scale=0.5), b.constant(b.rng.uniform(-0.1, 0.1, [6]), "b")], group=2,
        kernel_shape=[3, 3], strides=[2, 2], dilations=[2, 2], pads=[1, 0, 1, 2], output_padding=[1, 0])
    x = b.node("ConvTranspose", [b.node("Relu", [x]), b.weights([6, 1, 2, 3], scale=0.5)], group=6,
               kernel_shape=[2, 3], dilations=[1, 2], auto_pad="SAME_UPPER")
    return b.model("transposed", [image_input("image", [1, 4, 5, 6])],
                   [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 6, 12, 13])], 17)


def recurrent():
    """PyTorch-style recurrent layers on a [5, 1, 6] sequence (sequence, batch, features; layout 0): a
    bidirectional LSTM (hidden 8) with biases, peepholes, constant initial states and input_forget 1; its Y
    [5, 2, 1, 8] transposed to [5, 1, 2, 8] and reshaped to [5, 1, 16]; a GRU (hidden 8, linear_before_reset=1,
    as PyTorch writes nn.GRU, clip 0.7). Outputs, in this order: the GRU's Y_h [1, 1, 8], the LSTM's Y_c [2, 1, 8] and the GRU's
    Y [5, 1, 1, 8]."""
    b = Builder(7)
    hidden = 8
    y, _, cell = b.node("LSTM", [
        "sequence", b.weights([2, 4 * hidden, 6], scale=0.5), b.weights([2, 4 * hidden, hidden], scale=0.5),
        b.constant(b.rng.uniform(-0.2, 0.2, [2, 8 * hidden]), "b"), "",
        b.constant(b.rng.uniform(-0.5, 0.5, [2, 1, hidden]), "h0"), b.constant(b.rng.uniform(-0.5, 0.5, [2, 1, hidden]), "c0"),
        b.constant(b.rng.uniform(-0.3, 0.3, [2, 3 * hidden]), "p")], outputs=3, hidden_size=hidden, direction="bidirectional",
        input_forget=1)
    steps = b.node("Reshape", [b.node("Transpose", [y], perm=[0, 2, 1, 3]), b.constant([5, 1, 16], "shape", np.int64)])
    sequence, last = b.node("GRU", [
        steps, b.weights([1, 3 * hidden, 16], scale=0.5), b.weights([1, 3 * hidden, hidden], scale=0.5),
        b.constant(b.rng.uniform(-0.2, 0.2, [1, 6 * hidden]), "b")], outputs=2, hidden_size=hidden, linear_before_reset=1,
        clip=0.7)
    outputs = [(last, [1, 1, hidden]), (cell, [2, 1, hidden]), (sequence, [5, 1, 1, hidden])]
    return b.model("recurrent", [image_input("sequence", [5, 1, 6])],
                   [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in outputs], 17)


def recurrent_batch_first():
    """Batch-first (layout 1) recurrent layers on a [1, 7, 5] sequence: a reverse RNN (hidden 6); its Y
    [1, 7, 1, 6] reshaped to [1, 7, 6]; a bidirectional GRU (hidden 4, linear_before_reset 0, a constant
    initial state) and an LSTM (hidden 5) reading it (onnx.reference, which makes its outputs, implements neither clip
    nor input_forget: the layout-0 model has those). Outputs, in
    this order: the GRU's Y_h [1, 2, 4] and the LSTM's Y [1, 7, 1, 5]."""
    b = Builder(8)
    y = b.node("RNN", [
        "sequence", b.weights([1, 6, 5], scale=0.6), b.weights([1, 6, 6], scale=0.6),
        b.constant(b.rng.uniform(-0.2, 0.2, [1, 12]), "b")], hidden_size=6, direction="reverse",
        layout=1)
    steps = b.node("Reshape", [y, b.constant([1, 7, 6], "shape", np.int64)])
    _, last = b.node("GRU", [
        steps, b.weights([2, 12, 6], scale=0.6), b.weights([2, 12, 4], scale=0.6),
        b.constant(b.rng.uniform(-0.2, 0.2, [2, 24]), "b"), "", b.constant(b.rng.uniform(-0.5, 0.5, [1, 2, 4]), "h0")],
        outputs=2, hidden_size=4, direction="bidirectional", layout=1)
    sequence = b.node("LSTM", [
        steps, b.weights([1, 20, 6], scale=0.6), b.weights([1, 20, 5], scale=0.6)], hidden_size=5, layout=1)
    outputs = [(last, [1, 2, 4]), (sequence, [1, 7, 1, 5])]
    return b.model("recurrent_batch_first", [image_input("sequence", [1, 7, 5])],
                   [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in outputs], 17)


def resampled():
    """Bicubic resizing as PyTorch exports F.interpolate(mode="bicubic") and with TensorFlow's kernel, on a
    [1, 3, 7, 6] image: Conv (3×3, pads 1) → Resize (cubic, scales 2, pytorch_half_pixel, cubic_coeff_a −0.75)
    → Relu → Resize (cubic, sizes 11×9, asymmetric, cubic_coeff_a −0.5, exclude_outside 1) → Resize (cubic,
    sizes 5×7, align_corners, the default a) → [1, 4, 5, 7]; opset 17."""
    b = Builder(10)
    x = b.conv("image", 3, 4, 3, pads=[1, 1, 1, 1])
    x = b.node("Resize", [x, "", b.constant([1, 1, 2, 2], "scales")], mode="cubic",
               coordinate_transformation_mode="pytorch_half_pixel", cubic_coeff_a=-0.75)  # 14x12
    x = b.node("Relu", [x])
    x = b.node("Resize", [x, "", "", b.constant([1, 4, 11, 9], "sizes", np.int64)], mode="cubic",
               coordinate_transformation_mode="asymmetric", cubic_coeff_a=-0.5, exclude_outside=1)
    x = b.node("Resize", [x, "", "", b.constant([1, 4, 5, 7], "sizes", np.int64)], mode="cubic",
               coordinate_transformation_mode="align_corners")
    return b.model("resampled", [image_input("image", [1, 3, 7, 6])],
                   [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 4, 5, 7])], 17)


def joined():
    """Conv (3×3, pads 1) → LeakyRelu(0.1) and a 1×1 Conv of the same image, joined by Concat on the
    channels: [1, 3, 8, 8] → [1, 6, 8, 8]; opset 13. Exists for its every-operator QOperator version
    (com.microsoft QLinearLeakyRelu and QLinearConcat)."""
    b = Builder(11)
    x = b.node("LeakyRelu", [b.conv("image", 3, 4, 3, pads=[1, 1, 1, 1])], alpha=0.1)
    y = b.node("Concat", [x, b.conv("image", 3, 2, 1)], axis=1)
    return b.model("joined", [image_input("image", [1, 3, 8, 8])], [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 6, 8, 8])], 13)


MODELS = {"cnn": cnn, "residual": residual, "depthwise": depthwise, "encoder": encoder, "decoder": decoder,
          "reductions": reductions, "recurrent": recurrent, "recurrent_batch_first": recurrent_batch_first,
          "transposed": transposed, "resampled": resampled, "joined": joined}
# Outputs from onnx.reference instead: ONNX Runtime's CPU kernels refuse batch-first (layout 1) recurrent
# operators ("Batchwise recurrent operations (layout == 1) are not supported").
REFERENCE_ONLY_MODELS = ["recurrent_batch_first"]
# transposed has none: quantize_static fails on its grouped ConvTranspose ("operands could not be broadcast
# together with shapes (6,) (3,)", onnxruntime 1.32.0).
QDQ_MODELS = ["cnn", "residual", "depthwise", "decoder", "reductions", "resampled"]
QOP_MODELS = ["cnn", "residual", "depthwise"]
# Only an every-operator QOperator version (NAME_qopms).
QOPMS_ONLY_MODELS = ["joined"]
# The operators quantize_static may quantize in QOperator format: those whose quantized form is in the
# default ONNX domain (QLinearConv, QLinearMatMul; Relu and Clip folded into the producer's output range;
# MaxPool, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Split, Pad, Resize, Gather, ArgMax on the int8
# tensor). Left out, and so kept in float between DequantizeLinear and QuantizeLinear: Gemm (QGemm), Add
# and Mul (QLinearAdd, QLinearMul), Sigmoid and LeakyRelu (QLinearSigmoid, QLinearLeakyRelu),
# GlobalAveragePool and AveragePool (QLinearGlobalAveragePool, QLinearAveragePool), Concat (QLinearConcat),
# Softmax (QLinearSoftmax) and Where (QLinearWhere), which ONNX Runtime writes in the com.microsoft domain.
QOP_OP_TYPES = ["Conv", "MatMul", "Relu", "Clip", "MaxPool", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
                "Transpose", "Split", "Pad", "Resize", "Gather", "ArgMax"]


class RandomImages(CalibrationDataReader):
    """Sixteen seeded uniform [-1, 1) inputs for calibration."""

    def __init__(self, name, shape):
        rng = np.random.default_rng(7)
        self.batches = iter([{name: rng.uniform(-1, 1, shape).astype(np.float32)} for _ in range(16)])

    def get_next(self):
        return next(self.batches, None)


def quantized(path: Path, feed_name: str, shape, quant_format=QuantFormat.QDQ, every_operator=False) -> Path:
    """ONNX Runtime's documented static quantization: pre-process, then int8, QDQ (NAME_qdq.onnx) or
    QOperator (NAME_qop.onnx, default-domain operators only: QOP_OP_TYPES; with every_operator,
    NAME_qopms.onnx, every operator ONNX Runtime quantizes, its com.microsoft ones included)."""
    prepared = path.with_name(path.stem + "_prepared.onnx")
    qop = quant_format == QuantFormat.QOperator
    output = path.with_name(path.stem + ("_qopms.onnx" if every_operator else "_qop.onnx" if qop else "_qdq.onnx"))
    try:
        quant_pre_process(str(path), str(prepared))
        quantize_static(
            str(prepared), str(output), RandomImages(feed_name, shape), quant_format=quant_format,
            op_types_to_quantize=QOP_OP_TYPES if qop and not every_operator else None,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)
    finally:  # also when quantization fails: the pre-processed copy is no fixture
        prepared.unlink(missing_ok=True)
    return output


def operators(model) -> list[str]:
    """The graph's operator types, sorted; one outside the default domain as `domain::Op`."""
    return sorted({node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
                   for node in model.graph.node})


def reference_run(model, feeds):
    """onnx.reference's outputs for a quantized model. Its QuantizeLinear and DequantizeLinear start at
    opset 19, so a copy with an older default-domain import is run at 19: for the operators of the QOperator
    models (int8, per-tensor QuantizeLinear/DequantizeLinear; QLinearConv, QLinearMatMul, MaxPool, AveragePool,
    GlobalAveragePool, Add, Relu, Flatten, Reshape, Transpose, Gemm, Softmax, Sigmoid) nothing changes."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for opset in copy.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version < 19:
            opset.version = 19
    return ReferenceEvaluator(copy).run(None, feeds)


def save_outputs(name: str, outputs) -> list[str]:
    """NAME.outputs.npy, or NAME.outputs.K.npy (K in graph output order) for a model with several outputs;
    float outputs as float32, integer ones (ArgMax's int64) as they are."""
    files = [f"{name}.outputs.npy"] if len(outputs) == 1 else [f"{name}.outputs.{k}.npy" for k in range(len(outputs))]
    for file, value in zip(files, outputs):
        np.save(OUT / file, value.astype(np.float32) if value.dtype.kind == "f" else value)
    return files


def difference(outputs, expected) -> str:
    """The max |difference| over the float outputs; for integer outputs (ArgMax), how many elements differ."""
    floats = [float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
              for a, b in zip(outputs, expected) if a.dtype.kind == "f"]
    text = f"{max(floats):.3g}"
    for a, b in zip(outputs, expected):
        if a.dtype.kind != "f":
            text += f" (int64: {int(np.count_nonzero(a != b))} of {a.size} differ)"
    return text


def shapes_text(outputs) -> str:
    """A single output's shape as `[1, 10]`; several as `[1, 6]; int64 [1, 8, 12]; …`, in graph output order."""
    if len(outputs) == 1:
        return str(list(outputs[0].shape))
    return "; ".join(("" if o.dtype == np.float32 else f"{o.dtype} ") + str(list(o.shape)) for o in outputs)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rows, checks = [], []
    for index, (name, build) in enumerate(MODELS.items()):
        model = build()
        # Run by ONNX Runtime, and by onnx's Python reference implementation, before anything is written.
        feed = model.graph.input[0]
        shape = [d.dim_value or 1 for d in feed.type.tensor_type.shape.dim]
        rng = np.random.default_rng(100 + index)
        inputs = rng.uniform(-1, 1, shape).astype(np.float32)
        try:
            reference = ReferenceEvaluator(model).run(None, {feed.name: inputs})
        except Exception as error:  # onnx.reference's grouped ConvTranspose, for one, cannot reshape its weights
            reference, checked = None, f"onnx.reference fails ({type(error).__name__}: {error})"
        if name in REFERENCE_ONLY_MODELS:
            outputs, checked = reference, "ONNX Runtime cannot run it"
        else:
            session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
            outputs = session.run(None, {feed.name: inputs})
            if reference is not None:
                assert [o.shape for o in outputs] == [r.shape for r in reference], (name, [o.shape for o in outputs])
                checked = difference(outputs, reference)
        assert all(np.all(np.isfinite(o)) for o in outputs), name
        path = OUT / f"{name}.onnx"
        onnx.save(model, path)
        np.save(OUT / f"{name}.inputs.npy", inputs)
        save_outputs(name, outputs)
        ops = sorted({node.op_type for node in model.graph.node})
        rows.append((name, model.opset_import[0].version, shape, shapes_text(outputs), ops))
        print(f"{name}: opset {rows[-1][1]}, input {shape}, output {rows[-1][3]}, {len(model.graph.node)} nodes, "
              f"max |ONNX Runtime - onnx.reference| {checked}")
        qdq_text = ""
        if name in QDQ_MODELS:
            try:
                qdq_path = quantized(path, feed.name, shape)
            except Exception as error:  # keep the float model; say why in the README
                qdq_text = f"not made: quantize_static failed ({type(error).__name__}: {error})"
                print(f"{name}_qdq: {qdq_text}")
            else:
                qdq = onnx.load(qdq_path)
                session = ort.InferenceSession(str(qdq_path), providers=["CPUExecutionProvider"])
                quantized_outputs = session.run(None, {feed.name: inputs})
                save_outputs(f"{name}_qdq", quantized_outputs)
                ops = operators(qdq)
                rows.append((f"{name}_qdq", qdq.opset_import[0].version, shape, shapes_text(quantized_outputs), ops))
                qdq_text = difference(quantized_outputs, outputs)
                print(f"{name}_qdq: {len(qdq.graph.node)} nodes, {ops}, max |QDQ - float| {qdq_text}")
        qop_text = qop_reference = ""
        if name in QOP_MODELS:
            try:
                qop_path = quantized(path, feed.name, shape, QuantFormat.QOperator)
            except Exception as error:  # keep the float model; say why in the README
                qop_text = f"not made: quantize_static failed ({type(error).__name__}: {error})"
                print(f"{name}_qop: {qop_text}")
            else:
                qop = onnx.load(qop_path)
                onnx.checker.check_model(qop, full_check=True)
                session = ort.InferenceSession(str(qop_path), providers=["CPUExecutionProvider"])
                quantized_outputs = session.run(None, {feed.name: inputs})
                save_outputs(f"{name}_qop", quantized_outputs)
                ops = operators(qop)
                rows.append((f"{name}_qop", qop.opset_import[0].version, shape, shapes_text(quantized_outputs), ops))
                qop_text = difference(quantized_outputs, outputs)
                qop_reference = difference(quantized_outputs, reference_run(qop, {feed.name: inputs}))
                print(f"{name}_qop: {len(qop.graph.node)} nodes, {ops}, max |QOperator - float| {qop_text}, "
                      f"max |ONNX Runtime - onnx.reference| {qop_reference}")
        if name in QOP_MODELS or name in QOPMS_ONLY_MODELS:
            # Every operator quantized: ONNX Runtime writes com.microsoft QGemm, QLinearAdd, QLinearMul,
            # QLinearSigmoid, QLinearAveragePool, QLinearGlobalAveragePool and QLinearSoftmax.
            qopms_path = quantized(path, feed.name, shape, QuantFormat.QOperator, every_operator=True)
            session = ort.InferenceSession(str(qopms_path), providers=["CPUExecutionProvider"])
            quantized_outputs = session.run(None, {feed.name: inputs})
            save_outputs(f"{name}_qopms", quantized_outputs)
            qopms = onnx.load(qopms_path)
            rows.append((f"{name}_qopms", qopms.opset_import[0].version, shape, shapes_text(quantized_outputs), operators(qopms)))
            print(f"{name}_qopms: {operators(qopms)}, max |QOperator - float| {difference(quantized_outputs, outputs)}")
        checks.append((name, checked, qdq_text, qop_text, qop_reference))
    versions = {package: importlib.metadata.version(package) for package in ("onnx", "onnxruntime", "numpy", "sympy")}
    lines = [
        "# ONNX import fixtures",
        "",
        "Generated by `scripts/make_onnx_models.sh` (`scripts/make_onnx_models.py`); do not edit.",
        "NCHW models written with the `onnx` helper API, seeded random weights, checked by",
        "`onnx.checker`; outputs from ONNX Runtime's CPU provider on the seeded input (from",
        "`onnx.reference.ReferenceEvaluator` for recurrent_batch_first: ONNX Runtime refuses layout-1 recurrent operators).",
        "A model with several outputs has `NAME.outputs.K.npy`, K in graph output order; float outputs",
        "are float32, ArgMax's int64.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        "| model | opset | input | output | operators |",
        "|---|---|---|---|---|",
    ]
    for name, opset, shape, out_shape, ops in rows:
        lines.append(f"| {name} | {opset} | {shape} | {out_shape} | {', '.join(ops)} |")
    lines += [
        "",
        "QOperator versions (`NAME_qop`): `quantize_static` with `quant_format=QuantFormat.QOperator`, the QDQ",
        "versions' calibration data, int8 activations and per-channel int8 weights, and `op_types_to_quantize`",
        "limited to the operators whose QOperator form is in the default ONNX domain (`QOP_OP_TYPES` in the",
        "script), so no node is in com.microsoft. QLinearConv and QLinearMatMul take int8 x and y with per-tensor",
        "scale and zero point, int8 weights with per-output-channel (QLinearMatMul: per-column) scale and zero",
        "point 0, and an int32 bias (scale x_scale · w_scale); Relu and Clip after a convolution are folded into its",
        "output range; MaxPool, Transpose and Reshape of a quantized tensor run on it in int8. Gemm, Add, Mul, Sigmoid,",
        "AveragePool, GlobalAveragePool and Softmax stay float after a DequantizeLinear: quantized, ONNX",
        "Runtime writes them as com.microsoft QGemm, QLinearAdd, QLinearMul, QLinearSigmoid, QLinearAveragePool,",
        "QLinearGlobalAveragePool and QLinearSoftmax. depthwise's HardSwish is written as HardSigmoid and Mul by",
        "`quant_pre_process`, BatchNormalization folded into the convolution before it. The quantized models'",
        "opset imports also list ai.onnx.ml, com.microsoft and ONNX Runtime's other domains, as `quant_pre_process`",
        "writes them, whether or not a node uses them.",
        "",
        "Checks when generated: ONNX Runtime against `onnx.reference.ReferenceEvaluator` on the float model,",
        "the QDQ and QOperator versions' outputs against the float model's (max |difference| over the float outputs;",
        "for ArgMax's int64 output, how many indices differ), and ONNX Runtime against onnx.reference on the",
        "QOperator version (run at opset 19 where the model's is older: onnx.reference's QuantizeLinear and",
        "DequantizeLinear start there). onnx.reference's LSTM and GRU ignore `clip` and `input_forget`, which",
        "`recurrent` uses, so there the two differ by design; ONNX Runtime implements both.",
        "",
        "| model | float: ONNX Runtime vs onnx.reference | QDQ vs float | QOperator vs float | QOperator: ONNX Runtime vs onnx.reference |",
        "|---|---|---|---|---|",
        *[f"| {name} | {checked} | {qdq or '(no QDQ version)'} | {qop or '(no QOperator version)'} | {qop_reference or '-'} |"
          for name, checked, qdq, qop, qop_reference in checks],
        "",
        "cnn's float difference is onnx.reference's, not ONNX Runtime's: its BatchNormalization for opsets 9 to 13",
        "fills in the default momentum and so takes its training branch (the batch's own mean and variance);",
        "ONNX Runtime's output is the inference formula's (to 1.2e-7 on that node).",
    ]
    lines += ["", "| file | bytes | sha256 (first 16) |", "|---|---|---|"]
    for path in sorted(OUT.glob("*.onnx")) + sorted(OUT.glob("*.npy")):
        data = path.read_bytes()
        lines.append(f"| {path.name} | {len(data)} | `{hashlib.sha256(data).hexdigest()[:16]}` |")
    (OUT / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
