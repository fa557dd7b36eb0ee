"""Dequantisation of ggml tensor types to float32 for the NumPy reference.

Block layouts from docs/GEMMA4.md §3.6 (ggml-common.h); written from the spec, vectorised
over blocks. Every function takes the raw bytes of whole blocks (np.uint8) and returns a
flat float32 array.
"""
import numpy as np


def _f16(raw_u8_pairs):
    """Little-endian fp16 stored in the last axis (2 bytes) -> float32."""
    return np.ascontiguousarray(raw_u8_pairs).view("<f2").astype(np.float32)[..., 0]


def deq_f32(b):
    return np.frombuffer(b.tobytes(), dtype="<f4").copy()


def deq_f16(b):
    return np.frombuffer(b.tobytes(), dtype="<f2").astype(np.float32)


def deq_bf16(b):
    u = np.frombuffer(b.tobytes(), dtype="<u2").astype(np.uint32) << 16
    return u.view(np.float32).copy()


def deq_q8_0(b):
    # 34 bytes: fp16 d, 32 x int8; value q * d
    blk = np.asarray(b).reshape(-1, 34)
    d = _f16(blk[:, 0:2])
    q = blk[:, 2:34].view(np.int8).astype(np.float32)
    return (q * d[:, None]).reshape(-1)


def deq_q4_0(b):
    # 18 bytes: fp16 d, 16 bytes; element j < 16 = low nibble of byte j, j + 16 = high nibble;
    # value (q - 8) * d
    blk = np.asarray(b).reshape(-1, 18)
    d = _f16(blk[:, 0:2])
    qs = blk[:, 2:18]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * d[:, None]).reshape(-1)


