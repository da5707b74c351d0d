#!/usr/bin/env python3
"""Reference fixtures: what LiteRT outputs for float models fed NaN / Inf / huge inputs.

Usage: make_nonfinite_fixtures.py [MODELS_DIR] [OUT_DIR]
  MODELS_DIR defaults to ../shared/models relative to the repo root;
  OUT_DIR defaults to this script's directory.

For each float model MODEL.tflite, the base input is entry 0 of MODEL.inputs.npy
(batch-first, like the shared fixtures). Each case is a copy of it with one change,
and is run through ai_edge_litert.interpreter.Interpreter(model_path, num_threads=1)
(default op resolver, XNNPACK as LiteRT ships it). Written files, batch-first
like MODEL.inputs.npy / MODEL.outputs.npy, one row per case:
  MODEL.nonfinite.inputs.npy   float32 [cases, *input shape without batch axis]
  MODEL.nonfinite.outputs.npy  float32 [cases, *output shape without batch axis]

Case order (row index: name: change; "index 7" is the flat index of the input):
  0 nan_one      index 7 = NaN
  1 nan_all      all NaN
  2 posinf_one   index 7 = +inf
  3 neginf_one   index 7 = -inf
  4 posinf_all   all +inf
  5 big_all      all 1e38
  6 big_one      index 7 = 1e38
  7 neg_big_one  index 7 = -1e38
"""
import os
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter

MODELS = ["ad01_fp32", "kws_ref_model_float32"]
INDEX = 7


def one(value):
    def f(x):
        x.reshape(-1)[INDEX] = value
    return f


def all_(value):
    def f(x):
        x[...] = value
    return f


CASES = [
    ("nan_one", one(np.nan)),
    ("nan_all", all_(np.nan)),
    ("posinf_one", one(np.inf)),
    ("neginf_one", one(-np.inf)),
    ("posinf_all", all_(np.inf)),
    ("big_all", all_(1e38)),
    ("big_one", one(1e38)),
    ("neg_big_one", one(-1e38)),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.abspath(os.path.join(here, "..", "..", "..", ".."))
    models_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(repo, "..", "shared", "models")
    out_dir = sys.argv[2] if len(sys.argv) > 2 else here
    os.makedirs(out_dir, exist_ok=True)

    print(f"{'model':<24}{'case':<13}{'nan':>6}{'+inf':>6}{'-inf':>6}{'finite':>8}")
    for stem in MODELS:
        interp = Interpreter(model_path=os.path.join(models_dir, stem + ".tflite"), num_threads=1)
        interp.allocate_tensors()
        inp = interp.get_input_details()[0]
        out = interp.get_output_details()[0]
        assert inp["dtype"] == np.float32 and out["dtype"] == np.float32, stem
        in_shape = tuple(inp["shape"])
        base = np.load(os.path.join(models_dir, stem + ".inputs.npy"))[0].astype(np.float32)
        base = base.reshape(in_shape)

        ins, outs = [], []
        for name, change in CASES:
            x = base.copy()
            change(x)
            interp.set_tensor(inp["index"], x)
            interp.invoke()
            y = interp.get_tensor(out["index"]).astype(np.float32).copy()
            # Drop the model's batch-1 axis; rows are stacked batch-first.
            ins.append(x.reshape(in_shape[1:]))
            outs.append(y.reshape(tuple(out["shape"])[1:]))
            n_nan = int(np.isnan(y).sum())
            n_pinf = int(np.isposinf(y).sum())
            n_ninf = int(np.isneginf(y).sum())
            n_fin = int(np.isfinite(y).sum())
            print(f"{stem:<24}{name:<13}{n_nan:>6}{n_pinf:>6}{n_ninf:>6}{n_fin:>8}")

        np.save(os.path.join(out_dir, stem + ".nonfinite.inputs.npy"), np.stack(ins).astype(np.float32))
        np.save(os.path.join(out_dir, stem + ".nonfinite.outputs.npy"), np.stack(outs).astype(np.float32))


if __name__ == "__main__":
    main()
