"""Tiny GGUF v3 writer for hand-made reference test models (F32/F16/raw-block tensors)."""
import struct

import numpy as np

_TYPE_IDS = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8, "q6_K": 14, "q4_K": 12}


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(v):
    """(type id, bytes) of a Python value: bool, int (u32), float (f32), str, or a list
    of those (ints -> i32 array, as the llama.cpp writer does)."""
    if isinstance(v, bool):
        return 7, struct.pack("<?", v)
    if isinstance(v, int):
        return 4, struct.pack("<I", v)
    if isinstance(v, float):
        return 6, struct.pack("<f", v)
    if isinstance(v, str):
        return 8, _str(v)
    if isinstance(v, list):
        if all(isinstance(e, bool) for e in v):
            et, body = 7, b"".join(struct.pack("<?", e) for e in v)
        elif all(isinstance(e, int) for e in v):
            et, body = 5, b"".join(struct.pack("<i", e) for e in v)
        elif all(isinstance(e, float) for e in v):
            et, body = 6, b"".join(struct.pack("<f", e) for e in v)
        else:
            et, body = 8, b"".join(_str(e) for e in v)
        return 9, struct.pack("<IQ", et, len(v)) + body
    raise TypeError(f"unsupported metadata value {v!r}")


def write_gguf(path, kv, tensors, alignment=32):
    """kv: dict key -> value; tensors: list of (name, ne list, type name, bytes or ndarray).
    An ndarray is stored as f32 or f16 per the type name."""
    head = struct.pack("<IIQQ", 0x46554747, 3, len(tensors), len(kv))
    for k, v in kv.items():
        t, b = _value(v)
        head += _str(k) + struct.pack("<I", t) + b
    blobs = []
    offset = 0
    for name, ne, tname, data in tensors:
        if isinstance(data, np.ndarray):
            data = data.astype("<f4" if tname == "f32" else "<f2").tobytes()
        head += _str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        head += struct.pack("<IQ", _TYPE_IDS[tname], offset)
        pad = (-len(data)) % alignment
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    head += b"\0" * ((-len(head)) % alignment)
    with open(path, "wb") as f:
        f.write(head)
        for b in blobs:
            f.write(b)
