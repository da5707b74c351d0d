#!/usr/bin/env python3
"""Builds Kiln's "today's TensorFlow converter output" fixtures.

Run it through scripts/make_tf_models.sh, which makes the pinned virtualenv
(.venv-models) first. Every model is a Keras 3 model with seeded, untrained
weights, converted the way Keras 3 documents it (`model.export(path,
format="litert", ...)`: Keras ExportArchive -> SavedModel ->
`tf.lite.TFLiteConverter.from_saved_model`), once as float32 and once as
full-integer int8. The exception is lstm_fused, a Keras 2 (`tf_keras`) model,
whose LSTM layers the converter fuses into UNIDIRECTIONAL_SEQUENCE_LSTM (Keras 3's
do not fuse): converted through a batch-1 concrete function. The
reference outputs come from LiteRT's interpreter (`ai_edge_litert.interpreter`),
since `tf.lite.Interpreter` is deprecated.

Writes into Tests/KilnTests/Fixtures/Keras/ (or --out):
  NAME.tflite, NAME_int8.tflite         float32 / int8 model (float I/O)
  NAME_int8io.tflite                    int8 model with int8 I/O (keras_cnn only)
  NAME.inputs.npy                       batch-1 float32 input (both NAME and NAME_int8; int32 token ids for embedding_text)
  NAME.inputs.K.npy                     the same for each input K of a model with several (fusion_net), in .tflite order
  NAME_int8io.inputs.npy                that input quantized with the model's input parameters
  VARIANT.outputs.npy                   LiteRT's output (VARIANT.outputs.K.npy when there are several)
  ops.txt                               operators, tensor types and dynamic shape signatures per file
  README.md                             how the files were made, versions, sizes and checksums
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import importlib.metadata
import os
import platform
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # CPU only, so results do not depend on a GPU
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # oneDNN's reordered float sums vary by CPU

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402
from ai_edge_litert import schema_py_generated as schema  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEED = 1234
REPRESENTATIVE_SAMPLES = 32

# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def keras_cnn():
    inputs = keras.Input((28, 28, 1), name="image")
    x = layers.Conv2D(8, 3, activation="relu")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(16, 3)(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(32, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="keras_cnn")


MOBILENET_ALPHA = 0.5


def mobilenet_v3_small():
    # include_preprocessing=True (the default): the model takes pixels in [0, 255].
    return keras.applications.MobileNetV3Small(
        input_shape=(96, 96, 3), alpha=MOBILENET_ALPHA, minimalistic=False, include_top=True,
        weights=None, classes=10)


# EfficientNetB0 at 64x64 with 10 classes still has 4.06M parameters (a 16 MB float
# file; the input size does not change the weights). So the fixture keeps B0's
# topology (stem, all 16 MBConv blocks with squeeze-excite, swish, top) through
# Keras's own EfficientNet builder, at half B0's width. Depth stays B0's.
EFFICIENTNET_WIDTH = 0.5
EFFICIENTNET_DEPTH = 1.0


def efficientnet_b0():
    from keras.src.applications.efficientnet import EfficientNet  # what EfficientNetB0 calls

    return EfficientNet(
        EFFICIENTNET_WIDTH, EFFICIENTNET_DEPTH, 224, dropout_rate=0.2, name="efficientnet_b0_w05",
        include_top=True, weights=None, input_shape=(64, 64, 3), classes=10)


def transformer_block():
    tokens = keras.Input((16, 32), name="tokens")
    attention = layers.MultiHeadAttention(num_heads=4, key_dim=8)(tokens, tokens)
    x = layers.LayerNormalization()(layers.Add()([tokens, attention]))
    h = layers.Dense(64, activation="gelu")(x)
    h = layers.Dense(32)(h)
    x = layers.LayerNormalization()(layers.Add()([x, h]))
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(4)(x)
    return keras.Model(tokens, outputs, name="transformer_block")


# The recurrent layers are unrolled (49 steps, one subgraph). With Keras 3 on TF 2.21 the
# alternatives fail: a rolled layer exported as Keras declares it (batch None) keeps
# TensorList ops, which the converter emits as Flex (SELECT_TF_OPS) ops that LiteRT's
# builtin interpreter cannot run, and with builtins only it refuses ("Lowering tensor
# list ops is failed"); with a static batch of 1 it becomes WHILE + cond/body subgraphs,
# fine in float, but int8 calibration then segfaults in the calibrator
# (tensorflow/tensorflow#75140, "Calibrator segfaults trying to log the while operation").
RNN_UNROLL = True


def lstm_kws():
    features = keras.Input((49, 10), name="mfcc")
    x = layers.LSTM(32, unroll=RNN_UNROLL)(features)
    outputs = layers.Dense(12, activation="softmax")(x)
    return keras.Model(features, outputs, name="lstm_kws")


def gru_kws():
    features = keras.Input((49, 10), name="mfcc")
    x = layers.GRU(32, unroll=RNN_UNROLL)(features)
    outputs = layers.Dense(12, activation="softmax")(x)
    return keras.Model(features, outputs, name="gru_kws")


# The same layers rolled, as a user exports them with a static batch of 1: each becomes a WHILE
# loop with condition and body subgraphs, which Kiln unrolls at import. Float only: int8
# calibration of a WHILE crashes the converter (tensorflow/tensorflow#75140).
def gru_while():
    features = keras.Input((49, 10), batch_size=1, name="mfcc")
    x = layers.GRU(32)(features)
    outputs = layers.Dense(12, activation="softmax")(x)
    return keras.Model(features, outputs, name="gru_while")


def rnn_stack_while():
    features = keras.Input((20, 8), batch_size=1, name="sensor")
    x = layers.SimpleRNN(16, return_sequences=True)(features)
    x = layers.LSTM(16)(x)
    outputs = layers.Dense(4)(x)
    return keras.Model(features, outputs, name="rnn_stack_while")


# The next three exist for their operators (names as in the .tflite), not as realistic models.
# decoder_net: LEAKY_RELU, PRELU, TRANSPOSE_CONV, RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR,
# SPACE_TO_DEPTH, DEPTH_TO_SPACE.
def decoder_net():
    image = keras.Input((16, 16, 3), name="image")
    x = layers.Conv2D(8, 3, padding="same")(image)  # 16x16x8
    x = layers.LeakyReLU(negative_slope=0.2)(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same")(x)  # 8x8x16
    # Keras initializes alpha to zeros (a plain ReLU): seeded per-channel slopes instead.
    x = layers.PReLU(alpha_initializer=keras.initializers.RandomUniform(0.05, 0.5), shared_axes=[1, 2])(x)
    x = layers.Conv2DTranspose(8, 3, strides=2, padding="same")(x)  # 16x16x8
    # Not UpSampling2D(2): Keras 3 lowers its "nearest" to EXPAND_DIMS/TILE/CONCATENATION/RESHAPE (ops.repeat).
    x = layers.Resizing(32, 32, interpolation="nearest")(x)  # 32x32x8
    x = layers.Resizing(24, 24, interpolation="bilinear")(x)  # 24x24x8
    x = layers.Lambda(lambda t: tf.nn.space_to_depth(t, 2), name="space_to_depth")(x)  # 12x12x32
    x = layers.Conv2D(16, 1)(x)  # 12x12x16
    x = layers.Lambda(lambda t: tf.nn.depth_to_space(t, 2), name="depth_to_space")(x)  # 24x24x4
    x = layers.Conv2D(3, 1)(x)
    outputs = layers.Softmax(axis=-1)(x)  # per-pixel class probabilities, 24x24x3
    return keras.Model(image, outputs, name="decoder_net")


# reductions_net: REDUCE_MAX, SUM, REDUCE_MIN, REDUCE_PROD, LOG_SOFTMAX, TILE, ARG_MAX; seven outputs.
def reductions_net():
    features = keras.Input((8, 12, 6), name="features")
    x = layers.Conv2D(8, 1)(features)  # 8x12x8
    reduce_max = layers.Lambda(lambda t: tf.reduce_max(t, axis=[1, 2]), name="reduce_max")(x)  # 8
    reduce_sum = layers.Lambda(lambda t: tf.reduce_sum(t, axis=-1, keepdims=True), name="reduce_sum")(x)  # 8x12x1
    reduce_min = layers.Lambda(lambda t: tf.reduce_min(t, axis=1), name="reduce_min")(x)  # 12x8
    # 1 + tanh/4 lies in [0.75, 1.25]: a product of 12 of them stays within a few powers of 2 of 1.
    reduce_prod = layers.Lambda(lambda t: tf.math.reduce_prod(1.0 + 0.25 * tf.tanh(t), axis=2),
                                name="reduce_prod")(x)  # 8x8
    logits = layers.Dense(10)(layers.Flatten()(x))
    log_softmax = layers.Lambda(lambda t: tf.nn.log_softmax(t, axis=-1), name="log_softmax")(logits)  # 10
    tiled = layers.Lambda(lambda t: tf.tile(t, [1, 1, 2, 1]), name="tile")(x)  # 8x24x8
    tiled = layers.Conv2D(4, 3, strides=2, name="tile_conv")(tiled)  # 3x11x4; windows straddle the two copies
    argmax = layers.Lambda(lambda t: tf.argmax(t, axis=-1, output_type=tf.int32), name="argmax")(x)  # 8x12 int32
    outputs = [reduce_max, reduce_sum, reduce_min, reduce_prod, log_softmax, tiled, argmax]
    return keras.Model(features, outputs, name="reductions_net")


# fusion_net: two inputs, as a keyword model with side information is written: a spectrogram through
# convolutions, a context vector through a dense layer that gates the feature maps and joins the
# flattened features (MUL with broadcasting, CONCATENATION of the two branches).
def fusion_net():
    spectrogram = keras.Input((20, 10, 1), name="spectrogram")
    context = keras.Input((4,), name="context")
    x = layers.Conv2D(8, 3, activation="relu")(spectrogram)  # 18x8x8
    x = layers.MaxPooling2D(2)(x)  # 9x4x8
    gate = layers.Dense(8, activation="sigmoid")(context)
    x = layers.Multiply()([x, layers.Reshape((1, 1, 8))(gate)])
    x = layers.Flatten()(x)
    c = layers.Dense(8, activation="relu")(context)
    x = layers.Concatenate()([x, c])
    outputs = layers.Dense(6, activation="softmax")(x)
    return keras.Model([spectrogram, context], outputs, name="fusion_net")


EMBEDDING_VOCABULARY = 50
EMBEDDING_POSITIONS = [0, 2, 4, 6, 8, 10, 12, 14]


# embedding_text: GATHER with the (int32) input as indices, GATHER with constant indices, PACK of float data.
def embedding_text():
    token_ids = keras.Input((16,), dtype="int32", name="token_ids")
    x = layers.Embedding(EMBEDDING_VOCABULARY, 16)(token_ids)  # 16x16
    x = layers.Lambda(lambda t: tf.gather(t, EMBEDDING_POSITIONS, axis=1), name="gather_positions")(x)  # 8x16
    a, b = layers.Dense(16)(x), layers.Dense(16)(x)
    x = layers.Lambda(lambda ts: tf.stack(ts, axis=1), name="stack")([a, b])  # 2x8x16
    x = layers.Flatten()(x)
    outputs = layers.Dense(4)(x)
    return keras.Model(token_ids, outputs, name="embedding_text")


# Keras 2 (tf_keras, imported only when such a model is built). Its LSTM layer runs a
# tf.function whose `api_implements` attribute is "lstm_<uuid>", which the converter's
# composite-function pass replaces by the fused UNIDIRECTIONAL_SEQUENCE_LSTM operator
# (Keras 3's LSTM has no such function: lstm_kws is unrolled instead). The second LSTM
# returns only its last step: the fused operator returns the whole sequence, then STRIDED_SLICE.
def lstm_fused():
    import tf_keras

    features = tf_keras.Input((49, 10), name="mfcc")
    x = tf_keras.layers.LSTM(32, return_sequences=True)(features)
    x = tf_keras.layers.LSTM(16)(x)
    outputs = tf_keras.layers.Dense(12, activation="softmax")(x)
    return tf_keras.Model(features, outputs, name="lstm_fused")


# name -> (builder, input sampler, int8-I/O variant too)
def uniform(low, high):
    return lambda rng, shape: rng.uniform(low, high, shape).astype(np.float32)


def normal(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def tokens(vocabulary):
    return lambda rng, shape: rng.integers(0, vocabulary, shape, dtype=np.int32)


MODELS = {
    "keras_cnn": (keras_cnn, uniform(0.0, 1.0), True),
    "mobilenet_v3_small": (mobilenet_v3_small, uniform(0.0, 255.0), False),
    "efficientnet_b0": (efficientnet_b0, uniform(0.0, 255.0), False),
    "transformer_block": (transformer_block, normal, False),
    "lstm_kws": (lstm_kws, normal, False),
    "gru_kws": (gru_kws, normal, False),
    "gru_while": (gru_while, normal, False),
    "rnn_stack_while": (rnn_stack_while, normal, False),
    "decoder_net": (decoder_net, uniform(0.0, 1.0), False),
    "reductions_net": (reductions_net, normal, False),
    "embedding_text": (embedding_text, tokens(EMBEDDING_VOCABULARY), False),
    "fusion_net": (fusion_net, normal, False),
    "lstm_fused": (lstm_fused, normal, False),
}
# Builders that return a tf_keras (Keras 2) model: seeded and converted with tf_keras (convert_tf_keras).
TF_KERAS_MODELS = {"lstm_fused"}
# Models without int8 variants: WHILE loops crash int8 calibration (tensorflow/tensorflow#75140).
# They go through TFLiteConverter.from_keras_model, whose builtin-only conversion turns a batch-1
# rolled RNN into WHILE; Keras 3's export(format="litert") keeps Flex TensorList ops instead.
FLOAT_ONLY_MODELS = {"gru_while", "rnn_stack_while"}

# Variables Keras initializes to a constant. Left alone, batch norm is an identity and
# every bias is zero, which hides folding and bias bugs; they get seeded noise instead.
SCALE_VARIABLES = {"gamma", "moving_variance"}
OFFSET_VARIABLES = {"beta", "moving_mean", "bias"}


def perturb_constant_variables(model, rng):
    changed = 0
    for variable in model.weights:
        name = variable.name.split("/")[-1].split(":")[0]
        if variable.dtype not in ("float32", tf.float32):
            continue
        value = np.asarray(variable.numpy())
        if name in SCALE_VARIABLES:
            value = value * rng.uniform(0.8, 1.2, value.shape)
        elif name in OFFSET_VARIABLES:
            value = value + rng.normal(0.0, 0.05, value.shape)
        else:
            continue
        variable.assign(value.astype(np.float32))
        changed += 1
    return changed


# --------------------------------------------------------------------------
# Conversion and reference outputs
# --------------------------------------------------------------------------


def export_litert(model, path, **converter_options):
    """Keras 3's documented TFLite path; options go to the TFLiteConverter as attributes."""
    model.export(str(path), format="litert", verbose=False, **converter_options)


