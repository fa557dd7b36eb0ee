"""The KV cache quantisation rule of gemmad, written from its description (docs/KV_CACHE.md
"KV cache element types"), for the NumPy reference.

The engine computes K and V in float32, so the rule runs on float32 values, in float32:
  * q8 / q4 (dynamic), per block of 32 consecutive elements of one position's row (a head's
    elements are whole blocks): amax = max |x|; d = fp16(amax / qmax) with qmax 127 or 7;
    inv = 1 / d (0 if d is 0); q = round_half_even(clip(x * inv, -qmax, qmax)); value d * q.
  * q8 static (a layer with calibrated k/v scales s from the file, both non-zero):
    q = round_half_even(clip(x / s, -127, 127)); value s * q (the product in float32).
  * f16: fp16(x); f32: x.
Presets name a type per layer type: f16 | f32 | q8 | q4 | mobile (= sliding q8, full q4) |
"sliding:T,full:T".
"""
import numpy as np

TYPES = ("f16", "f32", "q8", "q4")


def parse_preset(preset):
    """-> (sliding type, full type); ValueError naming the preset if it is not one."""
    if preset in TYPES:
        return preset, preset
    if preset == "mobile":
        return "q8", "q4"
    parts = dict(p.split(":", 1) for p in preset.split(",") if ":" in p)
    if set(parts) != {"sliding", "full"} or len(preset.split(",")) != 2 or \
            not all(t in TYPES for t in parts.values()):
        raise ValueError(f"KV type '{preset}' is not a preset")
    return parts["sliding"], parts["full"]


def _blocks(x32):
    flat = x32.reshape(-1, 32)
    return flat


def quantize_dynamic(x, qmax):
    """x: float array whose last dimension is a multiple of 32 -> the stored values (float64)."""
    x32 = np.asarray(x, dtype=np.float32)
    b = _blocks(x32)
    amax = np.abs(b).max(axis=1)
    d = (amax / np.float32(qmax)).astype(np.float16).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d > 0, np.float32(1.0) / d, np.float32(0.0)).astype(np.float32)
    q = np.rint(np.clip(b * inv[:, None], -qmax, qmax)).astype(np.float32)
    return (q * d[:, None]).astype(np.float64).reshape(x32.shape)


def quantize_static(x, s):
    x32 = np.asarray(x, dtype=np.float32)
    s32 = np.float32(s)
    q = np.rint(np.clip(x32 / s32, -127, 127)).astype(np.float32)
    return (q * s32).astype(np.float64)


def store(x, kv_type, static_scale=0.0):
    """The values a cache of kv_type holds for x (K after norm + RoPE, or V after its norm)."""
    if kv_type == "f32":
        return np.asarray(x, dtype=np.float32).astype(np.float64)
    if kv_type == "f16":
        return np.asarray(x, dtype=np.float32).astype(np.float16).astype(np.float64)
    if kv_type == "q8":
        return quantize_static(x, static_scale) if static_scale > 0 else quantize_dynamic(x, 127)
    if kv_type == "q4":
        return quantize_dynamic(x, 7)
    raise ValueError(kv_type)
