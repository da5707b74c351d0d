# Regenerates the fixtures in this directory: python3 make_fixtures.py
# The values are exactly representable so the Swift tests can state them.
import json
import struct
import zipfile

import numpy as np

f32 = (np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1).astype(np.float32)
f16 = np.array([0.5, -2.0, 65504.0, 0.0009765625], dtype=np.float16)
i8 = np.array([-128, -1, 0, 1, 127], dtype=np.int8)
i32 = np.array([[-2147483648, -1], [0, 2147483647]], dtype=np.int32)

np.save("f32_2x3.npy", f32)
np.save("f16_4.npy", f16)
np.save("i8_5.npy", i8)
np.save("i32_2x2.npy", i32)
np.save("f32_scalar.npy", np.float32(3.25))
np.save("f32_0x3.npy", np.zeros((0, 3), dtype=np.float32))
with open("f32_2x3_v2.npy", "wb") as f:
    np.lib.format.write_array(f, f32, version=(2, 0))
with open("f32_2x3_v3.npy", "wb") as f:
    np.lib.format.write_array(f, f32, version=(3, 0))

# Unsupported on purpose.
np.save("f64_2.npy", np.array([1.0, 2.0]))
np.save("f32_big_endian.npy", np.array([1.0, 2.0], dtype=">f4"))
np.save("f32_fortran.npy", np.asfortranarray(f32))
np.save("object.npy", np.array([1, "a"], dtype=object), allow_pickle=True)

# Large enough, and repetitive enough, that zlib picks dynamic Huffman blocks.
ramp = ((np.arange(512) % 37 - 18) * 0.25).astype(np.float32)
counts = (np.arange(300) * 7 - 1000).astype(np.int32)
np.savez("savez.npz", weight=f32, bias=f16, q=i8, idx=i32)
np.savez_compressed("savez_compressed.npz", weight=f32, bias=f16, q=i8, idx=i32, ramp=ramp, counts=counts)

# Deflate at level 0 emits stored (type 0) blocks inside the deflate stream.
with zipfile.ZipFile("deflate_stored_blocks.npz", "w", zipfile.ZIP_DEFLATED, compresslevel=0) as archive:
    with archive.open("weight.npy", "w") as f:
        np.lib.format.write_array(f, f32)



def print_block_types(path):
    """Shows which DEFLATE block type starts each member, to confirm the fixtures cover them."""
    with zipfile.ZipFile(path) as archive, open(path, "rb") as f:
        for info in archive.infolist():
            f.seek(info.header_offset + 26)
            name_length, extra_length = struct.unpack("<HH", f.read(4))
            f.seek(info.header_offset + 30 + name_length + extra_length)
            first = f.read(1)[0]
            print(path, info.filename, "method", info.compress_type, "first block type", (first >> 1) & 3)


print_block_types("savez_compressed.npz")
print_block_types("deflate_stored_blocks.npz")


def safetensors(path, tensors, metadata=None):
    """Writes tensors by hand: 8-byte header length, JSON header, data."""
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


safetensors(
    "mixed.safetensors",
    {
        "weight": ("F32", [2, 3], f32.tobytes()),
        "bias": ("F16", [4], f16.tobytes()),
        "q": ("I8", [5], i8.tobytes()),
        "idx": ("I32", [2, 2], i32.tobytes()),
        "scalar": ("F32", [], np.float32(3.25).tobytes()),
        "bf16": ("BF16", [2], bytes([0x80, 0x3F, 0x00, 0x40])),
    },
    metadata={"format": "pt", "note": "h\u00e9llo \"quoted\""},
)