def convert_tf_keras(model, path, **converter_options):
    """A tf_keras model through a batch-1 concrete function; options go to the TFLiteConverter as attributes.

    `tf.lite.TFLiteConverter.from_keras_model(model)` with the batch Keras declares (None) fails on
    TF 2.21 ("Lowering tensor list ops is failed"); with a fixed batch of 1 the LSTMs fuse.
    """
    run_model = tf.function(lambda x: model(x))
    spec = tf.TensorSpec([1, *model.inputs[0].shape[1:]], model.inputs[0].dtype)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([run_model.get_concrete_function(spec)], model)
    for key, value in converter_options.items():
        if key == "target_spec":  # a dict for model.export; the converter's own object here
            for name, setting in value.items():
                setattr(converter.target_spec, name, setting)
        else:
            setattr(converter, key, value)
    path.write_bytes(converter.convert())


def convert_from_keras_model(model, path, **converter_options):
    """`tf.lite.TFLiteConverter.from_keras_model` with builtin operators only; options as attributes."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    for key, value in converter_options.items():
        setattr(converter, key, value)
    path.write_bytes(converter.convert())


def int8_options(samples, input_names, int8_io=False):
    """Full-integer options; a model with several inputs is calibrated with dicts keyed by input name,
    since the converter's signature orders its inputs by name, not as Keras declares them."""
    def representative_dataset():
        for sample in samples:
            if len(sample) == 1:
                yield [sample[0][None, ...]]
            else:
                yield {name: value[None, ...] for name, value in zip(input_names, sample)}

    options = dict(
        optimizations=[tf.lite.Optimize.DEFAULT],
        representative_dataset=representative_dataset,
        target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]},
    )
    if int8_io:
        options.update(inference_input_type=tf.int8, inference_output_type=tf.int8)
    return options


