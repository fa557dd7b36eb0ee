#!/usr/bin/python3
"""NumPy reference of the Gemma 4 audio encoder (docs/ENCODERS.md §3).

Written from the spec alone: log-mel features (float64 FFT via numpy), the subsampling
convolutions as shifted slices, the conformer with full [T, T] attention under a band mask
(the engine uses a windowed loop), the output projection and embedder. Shares no code with
the C++ engine; reads the mmproj with this directory's own GGUF reader.

Numerics: float64 throughout; each matmul's input is rounded to float32 first (the engine's
activations are float32), and for Q8_0/Q4_0 weights quantised to Q8_0 blocks as the engine's
integer kernels do (dequant.quantize_act_q8_0).

CLI: audio_ref.py features PCM.f32 OUT.f32 | encode MMPROJ PCM.f32 OUT.f32
"""
import sys

import numpy as np

from dequant import dequantize, quantize_act_q8_0
from gguf_read import GgufFile

SAMPLE_RATE = 16000
N_MEL = 128
FRAME = 320
HOP = 160
N_FFT = 512
LOG_FLOOR = 1e-3
CHUNK = 30 * SAMPLE_RATE     # longer audio: independent 30 s chunks, tokens concatenated
WINDOW = 12                  # query t sees keys t-11 .. t
SOFTCAP = 50.0
MASKED = -1e9
EPS = 1e-6
DW_KERNEL = 5


