#!/usr/bin/python3
"""NumPy reference of the Gemma 4 vision encoder and its preprocessing, written from
docs/ENCODERS.md §2 alone (its own GGUF reading through gguf_read/dequant; nothing shared with
the C++ engine). float64 throughout; matmul inputs rounded to float32 as the engine feeds them,
Q8_0 weights see Q8_0-quantised activations (README.md's numerics contract).

    vision_ref.py --mmproj M.gguf --image IMG.rgb --width W --height H [--budget T] --out E.f32
writes the soft tokens as float32 [n_tokens][d].
"""
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dequant import dequantize, quantize_act_q8_0  # noqa: E402
from gguf_read import GgufFile  # noqa: E402
from gemma4_ref import gelu_tanh, rms_norm  # noqa: E402

ACT_QUANT_TYPES = {"q8_0", "q4_0", "q4_K", "q6_K"}
LINEARS = ["attn_q", "attn_k", "attn_v", "attn_out", "ffn_gate", "ffn_up", "ffn_down"]


# -- preprocessing (§2.2) --------------------------------------------------------------------
def target_size(width, height, budget):
    """Aspect-preserving size filling `budget` soft tokens, sides multiples of 48."""
    if not 70 <= budget <= 1120:
        raise ValueError(f"budget {budget} outside [70, 1120]")
    max_patches = 9.0 * budget
    f = math.sqrt(max_patches * 256.0 / (float(height) * width))
    h = int(math.floor(f * height / 48)) * 48
    w = int(math.floor(f * width / 48)) * 48
    if h == 0 and w == 0:
        raise ValueError("image resizes to nothing")
    if h == 0:
        h, w = 48, min((width // height) * 48, budget * 48)
    elif w == 0:
        w, h = 48, min((height // width) * 48, budget * 48)
    return w, h


def keys_cubic(x, a=-0.5):
    x = np.abs(x)
    return np.where(x < 1, (a + 2) * x**3 - (a + 3) * x**2 + 1,
                    np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0))


def resize_matrix(n_in, n_out):
    """[n_out][n_in] weights of the antialiased bicubic: the kernel is stretched by the
    downscale factor, taps span center ± support (rounded as PIL does), weights normalised."""
    scale = n_in / n_out
    fs = max(scale, 1.0)
    support = 2.0 * fs
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = (i + 0.5) * scale
        lo = max(0, int(math.floor(center - support + 0.5)))
        hi = min(n_in, int(math.floor(center + support + 0.5)))
        j = np.arange(lo, hi)
        w = keys_cubic((j - center + 0.5) / fs)
        m[i, lo:hi] = w / w.sum()
    return m


def preprocess(rgb, width, height, budget):
    """uint8 [H][W][3] -> float [H'][W'][3] in [0, 1]; horizontal pass, clamp, vertical, clamp."""
    w2, h2 = target_size(width, height, budget)
    img = rgb.astype(np.float64)
    if (w2, h2) != (width, height):
        img = np.einsum("xw,hwc->hxc", resize_matrix(width, w2), img)
        img = np.clip(img, 0, 255)
        img = np.einsum("yh,hxc->yxc", resize_matrix(height, h2), img)
        img = np.clip(img, 0, 255)
    return img / 255.0


# -- encoder (§2.3-§2.5) ---------------------------------------------------------------------
class VisionRef:
    def __init__(self, path):
        self.f = GgufFile(path)
        kv = self.f.kv
        assert kv["general.type"] == "mmproj"
        self.E = kv["clip.vision.embedding_length"]
        self.H = kv["clip.vision.attention.head_count"]
        self.L = kv["clip.vision.block_count"]
        self.eps = kv.get("clip.vision.attention.layer_norm_epsilon", 1e-6)
        self.hd = self.E // self.H
        self._w = {}

    def t(self, name):
        if name not in self._w:
            t = self.f.tensors.get(name)
            self._w[name] = None if t is None else dequantize(t).astype(np.float64)
        return self._w[name]

    def vec(self, name):
        return self.t(name).reshape(-1)

    def linear(self, name, x):
        t = self.f.tensors[name]
        n_out = t.ne[-1]
        w = self.t(name).reshape(n_out, -1)
        if t.type_name in ACT_QUANT_TYPES:
            x = quantize_act_q8_0(np.asarray(x, dtype=np.float32))
        return np.asarray(x, dtype=np.float32).astype(np.float64) @ w.T

    def clipped(self, base, x):
        """§1: clamp(W clamp(x, in_min, in_max), out_min, out_max); a missing bound = inf."""
        def bound(s, default):
            v = self.t(f"{base}.{s}")
            return default if v is None else float(v.reshape(-1)[0])
        x = np.clip(x, bound("input_min", -np.inf), bound("input_max", np.inf))
        y = self.linear(base + ".weight", x)
        return np.clip(y, bound("output_min", -np.inf), bound("output_max", np.inf))

    def rope2d(self, x, px, py):
        """x [n][H][hd]: first half by px, second by py; NEOX pairs (j, j + hd/4) in a half,
        angle pos * 100^(-j / (hd/4))."""
        q = self.hd // 4
        inv = 100.0 ** (-np.arange(q) / q)
        out = x.copy()
        for half, pos in ((0, px), (1, py)):
            ang = pos[:, None] * inv[None, :]
            c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
            o = half * 2 * q
            x0, x1 = x[:, :, o:o + q], x[:, :, o + q:o + 2 * q]
            out[:, :, o:o + q] = x0 * c - x1 * s
            out[:, :, o + q:o + 2 * q] = x0 * s + x1 * c
        return out

    def encode(self, pix):
        """pix [H'][W'][3] in [0, 1] -> soft tokens [N][d]."""
        hp, wp = pix.shape[0] // 16, pix.shape[1] // 16
        n = hp * wp
        # patches in (py, px, c) order as HF defines them; the GGUF kernel {16,16,3,E} is that
        # linear reshaped to (out, c, py, px), so reorder the kernel, not the image.
        patches = pix.reshape(hp, 16, wp, 16, 3).transpose(0, 2, 1, 3, 4).reshape(n, 768)
        k = self.t("v.patch_embd.weight").reshape(self.E, 3, 16, 16)  # [out][c][py][px]
        w_hf = k.transpose(0, 2, 3, 1).reshape(self.E, 768)            # [out][(py, px, c)]
        x = np.asarray(2.0 * patches - 1.0, dtype=np.float32).astype(np.float64) @ w_hf.T
        px = np.tile(np.arange(wp), hp)
        py = np.repeat(np.arange(hp), wp)
        table = self.t("v.position_embd.weight").reshape(2, -1, self.E)
        h = x + table[0][px] + table[1][py]
        E, H, hd, eps = self.E, self.H, self.hd, self.eps
        for il in range(self.L):
            b = f"v.blk.{il}."
            a = rms_norm(h, self.vec(b + "ln1.weight"), eps)
            q = rms_norm(self.clipped(b + "attn_q", a).reshape(n, H, hd), self.vec(b + "attn_q_norm.weight"), eps)
            k_ = rms_norm(self.clipped(b + "attn_k", a).reshape(n, H, hd), self.vec(b + "attn_k_norm.weight"), eps)
            v = rms_norm(self.clipped(b + "attn_v", a).reshape(n, H, hd), None, eps)
            q, k_ = self.rope2d(q, px, py), self.rope2d(k_, px, py)
            s = np.einsum("thd,shd->hts", q, k_)            # scale 1.0, bidirectional
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            o = np.einsum("hts,shd->thd", s, v).reshape(n, E)
            o = rms_norm(self.clipped(b + "attn_out", o), self.vec(b + "attn_post_norm.weight"), eps)
            h = h + o
            f = rms_norm(h, self.vec(b + "ln2.weight"), eps)
            g = gelu_tanh(self.clipped(b + "ffn_gate", f)) * self.clipped(b + "ffn_up", f)
            h = h + rms_norm(self.clipped(b + "ffn_down", g), self.vec(b + "ffn_post_norm.weight"), eps)
        # §2.5: 3x3 average pooling (row-major pooled grid), x sqrt(E), weightless RMSNorm,
        # projection.
        grid = h.reshape(hp // 3, 3, wp // 3, 3, E).mean(axis=(1, 3)).reshape(-1, E)
        t = rms_norm(grid * math.sqrt(E), None, eps)
        return self.linear("mm.input_projection.weight", t)


def test_image(width, height, seed):
    """A deterministic RGB8 image with smooth gradients, edges and noise (resampling sees
    every kind of content)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    r = 127.5 + 127.5 * np.sin(x / 7.0 + y / 13.0)
    g = np.where((x // 9 + y // 11) % 2 == 0, 230.0, 25.0)
    b = 255.0 * x / max(1, width - 1)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (height, width, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mmproj", required=True)
    ap.add_argument("--image", required=True, help="raw RGB8 file")
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--height", type=int, required=True)
    ap.add_argument("--budget", type=int, default=280)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    rgb = np.fromfile(a.image, dtype=np.uint8).reshape(a.height, a.width, 3)
    e = VisionRef(a.mmproj).encode(preprocess(rgb, a.width, a.height, a.budget))
    e.astype(np.float32).tofile(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