def quantize(values, detail):
    scale, zero_point = detail["quantization"]
    q = np.round(values / scale) + zero_point
    info = np.iinfo(detail["dtype"])
    return np.clip(q, info.min, info.max).astype(detail["dtype"])


def run_litert(path, inputs):
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    input_details = interpreter.get_input_details()
    assert len(input_details) == len(inputs), (path, input_details)
    for detail, value in zip(input_details, inputs):
        assert value.dtype == detail["dtype"] and tuple(value.shape) == tuple(detail["shape"]), (path, detail, value.shape)
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    outputs = [interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()]
    # Subgraph 0's tensor shapes as LiteRT resized them for this batch-1 input.
    runtime_shapes = {d["index"]: tuple(map(int, d["shape"])) for d in interpreter.get_tensor_details()}
    return outputs, runtime_shapes


def keras_input_position(model, tflite_name):
    """The position among the Keras model's inputs of the .tflite input `tflite_name`
    ("serving_default_NAME:0"); the only one for a one-input model."""
    if len(model.inputs) == 1:
        return 0
    names = [keras_input.name for keras_input in model.inputs]
    found = [k for k, name in enumerate(names) if re.search(rf"(^|_){re.escape(name)}(:\d+)?$", tflite_name)]
    assert len(found) == 1, (tflite_name, names)
    return found[0]


