#!/usr/bin/env python3
"""Writes the small seed inputs for fuzz/gguf_fuzz and fuzz/safetensors_fuzz (run from here).

GGUF seeds carry no .gguf suffix: the repository ignores *.gguf outside tests/fixtures.
"""
import json
import struct


def gguf_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf(version, kvs, tensors, alignment=32):
    """kvs: (key, type, payload bytes); tensors: (name, dims, ggml type, data bytes)."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, typ, payload in kvs:
        out += gguf_str(key) + struct.pack("<I", typ) + payload
    offset, blobs = 0, b""
    for name, dims, typ, data in tensors:
        out += gguf_str(name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", typ, offset)
        pad = (-len(data)) % alignment
        blobs += data + b"\0" * pad
        offset += len(data) + pad
    out += b"\0" * ((-len(out)) % alignment)
    return out + blobs


def q8_block(scale_bits, start):
    return struct.pack("<H", scale_bits) + bytes((start + j) % 256 for j in range(32))


kvs = [
    ("general.architecture", 8, gguf_str("qwen3")),
    ("u8", 0, struct.pack("<B", 7)), ("i8", 1, struct.pack("<b", -7)),
    ("u16", 2, struct.pack("<H", 700)), ("i16", 3, struct.pack("<h", -700)),
    ("u32", 4, struct.pack("<I", 70000)), ("i32", 5, struct.pack("<i", -70000)),
    ("f32", 6, struct.pack("<f", 0.5)), ("bool", 7, b"\x01"),
    ("u64", 10, struct.pack("<Q", 1 << 40)), ("i64", 11, struct.pack("<q", -(1 << 40))),
    ("f64", 12, struct.pack("<d", 0.25)),
    ("tokens", 9, struct.pack("<IQ", 8, 2) + gguf_str("a") + gguf_str("bc")),
    ("ids", 9, struct.pack("<IQ", 5, 3) + struct.pack("<3i", 1, 2, 3)),
    ("nested", 9, struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 4, 1) + struct.pack("<I", 9)),
]
tensors = [
    ("a.f32", [2, 2], 0, struct.pack("<4f", 1, 2, 3, 4)),
    ("b.f16", [3], 1, struct.pack("<3H", 0x3C00, 0x4000, 0xBC00)),
    ("c.bf16", [1, 2], 30, struct.pack("<2H", 0x3F80, 0x4000)),
    ("d.q8", [32, 2], 8, q8_block(0x2C00, 0) + q8_block(0x3C00, 100)),
]
open("gguf/all_types_v3", "wb").write(gguf(3, kvs, tensors))
open("gguf/v2_aligned64", "wb").write(
    gguf(2, [("general.alignment", 4, struct.pack("<I", 64))], tensors[:2], alignment=64))
open("gguf/empty_v3", "wb").write(gguf(3, [], []))


def safetensors(entries, metadata=None):
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, blob in entries:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header).encode()
    text += b" " * ((-len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + data


open("safetensors/three_dtypes.safetensors", "wb").write(safetensors([
    ("model.embed_tokens.weight", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
    ("model.norm.weight", "F16", [3], struct.pack("<3H", 0x3C00, 0x4000, 0xBC00)),
    ("lm_head.weight", "BF16", [1, 2], struct.pack("<2H", 0x3F80, 0x4000)),
], metadata={"format": "pt"}))
open("safetensors/empty.safetensors", "wb").write(safetensors([]))
open("safetensors/scalar_and_zero.safetensors", "wb").write(safetensors([
    ("s", "F32", [], struct.pack("<f", 1.5)), ("z", "BF16", [0, 4], b"")]))
