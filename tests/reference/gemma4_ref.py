#!/usr/bin/python3
"""Independent NumPy reference of the Gemma 4 text forward pass (docs/GEMMA4.md §1).

Written from the spec only (own GGUF parser and dequantisation); it shares no code with the
C++ engine, so agreement between the two is evidence that both follow the spec.

Numerics (the contract with engine/kernels/matmul.h and act_q8.h):
  * Matmuls whose weight is Q4_0, Q8_0, Q4_K or Q6_K first quantise each activation row to
    Q8_0 blocks (dequant.quantize_act_q8_0: d = max|x|/127, q = round-half-even(x * (1/d)),
    scale kept as fp16), as the engine's integer dot kernels (and ggml's SIMD paths) do.
    F32, F16 and BF16 weights multiply the float32 activations.
  * All other arithmetic (norms, RoPE, softmax, residuals) and every matmul accumulation is
    done in float64; activations are rounded to float32 at the input of every matmul (so the
    activation quantisation sees the same float32 values the engine would).
  * The KV cache holds float32 values, or, with --kv-type, the values of the engine's KV type
    per layer type (kv_quant.py: f16, q8, q4, static q8 with the file's scales; K after norm
    + RoPE and V after its norm are stored so).

Usage:
  gemma4_ref.py --model M.gguf --ids "2 5 9" --out logits.f32   # float32 [pos][vocab]
  gemma4_ref.py --model M.gguf --ids "2 5 9" --greedy 32         # prints generated ids
"""
import argparse
import math
import sys

import numpy as np

import kv_quant
from dequant import (SCALED_CODE_BITS, dequantize, dequantize_scaled, fake_quant_i8,
                     quantize_act_i8, quantize_act_q8_0)
from gguf_read import GgufFile

ACT_QUANT_TYPES = ("q4_0", "q8_0", "q4_K", "q6_K", "gq2", "gq4", "gq8")
LARGE_WEIGHT = 1 << 24  # elements; bigger matrices are decoded per call, in chunks
NO_ROTATE_FACTOR = 1e20  # rope_freqs divisors >= this mean "pair does not rotate" (§1.4)


def rms_norm(x, w=None, eps=1e-6):
    """§1.2: x * (mean(x^2) + eps)^-1/2 over the last axis, times w (no +1 offset)."""
    x = np.asarray(x, dtype=np.float64)
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y if w is None else y * w


def gelu_tanh(z):
    """§1.3 step 7: 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))."""
    return 0.5 * z * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z ** 3)))


def rope_neox(x, positions, base, n_rot, freq_factors=None):
    """§1.4: rotate element j with j + n_rot/2 (rotate-half pairing) by angle
    pos * base^(-2j/n_rot) / factor[j]; pairs whose factor is >= 1e20 stay unchanged.
    x: [n_tok, n_head, hd]; dims >= n_rot pass through."""
    half = n_rot // 2
    j = np.arange(half, dtype=np.float64)
    inv = base ** (-2.0 * j / n_rot)
    keep = np.ones(half, dtype=bool)
    if freq_factors is not None:
        ff = np.asarray(freq_factors, dtype=np.float64)
        keep = ff < NO_ROTATE_FACTOR
        inv = np.where(keep, inv / np.where(keep, ff, 1.0), 0.0)
    ang = np.asarray(positions, dtype=np.float64)[:, None] * inv[None, :]  # [n_tok, half]
    cos = np.where(keep, np.cos(ang), 1.0)[:, None, :]
    sin = np.where(keep, np.sin(ang), 0.0)[:, None, :]
    out = np.array(x, dtype=np.float64, copy=True)
    a = x[..., :half]
    b = x[..., half:n_rot]
    out[..., :half] = a * cos - b * sin
    out[..., half:n_rot] = b * cos + a * sin
    return out


def softcap(z, cap):
    return z if cap <= 0 else cap * np.tanh(z / cap)


