"""Trains the Digits example's classifier on scikit-learn's bundled 8x8 digits.

Writes, next to the model file in Sources/Digits:
  digits.safetensors          weights in Kiln's layout (Dense: [units, inputs])
  Data/test-images.npy        held-out images, float32 [N, 8, 8, 1], scaled to [0, 1]
  Data/test-labels.npy        held-out labels, int32 [N]
  calibration.npy             the first 100 training images, float32 [100, 8, 8, 1], for the
                              full-int8 model's activation ranges

Run once (the outputs are committed):
  python3 -m venv .venv && .venv/bin/pip install scikit-learn numpy
  .venv/bin/python Examples/Digits/Training/train.py
"""

import json
import struct
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

OUT = Path(__file__).resolve().parent.parent / "Sources" / "Digits"


def write_safetensors(tensors: dict, path: Path) -> None:
    """Writes float32 tensors in the safetensors format (8-byte header length, JSON header, data)."""
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main() -> None:
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    train_x, test_x, train_y, test_y = train_test_split(
        images, digits.target, test_size=0.2, random_state=0, stratify=digits.target)
    # 256 hidden units and alpha 0.1 scored best in 4-fold cross-validation on
    # the training split among 64/128/256 units and alpha 1e-3/1e-2/1e-1.
    classifier = MLPClassifier(hidden_layer_sizes=(256,), activation="relu", alpha=0.1,
                               max_iter=1000, random_state=0)
    classifier.fit(train_x.reshape(len(train_x), -1).astype(np.float64), train_y)
    accuracy = classifier.score(test_x.reshape(len(test_x), -1).astype(np.float64), test_y)
    print(f"scikit-learn held-out accuracy: {accuracy:.4f} on {len(test_y)} images")

    # scikit-learn stores [inputs, units]; Kiln's Dense weight is [units, inputs].
    write_safetensors({
        "dense_0.weight": classifier.coefs_[0].T, "dense_0.bias": classifier.intercepts_[0],
        "dense_1.weight": classifier.coefs_[1].T, "dense_1.bias": classifier.intercepts_[1],
    }, OUT / "digits.safetensors")
    (OUT / "Data").mkdir(exist_ok=True)
    np.save(OUT / "Data" / "test-images.npy", test_x.reshape(-1, 8, 8, 1).astype("<f4"))
    np.save(OUT / "Data" / "test-labels.npy", test_y.astype("<i4"))
    np.save(OUT / "calibration.npy", train_x[:100].reshape(-1, 8, 8, 1).astype("<f4"))


if __name__ == "__main__":
    main()