def deq_q6_k(b):
    # 210 bytes: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] int8, fp16 d.
    # Two halves of 128 elements; half h uses ql[64h : 64h+64], qh[32h : 32h+32],
    # scales[8h : 8h+8]. Within a half, for l in [0, 32):
    #   y[l]      = low nibble of ql[l]      | bits 0-1 of qh[l] << 4, scale index l/16
    #   y[l + 32] = low nibble of ql[l + 32] | bits 2-3 of qh[l] << 4, scale index l/16 + 2
    #   y[l + 64] = high nibble of ql[l]     | bits 4-5 of qh[l] << 4, scale index l/16 + 4
    #   y[l + 96] = high nibble of ql[l + 32]| bits 6-7 of qh[l] << 4, scale index l/16 + 6
    # value d * scale * (q - 32)
    blk = np.asarray(b).reshape(-1, 210)
    nb = blk.shape[0]
    ql = blk[:, 0:128].astype(np.int32)
    qh = blk[:, 128:192].astype(np.int32)
    sc = blk[:, 192:208].view(np.int8).astype(np.float32)
    d = _f16(blk[:, 208:210])
    out = np.empty((nb, 256), dtype=np.float32)
    for h in range(2):
        l_lo = ql[:, 64 * h:64 * h + 32]
        l_hi = ql[:, 64 * h + 32:64 * h + 64]
        hb = qh[:, 32 * h:32 * h + 32]
        parts = [
            (l_lo & 0xF) | ((hb & 3) << 4),
            (l_hi & 0xF) | (((hb >> 2) & 3) << 4),
            (l_lo >> 4) | (((hb >> 4) & 3) << 4),
            (l_hi >> 4) | (((hb >> 6) & 3) << 4),
        ]
        for k, qv in enumerate(parts):
            s_idx = 8 * h + 2 * k + (np.arange(32) // 16)  # scale per element
            vals = (qv - 32).astype(np.float32) * sc[:, s_idx] * d[:, None]
            out[:, 128 * h + 32 * k:128 * h + 32 * k + 32] = vals
    return out.reshape(-1)


def _q4k_scale_min(scales, j):
    # 12 bytes pack 8 six-bit scales and 8 six-bit mins.
    if j < 4:
        return scales[:, j] & 63, scales[:, j + 4] & 63
    sc = (scales[:, j + 4] & 0xF) | ((scales[:, j - 4] >> 6) << 4)
    m = (scales[:, j + 4] >> 4) | ((scales[:, j] >> 6) << 4)
    return sc, m


def deq_q4_k(b):
    # 144 bytes: fp16 d, fp16 dmin, scales[12], qs[128]. Four groups of 64 elements; group g
    # reads qs[32g : 32g+32]: low nibbles are sub-block 2g (scale/min index 2g), high
    # nibbles sub-block 2g+1. value d * sc * q - dmin * m
    blk = np.asarray(b).reshape(-1, 144)
    nb = blk.shape[0]
    d = _f16(blk[:, 0:2])
    dmin = _f16(blk[:, 2:4])
    scales = blk[:, 4:16].astype(np.int32)
    qs = blk[:, 16:144].astype(np.int32)
    out = np.empty((nb, 256), dtype=np.float32)
    for g in range(4):
        q = qs[:, 32 * g:32 * g + 32]
        for half, qv in enumerate((q & 0xF, q >> 4)):
            sc, m = _q4k_scale_min(scales, 2 * g + half)
            vals = (d * sc)[:, None] * qv.astype(np.float32) - (dmin * m)[:, None]
            out[:, 64 * g + 32 * half:64 * g + 32 * half + 32] = vals
    return out.reshape(-1)


DEQUANT = {
    "f32": deq_f32, "f16": deq_f16, "bf16": deq_bf16, "q8_0": deq_q8_0, "q4_0": deq_q4_0,
    "q6_K": deq_q6_k, "q4_K": deq_q4_k,
}


def dequantize(tensor, rows=None):
    """Float32 values of a GGUF tensor as [n_rows, ne0] (vectors: [1, ne0]).

    rows: optional list of row indices to decode (e.g. embedding lookups)."""
    name = tensor.type_name
    if name not in DEQUANT:
        raise ValueError(f"tensor {tensor.name}: type {name} not supported by the reference")
    ne0 = tensor.ne[0]
    n_rows = tensor.n_elements() // ne0
    row_bytes = tensor.n_bytes() // n_rows
    data = np.asarray(tensor.data).reshape(n_rows, row_bytes)
    if rows is not None:
        data = data[np.asarray(rows, dtype=np.int64)]
    flat = DEQUANT[name](np.ascontiguousarray(data).reshape(-1))
    return flat.reshape(-1, ne0)


def quantize_act_q8_0(x):
    """The engine's activation quantisation before integer-dot matmuls (Q4_0, Q8_0, Q2_0,
    Q4_K, Q6_K weights; engine/kernels/act_q8.h), ggml's quantize_row_q8_0 as its SIMD paths
    compute it.

    Per block of 32 values along the last axis: amax = max|x|, d = amax / 127 (float32),
    inv = 1 / d (0 if d == 0), q = round-half-to-even(x * inv) in [-127, 127] (float32
    products; half-even is what the SIMD float->int conversions do, and the engine uses it
    in every kernel set), and the block's scale is stored as fp16(d), so the value used in
    the dot product is q * fp16(d) (the float32 d if fp16 overflows). Returns float32
    values of the same shape."""
    x = np.asarray(x, dtype=np.float32)
    shape = x.shape
    blk = x.reshape(-1, 32)
    amax = np.max(np.abs(blk), axis=1)
    d = (amax / np.float32(127.0)).astype(np.float32)
    inv = np.zeros_like(d)
    nz = d != 0
    inv[nz] = np.float32(1.0) / d[nz]
    scaled = np.clip(blk * inv[:, None], np.float32(-127.0), np.float32(127.0))
    q = np.rint(scaled).astype(np.float32)  # half to even
    with np.errstate(over="ignore"):
        d16 = d.astype(np.float16).astype(np.float32)
    d16 = np.where(np.isinf(d16), d, d16)
    return (q * d16[:, None]).astype(np.float32).reshape(shape)


# -- Google's mobile schema (wNa8o8) as gemmad stores it (docs/FORMATS.md) --------------------
SCALED_CODE_BITS = {"gq2": 2, "gq4": 4, "gq8": 8}


def decode_codes(type_name, data):
    """Signed code values of packed rows [n_rows, row_bytes] -> int32 [n_rows, n_in].
    gq4: two codes per byte, low nibble first, value = nibble - 8; gq2: four per byte, least
    significant bits first, value = 2-bit code - 2; gq8: int8 as is."""
    data = np.asarray(data, dtype=np.uint8)
    bits = SCALED_CODE_BITS[type_name]
    if bits == 8:
        return data.view(np.int8).astype(np.int32)
    per = 8 // bits
    shifts = np.arange(per, dtype=np.uint8) * bits
    codes = (data[..., None] >> shifts) & ((1 << bits) - 1)
    return codes.reshape(data.shape[0], -1).astype(np.int32) - (1 << (bits - 1))


def dequantize_scaled(tensor, scale_tensor, rows=None):
    """Float32 [n_rows, ne0] of a scaled-code tensor: value * the scale of its row's group
    (scale tensor f32 {n_groups, n_rows}), computed in float32 as the engine does."""
    ne0, n_rows = tensor.ne[0], tensor.ne[1]
    data = np.asarray(tensor.data).reshape(n_rows, -1)
    scales = np.asarray(scale_tensor.data).view("<f4").reshape(n_rows, -1)
    if rows is not None:
        idx = np.asarray(rows, dtype=np.int64)
        data, scales = data[idx], scales[idx]
    k = decode_codes(tensor.type_name, data).astype(np.float32)
    group = ne0 // scales.shape[1]
    return (k * np.repeat(scales, group, axis=1)).astype(np.float32)


def quantize_act_i8(x, group, static_scale):
    """The a8 rule: activations [.., n] -> float32 values the integer matmul multiplies.
    Static (the layer has an input scale s > 0): q = clamp(round-half-even(x / s), -128, 127),
    value q * s. Dynamic (no scale, or 0 = uncalibrated): per group of `group` values along
    the last axis, d = max|x| / 127 (float32), q = round-half-even(x / d) (0 if d = 0), value
    q * d. Divisions in float32."""
    x = np.asarray(x, dtype=np.float32)
    shape = x.shape
    g = x.reshape(-1, group)
    if static_scale > 0:
        d = np.full((g.shape[0], 1), np.float32(static_scale), dtype=np.float32)
    else:
        d = (np.max(np.abs(g), axis=1, keepdims=True) / np.float32(127.0)).astype(np.float32)
    safe = np.where(d > 0, d, np.float32(1.0))
    q = np.where(d > 0, np.clip(np.rint(g / safe), -128, 127), 0).astype(np.float32)
    return (q * d).astype(np.float32).reshape(shape)


def fake_quant_i8(y, s):
    """The o8 rule on a float output: clamp(round-half-even(y / s), -128, 127) * s."""
    y32 = np.asarray(y, dtype=np.float32)
    return (np.clip(np.rint(y32 / np.float32(s)), -128, 127) * np.float32(s)).astype(np.float64)