class Config:
    """Hyperparameters from the §3.2 keys."""

    def __init__(self, f):
        kv = f.kv
        if kv.get("general.architecture") != "gemma4":
            raise ValueError("general.architecture is not gemma4")
        a = "gemma4."
        self.n_embd = int(kv[a + "embedding_length"])
        self.n_layer = L = int(kv[a + "block_count"])
        self.n_head = int(kv[a + "attention.head_count"])
        hkv = kv[a + "attention.head_count_kv"]
        self.n_head_kv = int(hkv[0] if isinstance(hkv, list) else hkv)
        self.hd_full = int(kv[a + "attention.key_length"])
        self.hd_swa = int(kv[a + "attention.key_length_swa"])
        self.eps = float(kv[a + "attention.layer_norm_rms_epsilon"])
        self.window = int(kv[a + "attention.sliding_window"])
        self.is_swa = [bool(v) for v in kv[a + "attention.sliding_window_pattern"]]
        self.n_shared = int(kv.get(a + "attention.shared_kv_layers", 0))
        self.p = int(kv[a + "embedding_length_per_layer_input"])
        self.base_full = float(kv.get(a + "rope.freq_base", 1e6))
        self.base_swa = float(kv.get(a + "rope.freq_base_swa", 1e4))
        self.n_rot_full = int(kv.get(a + "rope.dimension_count", self.hd_full))
        self.n_rot_swa = int(kv.get(a + "rope.dimension_count_swa", self.hd_swa))
        self.softcap = float(kv.get(a + "final_logit_softcapping", 30.0))
        ff = kv[a + "feed_forward_length"]
        self.n_ff = list(ff) if isinstance(ff, list) else [int(ff)] * L
        self.f0 = L - self.n_shared

    def head_dim(self, il):
        return self.hd_swa if self.is_swa[il] else self.hd_full

    def kv_source(self, il):
        """§1.6: a KV-shared layer reads the last layer before F0 of the same type."""
        if il < self.f0:
            return il
        for j in range(self.f0 - 1, -1, -1):
            if self.is_swa[j] == self.is_swa[il]:
                return j
        raise ValueError(f"layer {il} has no KV source")