def save_arrays(out_dir, variant, kind, arrays):
    """VARIANT.KIND.npy, or VARIANT.KIND.K.npy (K in the .tflite's order) when there are several;
    KIND is `inputs` or `outputs`. Returns the file names."""
    names = [f"{variant}.{kind}.npy"] if len(arrays) == 1 else [
        f"{variant}.{kind}.{k}.npy" for k in range(len(arrays))]
    for name, value in zip(names, arrays):
        np.save(out_dir / name, value)
    return names


# --------------------------------------------------------------------------
# ops.txt
# --------------------------------------------------------------------------

OPERATOR_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
TENSOR_TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
KILN_FALLBACK = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEQUANTIZE", "FULLY_CONNECTED",
    "LOGISTIC", "MAX_POOL_2D", "MEAN", "MUL", "PAD", "PADV2", "QUANTIZE", "RELU", "RELU6", "RESHAPE", "SOFTMAX",
    "SQUEEZE", "TANH"}
KILN_TENSOR_TYPES = {"FLOAT32", "FLOAT16", "INT8", "INT32"}


def kiln_supported_operators():
    """TFLiteImporter.supportedOperators, read from the Swift sources (names from TFLiteBuiltinOperator.swift)."""
    try:
        ops_src = (REPO / "Sources/KilnImport/TFLite/TFLiteBuiltinOperator.swift").read_text()
        importer_src = (REPO / "Sources/KilnImport/TFLite/TFLiteImporter.swift").read_text()
        # Swift keywords (`where`, `if`, `while`) are cases in backticks.
        names = dict((case, name) for name, case in re.findall(r"/// `(\w+)`, code \d+\.\s*case `?(\w+)`?", ops_src))
        listed = re.search(r"supportedOperators[^=]*=\s*\(?\s*\[(.*?)\]", importer_src, re.S).group(1)
        supported = {names[case] for case in re.findall(r"\.(\w+)", listed)}
        # Operators mapped through the element-wise tables: their keys.
        for table in ("elementwiseFunctions", "binaryFunctions"):
            body = re.search(table + r":[^=]*=\s*\[(.*?)\]", importer_src, re.S).group(1)
            supported |= {names[case] for case in re.findall(r"\.(\w+):", body)}
        return supported, "Sources/KilnImport/TFLite/TFLiteImporter.swift (supportedOperators)"
    except Exception as error:  # the sources moved: fall back to the list known when this was written
        return KILN_FALLBACK, f"built-in list (could not read the Swift sources: {error})"


def operator_name(code):
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if builtin == schema.BuiltinOperator.CUSTOM:
        custom = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
        return f"CUSTOM({custom})"
    return OPERATOR_NAMES.get(builtin, f"BuiltinOperator({builtin})")


