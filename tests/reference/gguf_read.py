"""Minimal GGUF v3 reader for the NumPy reference (docs/GEMMA4.md §3.1).

Written from the spec only; shares nothing with the C++ reader. Metadata values become
Python values (arrays of numbers become lists); tensor data is a read-only np.memmap view.
"""
import struct

import numpy as np

GGUF_MAGIC = 0x46554747  # "GGUF" little-endian

# value type id -> (struct format, size)
_SCALARS = {
    0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
    6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8),
}
_STRING = 8
_ARRAY = 9

# ggml type id -> (name, elements per block, bytes per block) (docs/GEMMA4.md §3.6)
GGML_TYPES = {
    0: ("f32", 1, 4), 1: ("f16", 1, 2), 2: ("q4_0", 32, 18), 8: ("q8_0", 32, 34),
    10: ("q2_K", 256, 84), 12: ("q4_K", 256, 144), 14: ("q6_K", 256, 210), 30: ("bf16", 1, 2),
    42: ("q2_0", 64, 18),
    # gemmad-private scaled-code types (docs/FORMATS.md): codes only, scales in <name>_scale
    4098: ("gq2", 4, 1), 4100: ("gq4", 2, 1), 4104: ("gq8", 1, 1),
}


class GgufError(Exception):
    pass


class Tensor:
    def __init__(self, name, ne, type_id, offset):
        self.name = name
        self.ne = ne            # ggml order: ne[0] contiguous
        self.type_id = type_id
        self.offset = offset
        self.data = None        # np.uint8 view of the tensor bytes

    @property
    def type_name(self):
        return GGML_TYPES[self.type_id][0]

    def n_elements(self):
        n = 1
        for v in self.ne:
            n *= v
        return n

    def n_bytes(self):
        _, be, bb = GGML_TYPES[self.type_id]
        n = self.n_elements()
        if n % be:
            raise GgufError(f"tensor {self.name}: {n} elements not a multiple of block {be}")
        return n // be * bb


class GgufFile:
    def __init__(self, path):
        self.path = path
        self.kv = {}
        self.tensors = {}
        self._buf = np.memmap(path, dtype=np.uint8, mode="r")
        self._pos = 0
        self._parse()

    def _read(self, n):
        if self._pos + n > len(self._buf):
            raise GgufError(f"{self.path}: truncated at byte {self._pos}")
        b = self._buf[self._pos:self._pos + n].tobytes()
        self._pos += n
        return b

    def _scalar(self, fmt, size):
        return struct.unpack(fmt, self._read(size))[0]

    def _string(self):
        n = self._scalar("<Q", 8)
        return self._read(n).decode("utf-8", errors="surrogateescape")

    def _value(self, vtype):
        if vtype in _SCALARS:
            return self._scalar(*_SCALARS[vtype])
        if vtype == _STRING:
            return self._string()
        if vtype == _ARRAY:
            etype = self._scalar("<I", 4)
            count = self._scalar("<Q", 8)
            if etype in _SCALARS and etype != 7:
                fmt, size = _SCALARS[etype]
                arr = np.frombuffer(self._read(size * count), dtype=np.dtype(fmt))
                return arr.tolist()
            return [self._value(etype) for _ in range(count)]
        raise GgufError(f"{self.path}: unknown value type {vtype} at byte {self._pos}")

    def _parse(self):
        if self._scalar("<I", 4) != GGUF_MAGIC:
            raise GgufError(f"{self.path}: not a GGUF file")
        version = self._scalar("<I", 4)
        if version != 3:
            raise GgufError(f"{self.path}: GGUF version {version}, expected 3")
        n_tensors = self._scalar("<Q", 8)
        n_kv = self._scalar("<Q", 8)
        for _ in range(n_kv):
            key = self._string()
            vtype = self._scalar("<I", 4)
            self.kv[key] = self._value(vtype)
        infos = []
        for _ in range(n_tensors):
            name = self._string()
            n_dims = self._scalar("<I", 4)
            ne = [self._scalar("<Q", 8) for _ in range(n_dims)]
            type_id = self._scalar("<I", 4)
            offset = self._scalar("<Q", 8)
            if type_id not in GGML_TYPES:
                raise GgufError(f"tensor {name}: unsupported ggml type {type_id}")
            infos.append(Tensor(name, ne, type_id, offset))
        align = int(self.kv.get("general.alignment", 32))
        data_start = (self._pos + align - 1) // align * align
        for t in infos:
            start = data_start + t.offset
            end = start + t.n_bytes()
            if end > len(self._buf):
                raise GgufError(f"tensor {t.name}: data past the end of the file")
            t.data = self._buf[start:end]
            self.tensors[t.name] = t

    def get(self, key, default=None):
        return self.kv.get(key, default)