class Gemma4Ref:
    def __init__(self, path, kv_type="f32", round_inputs=True, accum="f64"):
        """round_inputs=False keeps matmul inputs in float64 (tests of the math alone).
        accum="f32" does the matmuls in float32 instead of float64: an emulation of a float32
        engine, used only to size the comparison tolerances (compare.py)."""
        self.f = GgufFile(path)
        self.c = Config(self.f)
        self.kv_type = kv_type
        self.kv_sliding, self.kv_full = kv_quant.parse_preset(kv_type)
        kv = self.f.kv
        self.k_scales = kv.get("gemma4.attention.k_cache_scale") or [0.0] * self.c.n_layer
        self.v_scales = kv.get("gemma4.attention.v_cache_scale") or [0.0] * self.c.n_layer
        self.round_inputs = round_inputs
        self.accum = accum
        self.tap = None  # optional callable(name, layer, values [n_rows, n_cols]); layer -1 = global
        self._w = {}
        te = self.f.tensors["token_embd.weight"]
        self.n_vocab = te.ne[1]
        rf = self.f.tensors.get("rope_freqs.weight")
        self.rope_factors = None if rf is None else dequantize(rf).reshape(-1)
        self.reset()

    def reset(self):
        self.k_cache = {}
        self.v_cache = {}
        self.n_past = 0

    # -- weights -----------------------------------------------------------------------------
    def weight(self, name):
        """Float32 values of a vector tensor, or [n_out, n_in] of a small matrix, decoded
        once and kept."""
        if name not in self._w:
            t = self.f.tensors[name]
            m = self._dequantize(name)
            self._w[name] = m.reshape(-1) if len(t.ne) == 1 else m
        return self._w[name]

    def _dequantize(self, name, rows=None):
        t = self.f.tensors[name]
        if t.type_name in SCALED_CODE_BITS:
            return dequantize_scaled(t, self.f.tensors[name + "_scale"], rows)
        return dequantize(t, rows=rows)

    def _scalar(self, name):
        t = self.f.tensors.get(name)
        return 0.0 if t is None else float(dequantize(t).reshape(-1)[0])

    def linear(self, name, x, scales=None):
        """y = W x for each row of x [n, n_in] -> [n, n_out] (float64). Matrices larger than
        LARGE_WEIGHT elements are decoded in row chunks on every call instead of kept, so
        that E2B-sized files fit in memory (slowly). Scaled-code weights (the mobile schema)
        follow the a8/o8 rules of dequant.quantize_act_i8 / fake_quant_i8 with the static
        scales `<scales>.input_act_scale` / `.output_act_scale` (scales defaults to the
        weight's name without ".weight")."""
        t = self.f.tensors[name]
        if t.type_name in SCALED_CODE_BITS:
            base = scales or name[: -len(".weight")]
            group = t.ne[0] // self.f.tensors[name + "_scale"].ne[0]
            xq = quantize_act_i8(x, group, self._scalar(base + ".input_act_scale"))
            y = np.asarray(xq, dtype=np.float64) @ self.weight(name).astype(np.float64).T
            s_out = self._scalar(base + ".output_act_scale")
            return fake_quant_i8(y, s_out) if s_out > 0 else y
        if t.type_name in ACT_QUANT_TYPES:
            x = quantize_act_q8_0(np.asarray(x, dtype=np.float32))
        elif self.round_inputs:
            x = np.asarray(x, dtype=np.float32)
        if self.accum == "f32":
            w = self.weight(name) if t.n_elements() <= LARGE_WEIGHT else dequantize(t)
            return (np.asarray(x, dtype=np.float32) @ w.T).astype(np.float64)
        x = np.asarray(x, dtype=np.float64)
        if t.n_elements() <= LARGE_WEIGHT:
            return x @ self.weight(name).astype(np.float64).T
        n_out = t.ne[1]
        chunk = max(1, LARGE_WEIGHT // t.ne[0])
        parts = []
        for r0 in range(0, n_out, chunk):
            w = dequantize(t, rows=range(r0, min(n_out, r0 + chunk)))
            parts.append(x @ w.astype(np.float64).T)
        return np.concatenate(parts, axis=1)

    def _tap(self, name, layer, x):
        """Reports a named intermediate (same names as the engine's runtime/tap.h). The tap
        may return replacement values ("teacher forcing": tap_diff.py --forced feeds the
        engine's values back in, so each op is checked on identical inputs)."""
        if self.tap is None:
            return x
        x = np.asarray(x)
        r = self.tap(name, layer, x.reshape(x.shape[0], -1))
        return x if r is None else np.asarray(r, dtype=np.float64).reshape(x.shape)

    def embed_rows(self, name, ids):
        return self._dequantize(name, rows=ids).astype(np.float64)

    # -- forward -------------------------------------------------------------------------------
    def forward(self, ids, embeddings=None):
        """Runs tokens `ids` at positions n_past.. (one batch); returns float32 logits
        [len(ids), n_vocab] and appends to the KV cache (§1.7). `embeddings` maps a row index
        to a [d] input vector (an image/audio soft token, docs/GEMMA4.md §1.9): that row's
        embedding is the vector unscaled and its PLE token part is row 0."""
        c = self.c
        ids = [int(t) for t in ids]
        embeddings = embeddings or {}
        n = len(ids)
        pos = np.arange(self.n_past, self.n_past + n)
        d, L, p = c.n_embd, c.n_layer, c.p
        # §1.3 step 1: x = token_embd[t] * sqrt(d) (sqrt computed in float32, as llama.cpp)
        x = self.embed_rows("token_embd.weight", ids) * (float(np.sqrt(np.float32(d))) if self.round_inputs else math.sqrt(d))
        for r, vec in embeddings.items():
            x[r] = np.asarray(vec, dtype=np.float64)
        x = self._tap("inp_embd", -1, x)
        ple = None
        if p > 0:
            # steps 2-4: PLE token part, context part, combine
            ple_ids = [0 if r in embeddings else t for r, t in enumerate(ids)]
            e = self.embed_rows("per_layer_token_embd.weight", ple_ids) * math.sqrt(p)
            e = self._tap("ple_tok", -1, e)
            cp = self.linear("per_layer_model_proj.weight", x) * (1.0 / math.sqrt(d))
            cp = self._tap("ple_proj", -1, cp)
            cp = rms_norm(cp.reshape(n, L, p), self.weight("per_layer_proj_norm.weight"), c.eps)
            cp = self._tap("ple_proj_norm", -1, cp)
            ple = (cp + e.reshape(n, L, p)) * (2.0 ** -0.5)
            ple = self._tap("ple_inp", -1, ple)
        h = x
        for il in range(L):
            h = self.layer(il, h, pos, None if ple is None else ple[:, il, :])
        y = rms_norm(h, self.weight("output_norm.weight"), c.eps)
        y = self._tap("result_norm", -1, y)
        lm = "output.weight" if "output.weight" in self.f.tensors else "token_embd.weight"
        z = softcap(self.linear(lm, y, scales="output"), c.softcap)
        z = self._tap("result_output", -1, z)
        self.n_past += n
        return z.astype(np.float32)

    def layer(self, il, h, pos, ple_i):
        c = self.c
        b = f"blk.{il}."
        n = h.shape[0]
        hd = c.head_dim(il)
        H, Hkv = c.n_head, c.n_head_kv
        swa = c.is_swa[il]
        base = c.base_swa if swa else c.base_full
        n_rot = c.n_rot_swa if swa else c.n_rot_full
        factors = None if swa else self.rope_factors
        # step 5.1-5.2
        a = rms_norm(h, self.weight(b + "attn_norm.weight"), c.eps)
        a = self._tap("attn_norm", il, a)
        q = self.linear(b + "attn_q.weight", a).reshape(n, H, hd)
        q = self._tap("q", il, q)
        q = rms_norm(q, self.weight(b + "attn_q_norm.weight"), c.eps)
        q = self._tap("q_norm", il, q)
        q = rope_neox(q, pos, base, n_rot, factors)
        q = self._tap("q_rope", il, q)
        # step 5.3: own K/V, or the source layer's cache (§1.6); shared-layer K/V tensors,
        # if present in the file, are never read.
        if il < c.f0:
            k = self.linear(b + "attn_k.weight", a).reshape(n, Hkv, hd)
            vname = b + "attn_v.weight"
            v = self.linear(vname, a).reshape(n, Hkv, hd) if vname in self.f.tensors else k
            k = self._tap("k", il, k)
            v = self._tap("v", il, v)
            k = rms_norm(k, self.weight(b + "attn_k_norm.weight"), c.eps)
            k = self._tap("k_norm", il, k)
            k = rope_neox(k, pos, base, n_rot, factors)
            k = self._tap("k_rope", il, k)
            v = rms_norm(v, None, c.eps)
            v = self._tap("v_norm", il, v)
            if self.kv_type != "f32":
                t = self.kv_sliding if swa else self.kv_full
                both = self.k_scales[il] > 0 and self.v_scales[il] > 0  # static q8 needs both
                k = kv_quant.store(k, t, self.k_scales[il] if both else 0.0)
                v = kv_quant.store(v, t, self.v_scales[il] if both else 0.0)
            if il in self.k_cache:
                self.k_cache[il] = np.concatenate([self.k_cache[il], k])
                self.v_cache[il] = np.concatenate([self.v_cache[il], v])
            else:
                self.k_cache[il], self.v_cache[il] = k, v
        src = c.kv_source(il)
        K, V = self.k_cache[src], self.v_cache[src]  # [T, Hkv, hd]
        T = K.shape[0]
        # step 5.4: scale 1.0, causal (+ sliding window i - W < j <= i) mask, fp softmax
        group = H // Hkv
        kh = np.repeat(K, group, axis=1)  # [T, H, hd]: query head j uses KV head j // group
        vh = np.repeat(V, group, axis=1)
        scores = np.einsum("nhd,thd->nht", q, kh)
        kpos = np.arange(T)
        visible = kpos[None, :] <= pos[:, None]
        if swa:
            visible &= kpos[None, :] > pos[:, None] - c.window
        scores = np.where(visible[:, None, :], scores, -np.inf)
        scores -= scores.max(axis=-1, keepdims=True)
        pr = np.exp(scores)
        pr /= pr.sum(axis=-1, keepdims=True)
        att = np.einsum("nht,thd->nhd", pr, vh).reshape(n, H * hd)
        att = self._tap("kqv_out", il, att)
        # steps 5.5-5.6
        o = self.linear(b + "attn_output.weight", att)
        o = self._tap("attn_out", il, o)
        o = rms_norm(o, self.weight(b + "post_attention_norm.weight"), c.eps)
        o = self._tap("attn_post_norm", il, o)
        h = h + o
        h = self._tap("attn_resid", il, h)
        # steps 5.7-5.8
        f = rms_norm(h, self.weight(b + "ffn_norm.weight"), c.eps)
        f = self._tap("ffn_norm", il, f)
        g = self.linear(b + "ffn_gate.weight", f)
        g = self._tap("ffn_gate", il, g)
        u = self.linear(b + "ffn_up.weight", f)
        u = self._tap("ffn_up", il, u)
        gu = gelu_tanh(g) * u
        gu = self._tap("ffn_geglu", il, gu)
        f = self.linear(b + "ffn_down.weight", gu)
        f = self._tap("ffn_out", il, f)
        f = rms_norm(f, self.weight(b + "post_ffw_norm.weight"), c.eps)
        f = self._tap("ffn_post_norm", il, f)
        h = h + f
        h = self._tap("ffn_resid", il, h)
        # step 5.9: PLE injection
        if ple_i is not None:
            gp = gelu_tanh(self.linear(b + "inp_gate.weight", h)) * ple_i
            gp = self._tap("ple_gate", il, gp)
            up = self.linear(b + "proj.weight", gp)
            up = self._tap("ple_proj_out", il, up)
            up = rms_norm(up, self.weight(b + "post_norm.weight"), c.eps)
            up = self._tap("ple_post_norm", il, up)
            h = h + up
            h = self._tap("ple_resid", il, h)
        # step 5.10: layer scalar (optional tensor; default 1.0)
        sname = b + "layer_output_scale.weight"
        if sname in self.f.tensors:
            h = h * float(self.weight(sname)[0])
        h = self._tap("l_out", il, h)
        return h


def logits_for(model, ids, mode):
    """Logits of every position: one batch, or one token at a time ("step")."""
    model.reset()
    if mode == "batch":
        return model.forward(ids)
    return np.concatenate([model.forward([t]) for t in ids])


def greedy(model, ids, n):
    """Extends ids by n argmax tokens (ties -> lowest id); prompt as one batch."""
    model.reset()
    z = model.forward(ids)
    out = []
    for _ in range(n):
        t = int(np.argmax(z[-1]))
        out.append(t)
        z = model.forward([t])
    return out


def parse_ids(s):
    return [int(t) for t in s.replace(",", " ").split()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True, help='token ids, e.g. "2 5 9"')
    ap.add_argument("--out", help="write float32 logits [positions][vocab] here")
    ap.add_argument("--mode", choices=["batch", "step"], default="batch")
    ap.add_argument("--kv-type", default="f32", help="f32, f16, q8, q4, mobile, sliding:T,full:T")
    ap.add_argument("--greedy", type=int, default=0, help="generate N tokens greedily")
    ap.add_argument("--accum", choices=["f64", "f32"], default="f64",
                    help="matmul accumulation (f32 only to emulate a float32 engine)")
    args = ap.parse_args(argv)
    model = Gemma4Ref(args.model, kv_type=args.kv_type, accum=args.accum)
    ids = parse_ids(args.ids)
    if not ids:
        ap.error("--ids is empty")
    bad = [t for t in ids if t < 0 or t >= model.n_vocab]
    if bad:
        ap.error(f"token id {bad[0]} outside [0, {model.n_vocab})")
    if args.out:
        logits_for(model, ids, args.mode).tofile(args.out)
    if args.greedy:
        print(" ".join(str(t) for t in greedy(model, ids, args.greedy)))
    if not args.out and not args.greedy:
        ap.error("nothing to do: give --out and/or --greedy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