def describe(path, kiln_ops, kind, runtime_shapes=None):
    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    names = [operator_name(code) for code in model.operatorCodes]
    lines = [f"== {path.name}  ({kind}; {path.stat().st_size} bytes; {len(model.subgraphs)} subgraph(s))"]
    all_ops, all_types, dynamic = collections.Counter(), set(), {}
    for s, subgraph in enumerate(model.subgraphs):
        sg_name = subgraph.name.decode() if isinstance(subgraph.name, bytes) else (subgraph.name or "")
        ops = collections.Counter(names[op.opcodeIndex] for op in subgraph.operators or [])
        all_ops.update(ops)
        tensors = subgraph.tensors or []

        def tensor_text(i):
            t = tensors[i]
            shape = [] if t.shape is None else list(map(int, t.shape))
            text = f"{t.name.decode()} {TENSOR_TYPE_NAMES[t.type]} {shape}"
            if t.shapeSignature is not None and len(t.shapeSignature):
                text += f" signature {list(map(int, t.shapeSignature))}"
            q = t.quantization
            if q is not None and q.scale is not None and len(q.scale) == 1:
                text += f" scale {float(q.scale[0]):.9g} zero_point {int(q.zeroPoint[0])}"
            return text

        lines.append(f"subgraph {s} '{sg_name}': {sum(ops.values())} operators, {len(tensors)} tensors")
        if s == 0:
            lines += [f"  input:  {tensor_text(i)}" for i in subgraph.inputs]
            lines += [f"  output: {tensor_text(i)}" for i in subgraph.outputs]
        lines.append("  operators: " + ", ".join(f"{n} x{c}" if c > 1 else n for n, c in ops.items()))
        if any(t.type == schema.TensorType.INT8 for t in tensors):
            # Operators an int8 model still runs in float (between a DEQUANTIZE and a QUANTIZE).
            float_ops = [f"#{k} {names[op.opcodeIndex]}" for k, op in enumerate(subgraph.operators or [])
                         if names[op.opcodeIndex] not in ("QUANTIZE", "DEQUANTIZE")
                         and any(tensors[t].type == schema.TensorType.FLOAT32
                                 for t in list(op.inputs) + list(op.outputs) if t >= 0)]
            lines.append("  float operators in this int8 model: " + (", ".join(float_ops) or "(none)"))
        for i, t in enumerate(tensors):
            all_types.add(TENSOR_TYPE_NAMES[t.type])
            if t.shapeSignature is not None and any(int(d) == -1 for d in t.shapeSignature):
                key = (s, TENSOR_TYPE_NAMES[t.type], tuple(map(int, t.shape)), tuple(map(int, t.shapeSignature)))
                dynamic.setdefault(key, []).append(i)
    missing = sorted(set(all_ops) - kiln_ops)
    lines.append("  NOT imported by Kiln: " + (", ".join(missing) if missing else "(none)"))
    lines.append("  tensor types: " + ", ".join(sorted(all_types)) + (
        "  (Kiln lacks: " + ", ".join(sorted(all_types - KILN_TENSOR_TYPES)) + ")" if all_types - KILN_TENSOR_TYPES else ""))
    if len(model.subgraphs) > 1:
        lines.append("  note: Kiln's importer converts only subgraph 0")
    # The converter writes a placeholder `shape` for tensors whose size it could not infer
    # (e.g. the output of a RESHAPE fed by a computed shape): compare with LiteRT at batch 1.
    stale = []
    for i, t in enumerate(model.subgraphs[0].tensors or []):
        stored = tuple(map(int, t.shape)) if t.shape is not None else ()
        if runtime_shapes and i in runtime_shapes and runtime_shapes[i] != stored:
            stale.append(f"    sg0 t{i} {TENSOR_TYPE_NAMES[t.type]} stored {list(stored)}, LiteRT at batch 1 "
                         f"{list(runtime_shapes[i])}: {t.name.decode()}")
    if runtime_shapes is not None:
        lines.append(f"  tensors whose stored shape is not the shape LiteRT gives them for the batch-1 input: {len(stale)}")
        lines += stale
    n_dynamic = sum(len(v) for v in dynamic.values())
    lines.append(f"  tensors with a dynamic (-1) shape signature: {n_dynamic}"
                 + (" (grouped: subgraph, type, shape -> signature: tensor indices)" if n_dynamic else ""))
    for (s, type_name, shape, signature), indices in dynamic.items():
        lines.append(f"    sg{s} {type_name} {list(shape)} -> {list(signature)} x{len(indices)}: {index_ranges(indices)}")
    return lines, set(all_ops), missing, n_dynamic, len(stale)