def mel_filterbank():
    """[128, 257]: HTK mel, 130 edges from 0 Hz to 8 kHz, triangles without area norm."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)
    edges_mel = np.linspace(0.0, mel(SAMPLE_RATE / 2), N_MEL + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    f = np.arange(N_FFT // 2 + 1) * (SAMPLE_RATE / N_FFT)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0.0, np.minimum((f - lo) / (mid - lo), (hi - f) / (hi - mid)))


def n_frames(n):
    return 0 if n < FRAME + 1 - HOP else (n + HOP - (FRAME + 1)) // HOP + 1


def log_mel(pcm):
    """[frames, 128] float64 log-mel features of one chunk."""
    pcm = np.asarray(pcm, dtype=np.float64)
    if not np.all(np.isfinite(pcm)):
        raise ValueError("non-finite sample")
    f = n_frames(len(pcm))
    x = np.concatenate([np.zeros(HOP), pcm])
    idx = HOP * np.arange(f)[:, None] + np.arange(FRAME)[None, :]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(FRAME) / FRAME)
    mag = np.abs(np.fft.rfft(x[idx] * window, n=N_FFT, axis=1))
    return np.log(mag @ mel_filterbank().T + LOG_FLOOR)


class AudioRef:
    def __init__(self, path):
        self.f = GgufFile(path)
        kv = self.f.kv
        self.hidden = int(kv["clip.audio.embedding_length"])
        self.n_layer = int(kv["clip.audio.block_count"])
        self.n_head = int(kv["clip.audio.attention.head_count"])
        self.head_dim = self.hidden // self.n_head
        self._w = {}
        self.taps = None  # a list to record (name, layer, chunk, values) in the engine's order

    def tap(self, name, layer, x):
        """The intermediates the engine's tap names (engine/audio/audio_tower.h)."""
        if self.taps is not None:
            self.taps.append((name, layer, self._chunk, np.array(x, dtype=np.float64)))

    def t(self, name):
        """float64 values: vectors flat, matrices [n_out, n_in], 4-D kernels as rows."""
        if name not in self._w:
            t = self.f.tensors[name]
            m = dequantize(t).astype(np.float64)
            self._w[name] = m.reshape(-1) if len(t.ne) == 1 else m
        return self._w[name]

    def has(self, name):
        return name in self.f.tensors

    def linear(self, name, x):
        x32 = np.asarray(x, dtype=np.float32)
        if self.f.tensors[name].type_name in ("q8_0", "q4_0"):
            x32 = quantize_act_q8_0(x32)
        return x32.astype(np.float64) @ self.t(name).T

    def clipped(self, base, x):
        def bound(suffix, default):
            n = base + "." + suffix
            return float(self.t(n)[0]) if self.has(n) else default
        x = np.clip(x, bound("input_min", -np.inf), bound("input_max", np.inf))
        y = self.linear(base + ".weight", x)
        return np.clip(y, bound("output_min", -np.inf), bound("output_max", np.inf))

    @staticmethod
    def rms(x, w=None):
        y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + EPS)
        return y if w is None else y * w

    def conv_ln_relu(self, x, name):
        """x [T, F, Cin] -> Conv2d 3x3 stride 2 pad 1 -> LayerNorm over channels -> ReLU."""
        t_in, f_in, c_in = x.shape
        k = self.t(name + ".weight")                       # rows (out, in, time), cols freq
        c_out = k.shape[0] // (3 * c_in)
        k = k.reshape(c_out, c_in, 3, 3)                    # [out][in][kt][kf]
        t_out, f_out = (t_in + 1) // 2, (f_in + 1) // 2
        xp = np.zeros((t_in + 2, f_in + 2, c_in))
        xp[1:-1, 1:-1] = x
        y = np.zeros((t_out, f_out, c_out))
        for kt in range(3):
            for kf in range(3):
                patch = xp[kt:kt + 2 * t_out:2, kf:kf + 2 * f_out:2, :]
                y += patch.astype(np.float32).astype(np.float64) @ k[:, :, kt, kf].T
        y = y - y.mean(axis=-1, keepdims=True)
        y = y / np.sqrt(np.mean(y * y, axis=-1, keepdims=True) + EPS) * self.t(name + ".norm.weight")
        return np.maximum(y, 0.0)

    def attention(self, p, a):
        n, hd, nh = a.shape[0], self.head_dim, self.n_head
        pds = np.tile(self.t(p + "per_dim_scale.weight"), nh)
        q = self.clipped(p + "attn_q", a) * (hd ** -0.5 / np.log(2.0)) * pds
        k = self.clipped(p + "attn_k", a) * (np.log1p(np.e) / np.log(2.0))
        v = self.clipped(p + "attn_v", a)
        half = self.hidden // 2
        g = np.exp(-np.arange(half) * np.log(10000.0) / (half - 1))
        delta = np.arange(WINDOW)[:, None]
        sinus = np.concatenate([np.sin(delta * g), np.cos(delta * g)], axis=1)
        rel = self.linear(p + "attn_k_rel.weight", sinus)  # [12, hidden]
        t_idx = np.arange(n)[:, None]
        s_idx = np.arange(n)[None, :]
        dist = t_idx - s_idx
        visible = (dist >= 0) & (dist < WINDOW)
        o = np.zeros((n, self.hidden))
        for h in range(nh):
            sl = slice(h * hd, (h + 1) * hd)
            content = q[:, sl] @ k[:, sl].T
            bias_all = q[:, sl] @ rel[:, sl].T             # [n, 12]: q_t . R(delta)
            bias = np.take_along_axis(bias_all, np.clip(dist, 0, WINDOW - 1), axis=1)
            logits = SOFTCAP * np.tanh((content + bias) / SOFTCAP)
            logits = np.where(visible, logits, MASKED)
            pr = np.exp(logits - logits.max(axis=1, keepdims=True))
            pr /= pr.sum(axis=1, keepdims=True)
            o[:, sl] = pr @ v[:, sl]
        return self.clipped(p + "attn_out", o)

    def conv_module(self, p, a):
        u = self.clipped(p + "conv_pw1", a)
        h = self.hidden
        u = u[:, :h] / (1.0 + np.exp(-u[:, h:]))           # value * sigmoid(gate)
        w = self.t(p + "conv_dw.weight").reshape(h, DW_KERNEL)
        up = np.concatenate([np.zeros((DW_KERNEL - 1, h)), u])
        y = sum(up[j:j + len(u)] * w[:, j] for j in range(DW_KERNEL))
        y = self.rms(y, self.t(p + "norm_conv.weight"))
        y = y / (1.0 + np.exp(-y))
        return self.clipped(p + "conv_pw2", y)

    def ffn(self, p, suffix, x):
        a = self.rms(x, self.t(p + "ffn_norm" + suffix + ".weight"))
        u = self.clipped(p + "ffn_up" + suffix, a)
        u = u / (1.0 + np.exp(-u))
        y = self.clipped(p + "ffn_down" + suffix, u)
        return 0.5 * self.rms(y, self.t(p + "ffn_post_norm" + suffix + ".weight"))

    def encode_chunk(self, pcm):
        feats = log_mel(pcm)
        self.tap("mel", -1, feats)
        x = self.conv_ln_relu(feats[:, :, None], "a.conv1d.0")
        x = self.conv_ln_relu(x, "a.conv1d.1")
        x = x.reshape(x.shape[0], -1)                      # index f * C + c
        x = self.linear("a.input_projection.weight", x)
        self.tap("sscp", -1, x)
        for il in range(self.n_layer):
            p = f"a.blk.{il}."
            x = x + self.ffn(p, "", x)
            self.tap("ffn1", il, x)
            x = x + self.rms(self.attention(p, self.rms(x, self.t(p + "attn_pre_norm.weight"))),
                             self.t(p + "attn_post_norm.weight"))
            self.tap("attn", il, x)
            x = x + self.conv_module(p, self.rms(x, self.t(p + "conv_norm.weight")))
            self.tap("conv", il, x)
            x = x + self.ffn(p, "_1", x)
            self.tap("ffn2", il, x)
            x = self.rms(x, self.t(p + "ln2.weight"))
            self.tap("layer_out", il, x)
        y = self.linear("a.pre_encode.out.weight", x) + self.t("a.pre_encode.out.bias")
        self.tap("out_proj", -1, y)
        e = self.linear("mm.a.input_projection.weight", self.rms(y))
        self.tap("embd", -1, e)
        return e

    def encode(self, pcm):
        out = []
        self._chunk = 0
        for start in range(0, len(pcm), CHUNK):
            chunk = pcm[start:start + CHUNK]
            if n_frames(len(chunk)) == 0:
                break
            out.append(self.encode_chunk(chunk))
            self._chunk += 1
        return np.concatenate(out)


def main(argv):
    if len(argv) == 4 and argv[1] == "features":
        log_mel(np.fromfile(argv[2], "<f4")).astype("<f4").tofile(argv[3])
    elif len(argv) == 5 and argv[1] == "encode":
        AudioRef(argv[2]).encode(np.fromfile(argv[3], "<f4")).astype("<f4").tofile(argv[4])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