def index_ranges(indices):
    runs, start = [], indices[0]
    for previous, current in zip(indices, indices[1:] + [None]):
        if current != previous + 1:
            runs.append(str(start) if start == previous else f"{start}-{previous}")
            start = current
    return ", ".join(runs)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def versions():
    packages = ["tensorflow", "keras", "tf-keras", "numpy", "ai-edge-litert", "flatbuffers", "ml-dtypes", "protobuf", "h5py"]
    found = {}
    for p in packages:
        try:
            found[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "Tests/KilnTests/Fixtures/Keras")
    parser.add_argument("--only", nargs="*", choices=sorted(MODELS), help="build only these (no README/ops.txt rewrite)")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    names = args.only or list(MODELS)
    if not args.only:  # a full run replaces every generated file
        for old in list(out.glob("*.tflite")) + list(out.glob("*.npy")):
            old.unlink()

    started = time.time()
    kiln_ops, kiln_source = kiln_supported_operators()
    records = []  # (file, kind, input file, output files)
    notes = {}
    multi_outputs = {}  # variant -> its .tflite output tensor names, in the order of VARIANT.outputs.K.npy
    for name in names:
        builder, sampler, int8_io = MODELS[name]
        legacy = name in TF_KERAS_MODELS
        api = importlib.import_module("tf_keras") if legacy else keras
        t0 = time.time()
        api.utils.set_random_seed(SEED)
        model = builder()
        perturbed = perturb_constant_variables(model, np.random.default_rng(SEED))
        shapes = [tuple(keras_input.shape[1:]) for keras_input in model.inputs]
        rep_rng, input_rng = np.random.default_rng(SEED + 1), np.random.default_rng(SEED + 2)
        samples = [[sampler(rep_rng, shape) for shape in shapes] for _ in range(REPRESENTATIVE_SAMPLES)]
        xs = [sampler(input_rng, (1, *shape)) for shape in shapes]
        input_names = [keras_input.name for keras_input in model.inputs]
        notes[name] = f"{model.count_params()} parameters, {len(model.layers)} Keras layers, {perturbed} constant-initialized variables perturbed"

        variants = [(name, "float32", {})]
        if name not in FLOAT_ONLY_MODELS:
            variants.append((f"{name}_int8", "int8, float I/O", int8_options(samples, input_names)))
        if int8_io:
            variants.append((f"{name}_int8io", "int8, int8 I/O", int8_options(samples, input_names, int8_io=True)))
        for variant, kind, options in variants:
            path = out / f"{variant}.tflite"
            convert = convert_tf_keras if legacy else (
                convert_from_keras_model if name in FLOAT_ONLY_MODELS else export_litert)
            convert(model, path, **options)
            interpreter = Interpreter(model_path=str(path))
            details = interpreter.get_input_details()
            # The .tflite's input order (what importers see) with each Keras input found by name.
            inputs = [xs[keras_input_position(model, detail["name"])] for detail in details]
            if all(detail["dtype"] == x.dtype for detail, x in zip(details, inputs)):
                # float32 (or int32 token ids): the shared input
                input_files = save_arrays(out, name, "inputs", inputs)
            else:
                inputs = [quantize(x, detail) for detail, x in zip(details, inputs)]
                input_files = save_arrays(out, variant, "inputs", inputs)
            input_file = ", ".join(input_files)
            outputs, runtime_shapes = run_litert(path, inputs)
            output_files = save_arrays(out, variant, "outputs", outputs)
            if len(outputs) > 1:  # "StatefulPartitionedCall_1:N": N indexes the Keras model's outputs
                multi_outputs[variant] = [
                    f"{d['name']} ({model.output_names[int(n.group(1))]})" if (n := re.search(r":(\d+)$", d["name"]))
                    else d["name"] for d in interpreter.get_output_details()]
            records.append((path.name, kind, input_file, output_files, runtime_shapes))
            print(f"{variant}: {path.stat().st_size} bytes, outputs "
                  + ", ".join(f"{o.dtype}{list(o.shape)}" for o in outputs), flush=True)
        print(f"  {name} done in {time.time() - t0:.1f} s ({notes[name]})", flush=True)
        api.backend.clear_session()

    if args.only:
        return

    # ops.txt
    ops_lines = [
        "# Builtin operators in each generated .tflite (per subgraph, in order of first use, xN = count),",
        "# its inputs/outputs, tensor types and every tensor whose shape signature has a -1 (dynamic) dimension",
        "# (grouped by subgraph, type, shape and signature; tensor indices as in the flatbuffer's subgraph).",
        f"# 'NOT imported by Kiln' compares against {kiln_source}:",
        "#   " + ", ".join(sorted(kiln_ops)),
        "# Generated by scripts/make_tf_models.sh; do not edit.",
        "",
    ]
    summary = []
    for file, kind, _, _, runtime_shapes in records:
        lines, ops, missing, n_dynamic, n_stale = describe(out / file, kiln_ops, kind, runtime_shapes)
        ops_lines += lines + [""]
        summary.append((file, missing, n_dynamic, n_stale))
    (out / "ops.txt").write_text("\n".join(ops_lines))

    # README.md
    v = versions()
    files = sorted(p for p in out.iterdir() if p.suffix in (".tflite", ".npy"))
    total = sum(p.stat().st_size for p in files)
    readme = [
        "# Keras → TFLite fixtures (generated)",
        "",
        "Everything in this folder is generated: do not edit by hand. Regenerate from the repository root with",
        "",
        "```sh",
        "bash scripts/make_tf_models.sh",
        "```",
        "",
        "which creates `.venv-models/` (Python 3.11 virtualenv, git-ignored), installs the pinned packages and runs",
        "`scripts/make_tf_models.py`. It rewrites every `.tflite`/`.npy` here, `ops.txt` and this README.",
        "",
        "## Versions",
        "",
        f"- Python {platform.python_version()} on {platform.system()} {platform.machine()}",
        *[f"- {k}=={val}" for k, val in v.items()],
        "",
        "## How they are made",
        "",
        "- Keras 3 models (TensorFlow backend, CPU) with untrained weights: `keras.utils.set_random_seed("
        f"{SEED})` before each model is built; then every constant-initialized variable (biases, batch/layer-norm"
        " gamma/beta, moving mean/variance) gets seeded noise (scales x U(0.8, 1.2), offsets + N(0, 0.05)) so that"
        " batch norm is no identity and biases are not zero.",
        "- Converted the way Keras 3 documents it: `model.export(path, format=\"litert\", **converter_options)`"
        " (Keras ExportArchive → SavedModel → `tf.lite.TFLiteConverter.from_saved_model`; Keras sets"
        " `supported_ops=[TFLITE_BUILTINS, SELECT_TF_OPS]` and `experimental_enable_resource_variables=True`)."
        " The batch dimension is left as Keras declares it (`None`), so input/activation tensors carry shape"
        " `[1, ...]` with shape signature `[-1, ...]`.",
        "- `lstm_fused` is the exception: a Keras 2 model (`tf_keras`, seeded with `tf_keras.utils.set_random_seed("
        f"{SEED})`, its biases perturbed the same way), converted with `tf.lite.TFLiteConverter.from_concrete_functions("
        "[tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec([1, 49, 10], tf.float32))], model)`:"
        " a fixed batch of 1, so no tensor has a dynamic shape signature (`from_keras_model` with Keras's batch"
        " `None` fails: \"Lowering tensor list ops is failed\"). Its int8 variant goes the same way with the"
        " full-integer options below: the converter writes TensorFlow Lite's 8x8_16 integer LSTM (int8 input,"
        " weights and output state, int32 biases, an int16 cell state). There is no dynamic-range variant:"
        " `optimizations=[tf.lite.Optimize.DEFAULT]` alone leaves every tensor float32 here (the weights are"
        " at most 32x32).",
        "- `NAME.tflite`: float32, converter defaults.",
        "- `NAME_int8.tflite` (every model but `gru_while` and `rnn_stack_while`): full-integer int8:"
        " `optimizations=[tf.lite.Optimize.DEFAULT]`,"
        f" `target_spec.supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8]`, a representative dataset of"
        f" {REPRESENTATIVE_SAMPLES} random samples (numpy `default_rng({SEED + 1})`); float32 input/output kept"
        " (QUANTIZE / DEQUANTIZE at the edges).",
        "- `keras_cnn_int8io.tflite`: the same plus `inference_input_type=tf.int8, inference_output_type=tf.int8`.",
        f"- `NAME.inputs.npy`: one batch-1 input (numpy `default_rng({SEED + 2})`), shared by `NAME` and"
        " `NAME_int8`. Image models with Keras preprocessing (MobileNetV3, EfficientNet) and the CNN take uniform"
        " pixels ([0, 255], resp. [0, 1]), `decoder_net` U(0, 1); the sequence models and `reductions_net` take"
        " N(0, 1); all float32, except `embedding_text`, whose input is int32 token ids, uniform in"
        f" [0, {EMBEDDING_VOCABULARY}) (its representative dataset is int32 token ids too, and its int8 variant keeps"
        " the int32 input). `keras_cnn_int8io.inputs.npy` is the float input quantized with the model's input scale"
        " and zero point (int8). A model with several inputs (`fusion_net`) gets `NAME.inputs.0.npy`, `.1.npy`, …,"
        " in the order of the .tflite subgraph's inputs (LiteRT's `get_input_details()`), which the converter sorts"
        " by name; its representative dataset yields dicts keyed by input name for the same reason.",
        "- `VARIANT.outputs.npy`: the output of LiteRT's interpreter (`ai_edge_litert.interpreter.Interpreter`,"
        " default op resolver, 1 thread) for that input; int8 for `keras_cnn_int8io`. A model with several outputs"
        " (`reductions_net`) gets `VARIANT.outputs.0.npy`, `.1.npy`, …, in the order of the .tflite subgraph's"
        " outputs (LiteRT's `get_output_details()`), which is not the Keras model's order: the output tensors are"
        " named `StatefulPartitionedCall_1:N` with N the Keras output index (listed per file under Models).",
        "- `ops.txt`: operators per file and subgraph, every tensor with a dynamic (-1) shape signature, and every"
        " tensor whose stored `shape` differs from the shape LiteRT gives it for the batch-1 input (the converter"
        " writes a placeholder such as `[1, 1]` where it could not infer a size, e.g. after a RESHAPE whose shape"
        " operand is computed by SHAPE/GATHER/REDUCE_PROD/PACK).",
        "",
        "## Models",
        "",
        "- `keras_cnn`: 28x28x1 → Conv2D(8, 3, relu) → BatchNormalization → MaxPooling2D → Conv2D(16, 3) →"
        " Dropout → Flatten → Dense(32, relu) → Dense(10, softmax).",
        f"- `mobilenet_v3_small`: `keras.applications.MobileNetV3Small(input_shape=(96, 96, 3), alpha={MOBILENET_ALPHA},"
        " minimalistic=False, include_top=True, weights=None, classes=10)`.",
        f"- `efficientnet_b0`: EfficientNetB0's topology at 64x64x3, 10 classes, **at width {EFFICIENTNET_WIDTH}**"
        f" (depth {EFFICIENTNET_DEPTH}, i.e. all 16 MBConv blocks): `keras.src.applications.efficientnet.EfficientNet("
        f"{EFFICIENTNET_WIDTH}, {EFFICIENTNET_DEPTH}, 224, dropout_rate=0.2, weights=None, input_shape=(64, 64, 3),"
        " classes=10)`, the builder `keras.applications.EfficientNetB0` calls with (1.0, 1.0). Full-width B0 has"
        " 4.06M parameters whatever the input size (a 16 MB float file), over this folder's size budget.",
        "- `transformer_block`: (16, 32) → MultiHeadAttention(4 heads, key_dim 8) + residual → LayerNormalization →"
        " Dense(64, gelu) → Dense(32) + residual → LayerNormalization → GlobalAveragePooling1D → Dense(4).",
        "- `lstm_kws`: (49, 10) → LSTM(32) → Dense(12, softmax); `gru_kws`: the same with GRU(32)"
        " (GRU reset_after=True, Keras's default), both with **`unroll=True`**: a rolled layer exported as"
        " Keras declares it keeps TensorList ops (Flex ops with Keras's SELECT_TF_OPS, which LiteRT's builtin"
        " interpreter cannot run; \"Lowering tensor list ops is failed\" with builtins only), and with a static"
        " batch of 1 it becomes WHILE + cond/body subgraphs that convert in float but crash int8 calibration"
        " (segfault in the calibrator, tensorflow/tensorflow#75140).",
        "- `gru_while`: `lstm_kws`'s GRU rolled (`unroll=False`) with a static batch of 1 (`keras.Input((49, 10),"
        " batch_size=1)`), converted with `tf.lite.TFLiteConverter.from_keras_model(model)`: one WHILE whose"
        " condition and body are subgraphs 1 and 2; `rnn_stack_while`: (20, 8) → SimpleRNN(16, return_sequences=True)"
        " → LSTM(16) → Dense(4), the same way (two WHILE loops; the first writes every step into the sequence the"
        " second reads, with SLICE and CONCATENATION at the counter). Float32 only: int8 calibration of a WHILE"
        " crashes (tensorflow/tensorflow#75140); `model.export(format=\"litert\")` keeps Flex TensorList ops instead.",
        "- `lstm_fused` (exists for UNIDIRECTIONAL_SEQUENCE_LSTM, the fused operator the converter writes for Keras 2"
        " LSTM layers): (49, 10) → `tf_keras.layers.LSTM(32, return_sequences=True)` → `tf_keras.layers.LSTM(16)` →"
        " Dense(12, softmax). Each LSTM becomes one UNIDIRECTIONAL_SEQUENCE_LSTM with 24 inputs: the four gates'"
        " input and recurrent weights and biases as separate constants (gate order input, forget, cell, output),"
        " no peephole, projection or layer-norm inputs (-1), and the output and cell state as variable tensors"
        " without data (inputs 18 and 19); options batch-major, tanh, cell_clip 10 (the converter's), proj_clip 0."
        " The second returns its whole sequence and a STRIDED_SLICE takes the last step. In `lstm_fused_int8`"
        " each has int8 weights (one scale per gate matrix), int32 biases, an int8 output state (the output's"
        " parameters) and an int16 cell state (scale 2^-14), and five intermediate tensors without quantization.",
        "- `decoder_net` (exists for LEAKY_RELU, PRELU, TRANSPOSE_CONV, RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR,"
        " SPACE_TO_DEPTH, DEPTH_TO_SPACE): 16x16x3 → Conv2D(8, 3, same) → LeakyReLU(negative_slope=0.2) →"
        " Conv2D(16, 3, strides 2, same) → PReLU(shared_axes=[1, 2], i.e. one alpha per channel, initialized"
        " U(0.05, 0.5) instead of Keras's zeros) → Conv2DTranspose(8, 3, strides 2, same) → Resizing(32, 32,"
        " nearest) → Resizing(24, 24, bilinear) → Lambda `tf.nn.space_to_depth(x, 2)` → Conv2D(16, 1) → Lambda"
        " `tf.nn.depth_to_space(x, 2)` → Conv2D(3, 1) → Softmax over the channels: 24x24x3. Both resizes are"
        " `align_corners=False, half_pixel_centers=True`. The 2x nearest upsampling is `Resizing(32, 32,"
        " \"nearest\")`, not `UpSampling2D(2)`: Keras 3 lowers UpSampling2D to EXPAND_DIMS/TILE/CONCATENATION/"
        "RESHAPE, no RESIZE_NEAREST_NEIGHBOR. TRANSPOSE_CONV's output shape is computed from the dynamic batch"
        " (SHAPE → STRIDED_SLICE → PACK).",
        "- `reductions_net` (exists for REDUCE_MAX, SUM, REDUCE_MIN, REDUCE_PROD, LOG_SOFTMAX, TILE, ARG_MAX;"
        " seven outputs): (8, 12, 6) → Conv2D(8, 1) = x (8x12x8), then Lambda layers, in Keras's output order: 0"
        " `tf.reduce_max(x, axis=[1, 2])` (8); 1 `tf.reduce_sum(x, axis=-1, keepdims=True)` (8x12x1); 2"
        " `tf.reduce_min(x, axis=1)` (12x8); 3 `tf.math.reduce_prod(1 + 0.25 * tf.tanh(x), axis=2)` (8x8; factors"
        " in [0.75, 1.25]); 4 Flatten → Dense(10) → `tf.nn.log_softmax` (10); 5 `tf.tile(x, [1, 1, 2, 1])` (8x24x8)"
        " → Conv2D(4, 3, strides 2, valid) (3x11x4, windows straddling both copies); 6 `tf.argmax(x, axis=-1,"
        " output_type=tf.int32)` (8x12, int32, in the int8 variant too, taken from the int8 tensor, so a few"
        " indices differ from the float file's).",
        *[f"  - `{variant}.outputs.K.npy`, K = 0…{len(tensors) - 1}: " + ", ".join(tensors)
          for variant, tensors in multi_outputs.items()],
        "- `embedding_text` (exists for GATHER with the model input as indices, GATHER with constant indices and"
        f" PACK of float tensors): (16,) int32 token ids → Embedding({EMBEDDING_VOCABULARY}, 16) →"
        f" Lambda `tf.gather(x, {EMBEDDING_POSITIONS}, axis=1)` (8x16) → two Dense(16) → Lambda `tf.stack([a, b],"
        " axis=1)` (2x8x16) → Flatten → Dense(4). Keras's Embedding (`ops.take`) first wraps negative ids:"
        " LESS (a BOOL tensor), ADD and SELECT_V2 on the int32 ids, then GATHER from the table. Dense on the rank-3"
        " tensors becomes RESHAPE (stored shape a placeholder) → FULLY_CONNECTED (no bias) → RESHAPE → ADD, with"
        " the shapes computed by SHAPE/GATHER/REDUCE_PROD/CONCATENATION/PACK. The int8 variant quantizes the table,"
        " gathers int8 and keeps the int32 input.",
        "- `fusion_net` (exists for a model with two inputs): `spectrogram` (20, 10, 1) → Conv2D(8, 3, relu) →"
        " MaxPooling2D(2) (9x4x8) → Multiply by a gate, Dense(8, sigmoid) of `context` (4,) reshaped to (1, 1, 8) →"
        " Flatten, Concatenate with Dense(8, relu) of `context` → Dense(6, softmax). Its .tflite lists `context`"
        " first.",
        "",
        *[f"  - `{n}`: {notes[n]}" for n in names],
        "",
        f"## Files ({total} bytes in all)",
        "",
        "| file | bytes | sha256 (first 16 hex digits) |",
        "| --- | ---: | --- |",
        *[f"| {p.name} | {p.stat().st_size} | `{hashlib.sha256(p.read_bytes()).hexdigest()[:16]}` |" for p in files],
        "",
        "## Operators Kiln does not import yet",
        "",
        f"Compared with {kiln_source} when these files were generated; `ops.txt` has the full lists.",
        "",
        *[f"- {file}: {', '.join(missing) if missing else '(none)'}; {n} tensors with a -1 shape signature"
          + (f"; {stale} tensors whose stored shape is a placeholder (see ops.txt)" if stale else "")
          for file, missing, n, stale in summary],
        "",
    ]
    (out / "README.md").write_text("\n".join(readme))
    print(f"\nwrote {len(files)} model/array files ({total} bytes) + ops.txt + README.md to {out} "
          f"in {time.time() - started:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
