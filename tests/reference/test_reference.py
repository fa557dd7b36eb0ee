#!/usr/bin/python3
"""Checks of the NumPy reference on hand-made models, against a second, loop-based
implementation of docs/GEMMA4.md §1.3 written in a different style (per token, per head,
complex-number RoPE, explicit window test), and on hand-made quantised blocks."""
import cmath
import math
import os
import struct
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dequant import deq_q4_0, deq_q4_k, deq_q6_k, deq_q8_0, quantize_act_q8_0  # noqa: E402
from gemma4_ref import Config, Gemma4Ref, greedy, logits_for  # noqa: E402
from gguf_read import GgufFile  # noqa: E402
from gguf_write import write_gguf  # noqa: E402


def f16_bytes(x):
    return np.float16(x).tobytes()


class HandModel:
    """A small Gemma 4 model built from a dict of float arrays and written as F32 GGUF."""

    def __init__(self, path, swa, n_shared=0, d=8, H=2, Hkv=1, hd_full=8, hd_swa=4, window=2,
                 p=4, vocab=16, ff=6, seed=0, zero_blocks=False, shared_kv_tensors=False,
                 quarter_rope=True, softcap=30.0):
        rng = np.random.default_rng(seed)
        L = len(swa)
        self.cfg = dict(d=d, H=H, Hkv=Hkv, hd_full=hd_full, hd_swa=hd_swa, window=window, p=p,
                        vocab=vocab, ff=ff, L=L, swa=swa, f0=L - n_shared, softcap=softcap)
        w = {}

        def mat(n_in, n_out, scale=1.0):
            return (rng.standard_normal((n_out, n_in)) * scale / math.sqrt(n_in)).astype(np.float32)

        def vec(n, lo=0.5, hi=1.5):
            return rng.uniform(lo, hi, n).astype(np.float32)

        w["token_embd.weight"] = (rng.standard_normal((vocab, d)) / math.sqrt(d)).astype(np.float32)
        w["per_layer_token_embd.weight"] = (rng.standard_normal((vocab, L * p)) / math.sqrt(p)).astype(np.float32)
        w["per_layer_model_proj.weight"] = mat(d, L * p)
        w["per_layer_proj_norm.weight"] = vec(p)
        w["output_norm.weight"] = vec(d, 1.0, 3.0)
        pairs = hd_full // 2
        rf = np.full(pairs, 1e30, dtype=np.float32)
        rf[: (pairs // 4 if quarter_rope else pairs)] = 1.0
        w["rope_freqs.weight"] = rf
        for il in range(L):
            b = f"blk.{il}."
            hd = hd_swa if swa[il] else hd_full
            w[b + "attn_norm.weight"] = vec(d)
            w[b + "attn_q.weight"] = mat(d, H * hd)
            w[b + "attn_q_norm.weight"] = vec(hd)
            if il < L - n_shared:
                w[b + "attn_k.weight"] = mat(d, Hkv * hd)
                w[b + "attn_k_norm.weight"] = vec(hd)
                w[b + "attn_v.weight"] = mat(d, Hkv * hd)
            elif shared_kv_tensors:  # from their own stream, so other weights stay the same
                extra = np.random.default_rng(seed + 1000 + il)
                w[b + "attn_k.weight"] = extra.standard_normal((Hkv * hd, d)).astype(np.float32)
                w[b + "attn_k_norm.weight"] = extra.uniform(0.5, 1.5, hd).astype(np.float32)
                w[b + "attn_v.weight"] = extra.standard_normal((Hkv * hd, d)).astype(np.float32)
            w[b + "attn_output.weight"] = mat(H * hd, d) * (0 if zero_blocks else 1)
            w[b + "post_attention_norm.weight"] = vec(d)
            w[b + "ffn_norm.weight"] = vec(d)
            w[b + "ffn_gate.weight"] = mat(d, ff)
            w[b + "ffn_up.weight"] = mat(d, ff)
            w[b + "ffn_down.weight"] = mat(ff, d) * (0 if zero_blocks else 1)
            w[b + "post_ffw_norm.weight"] = vec(d)
            w[b + "inp_gate.weight"] = mat(d, p)
            w[b + "proj.weight"] = mat(p, d) * (0 if zero_blocks else 1)
            w[b + "post_norm.weight"] = vec(d)
            w[b + "layer_output_scale.weight"] = vec(1, 0.5, 1.0)
        self.w = w
        kv = {
            "general.architecture": "gemma4",
            "general.alignment": 32,
            "gemma4.embedding_length": d,
            "gemma4.block_count": L,
            "gemma4.feed_forward_length": ff,
            "gemma4.attention.head_count": H,
            "gemma4.attention.head_count_kv": Hkv,
            "gemma4.attention.key_length": hd_full,
            "gemma4.attention.value_length": hd_full,
            "gemma4.attention.key_length_swa": hd_swa,
            "gemma4.attention.value_length_swa": hd_swa,
            "gemma4.attention.layer_norm_rms_epsilon": 1e-6,
            "gemma4.attention.sliding_window": window,
            "gemma4.attention.sliding_window_pattern": list(swa),
            "gemma4.attention.shared_kv_layers": n_shared,
            "gemma4.embedding_length_per_layer_input": p,
            "gemma4.rope.freq_base": 1e6,
            "gemma4.rope.freq_base_swa": 1e4,
            "gemma4.rope.dimension_count": hd_full,
            "gemma4.rope.dimension_count_swa": hd_swa,
            "gemma4.final_logit_softcapping": softcap,
        }
        tensors = []
        for name, arr in w.items():
            ne = list(reversed(arr.shape)) if arr.ndim == 2 else [arr.shape[0]]
            tensors.append((name, ne, "f32", arr))
        write_gguf(path, kv, tensors)

    # -- the second implementation ------------------------------------------------------------
    def slow_logits(self, ids):
        """Token by token, head by head; returns [len(ids), vocab] float64."""
        c, w = self.cfg, self.w
        d, L, p, H, Hkv = c["d"], c["L"], c["p"], c["H"], c["Hkv"]
        eps = 1e-6

        def norm(x, wt=None):
            ms = sum(float(v) * float(v) for v in x) / len(x)
            y = np.array([float(v) / math.sqrt(ms + eps) for v in x])
            return y if wt is None else y * wt.astype(np.float64)

        def mv(name, x):
            return w[name].astype(np.float64) @ np.asarray(x, dtype=np.float64)

        def gelu(z):
            return np.array([0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
                             for v in z])

        def rope(vec_, pos, full):
            hd = len(vec_)
            half = hd // 2
            out = list(vec_)
            base = 1e6 if full else 1e4
            for j in range(half):
                if full and w["rope_freqs.weight"][j] >= 1e20:
                    continue  # the pair does not rotate
                factor = float(w["rope_freqs.weight"][j]) if full else 1.0
                angle = pos * base ** (-2 * j / hd) / factor
                z = complex(vec_[j], vec_[j + half]) * cmath.exp(1j * angle)
                out[j], out[j + half] = z.real, z.imag
            return np.array(out)

        def source(il):
            if il < c["f0"]:
                return il
            return max(j for j in range(c["f0"]) if c["swa"][j] == c["swa"][il])

        cache = {il: [] for il in range(L)}  # list of (k heads, v heads) per position
        rows = []
        for pos, t in enumerate(ids):
            x = w["token_embd.weight"][t].astype(np.float64) * math.sqrt(d)
            e = w["per_layer_token_embd.weight"][t].astype(np.float64) * math.sqrt(p)
            cp = mv("per_layer_model_proj.weight", x) / math.sqrt(d)
            ple = [(norm(cp[i * p:(i + 1) * p], w["per_layer_proj_norm.weight"]) + e[i * p:(i + 1) * p])
                   / math.sqrt(2) for i in range(L)]
            h = x
            for il in range(L):
                b = f"blk.{il}."
                full = not c["swa"][il]
                hd = c["hd_full"] if full else c["hd_swa"]
                a = norm(h, w[b + "attn_norm.weight"])
                qa = mv(b + "attn_q.weight", a)
                qs = [rope(norm(qa[j * hd:(j + 1) * hd], w[b + "attn_q_norm.weight"]), pos, full)
                      for j in range(H)]
                if il < c["f0"]:
                    ka = mv(b + "attn_k.weight", a)
                    va = mv(b + "attn_v.weight", a)
                    ks = [rope(norm(ka[j * hd:(j + 1) * hd], w[b + "attn_k_norm.weight"]), pos, full)
                          for j in range(Hkv)]
                    vs = [norm(va[j * hd:(j + 1) * hd]) for j in range(Hkv)]
                    cache[il].append((ks, vs))
                entries = cache[source(il)]
                heads = []
                for j in range(H):
                    kvh = j // (H // Hkv)
                    vis = [s for s in range(pos + 1) if full or pos - s < c["window"]]
                    sc = [float(np.dot(qs[j], entries[s][0][kvh])) for s in vis]
                    m = max(sc)
                    ex = [math.exp(v - m) for v in sc]
                    tot = sum(ex)
                    heads.append(sum((ex[i] / tot) * entries[s][1][kvh] for i, s in enumerate(vis)))
                o = mv(b + "attn_output.weight", np.concatenate(heads))
                h = h + norm(o, w[b + "post_attention_norm.weight"])
                f = norm(h, w[b + "ffn_norm.weight"])
                f = mv(b + "ffn_down.weight", gelu(mv(b + "ffn_gate.weight", f)) * mv(b + "ffn_up.weight", f))
                h = h + norm(f, w[b + "post_ffw_norm.weight"])
                g = gelu(mv(b + "inp_gate.weight", h)) * ple[il]
                h = h + norm(mv(b + "proj.weight", g), w[b + "post_norm.weight"])
                h = h * float(w[b + "layer_output_scale.weight"][0])
            y = norm(h, w["output_norm.weight"])
            z = w["token_embd.weight"].astype(np.float64) @ y
            rows.append(c["softcap"] * np.tanh(z / c["softcap"]))
        return np.array(rows)


# Tolerance of the exact-math comparisons: both sides compute in float64 (round_inputs=False);
# what remains is the reference's float32 output (|z| <= 30 -> half an ulp <= 1.8e-6) and
# its sqrt(d) taken in float32.


class ReferenceTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    # -- block decoding --------------------------------------------------------------------------
    def test_q4_0_block_decodes_low_nibbles_first(self):
        qs = bytes([(j % 16) | (((15 - j) % 16) << 4) for j in range(16)])
        blk = np.frombuffer(f16_bytes(0.5) + qs, dtype=np.uint8)
        v = deq_q4_0(blk)
        expect = [(j - 8) * 0.5 for j in range(16)] + [((15 - j) - 8) * 0.5 for j in range(16)]
        np.testing.assert_array_equal(v, np.array(expect, dtype=np.float32))

    def test_q8_0_block_is_signed_bytes_times_scale(self):
        q = np.arange(-16, 16, dtype=np.int8)
        blk = np.frombuffer(f16_bytes(0.25) + q.tobytes(), dtype=np.uint8)
        np.testing.assert_array_equal(deq_q8_0(blk), q.astype(np.float32) * 0.25)

    def test_q6_k_block_follows_the_interleaved_layout(self):
        # Element 0: ql[0] low nibble 5, qh[0] bits 0-1 = 2 -> q = 5 | 2<<4 = 37, scale[0].
        # Element 32: ql[32] low 7, qh[0] bits 2-3 = 1 -> 23, scale[2].
        # Element 64: ql[0] high 9, qh[0] bits 4-5 = 3 -> 57, scale[4].
        # Element 96: ql[32] high 1, qh[0] bits 6-7 = 0 -> 1, scale[6].
        # Element 128 + 16: ql[64 + 16] low 3, qh[32 + 16] bits 0-1 = 1 -> 19, scale[8 + 1].
        ql = bytearray(128)
        qh = bytearray(64)
        ql[0] = 5 | (9 << 4)
        ql[32] = 7 | (1 << 4)
        qh[0] = 2 | (1 << 2) | (3 << 4) | (0 << 6)
        ql[80] = 3
        qh[48] = 1
        scales = struct.pack("<16b", *[s - 8 for s in range(16)])
        blk = np.frombuffer(bytes(ql) + bytes(qh) + scales + f16_bytes(2.0), dtype=np.uint8)
        v = deq_q6_k(blk)
        self.assertEqual(v[0], 2.0 * -8 * (37 - 32))
        self.assertEqual(v[32], 2.0 * -6 * (23 - 32))
        self.assertEqual(v[64], 2.0 * -4 * (57 - 32))
        self.assertEqual(v[96], 2.0 * -2 * (1 - 32))
        self.assertEqual(v[144], 2.0 * 1 * (19 - 32))
        self.assertEqual(v[1], 2.0 * -8 * (0 - 32))  # all-zero codes decode to -32

    def test_q4_k_block_uses_packed_six_bit_scales_and_mins(self):
        sc = bytearray(12)
        sc[0] = 3 | (1 << 6)   # scale 0 = 3; its top bits feed scale 4's high bits
        sc[4] = 5              # min 0 = 5
        sc[8] = 2 | (4 << 4)   # scale 4 low = 2, min 4 low = 4
        qs = bytearray(128)
        qs[0] = 7 | (0 << 4)
        qs[64] = 9
        blk = np.frombuffer(f16_bytes(0.5) + f16_bytes(0.25) + bytes(sc) + bytes(qs), dtype=np.uint8)
        v = deq_q4_k(blk)
        self.assertEqual(v[0], 0.5 * 3 * 7 - 0.25 * 5)
        # Element 128 is sub-block 4 (group 2, low nibbles): scale = 2 | (1 << 4) = 18,
        # min = 4 | (0 << 4) = 4 (sc[4]'s top bits are 0).
        self.assertEqual(v[128], 0.5 * 18 * 9 - 0.25 * 4)

    def test_activation_quantisation_rounds_half_to_even_with_an_fp16_scale(self):
        x = np.zeros(32, dtype=np.float32)
        x[0] = 127.0   # amax: d = 1, q = x exactly
        x[1] = 2.5     # ties go to the even neighbour (the engine's and SIMD ggml's rule)
        x[2] = -2.5
        x[3] = 3.5
        x[4] = 0.49
        x[5] = -126.6
        y = quantize_act_q8_0(x)
        self.assertEqual(list(y[:6]), [127.0, 2.0, -2.0, 4.0, 0.0, -127.0])
        z = quantize_act_q8_0(np.zeros(32, dtype=np.float32))
        self.assertTrue(np.all(z == 0))
        # fp16 scale: amax 1 -> d = 1/127, stored as fp16(1/127).
        x = np.linspace(-1, 1, 32).astype(np.float32)
        d16 = float(np.float16(np.float32(1) / np.float32(127)))
        y = quantize_act_q8_0(x)
        self.assertAlmostEqual(float(y[-1]), 127 * d16, places=7)
        self.assertNotEqual(127 * d16, 1.0)  # the fp16 rounding is visible

    # -- forward pass ------------------------------------------------------------------------------
    def test_zero_blocks_leave_the_scaled_embedding(self):
        # With attn_output, ffn_down and proj zero, each layer only multiplies h by its scale.
        hm = HandModel(self.path("z.gguf"), swa=[False], zero_blocks=True)
        ref = Gemma4Ref(self.path("z.gguf"), round_inputs=False)
        z = logits_for(ref, [3, 7], "batch")
        w = hm.w
        for row, t in zip(z, [3, 7]):
            h = w["token_embd.weight"][t].astype(np.float64) * math.sqrt(8) * w["blk.0.layer_output_scale.weight"][0]
            y = h / math.sqrt(np.mean(h * h) + 1e-6) * w["output_norm.weight"]
            expect = 30 * np.tanh(w["token_embd.weight"].astype(np.float64) @ y / 30)
            np.testing.assert_allclose(row, expect, rtol=1e-6, atol=2e-6)

    def test_one_full_layer_matches_the_loop_implementation(self):
        hm = HandModel(self.path("a.gguf"), swa=[False], seed=1)
        ids = [1, 5, 9, 2, 14]
        z = logits_for(Gemma4Ref(self.path("a.gguf"), round_inputs=False), ids, "batch")
        np.testing.assert_allclose(z, hm.slow_logits(ids), rtol=1e-6, atol=2e-6)

    def test_sliding_window_hides_keys_at_distance_w(self):
        hm = HandModel(self.path("s.gguf"), swa=[True], window=2, seed=2)
        ids = [1, 5, 9, 2, 14, 3]
        ref = Gemma4Ref(self.path("s.gguf"), round_inputs=False)
        z = logits_for(ref, ids, "batch")
        np.testing.assert_allclose(z, hm.slow_logits(ids), rtol=1e-6, atol=2e-6)
        # The window matters: a larger one gives different logits from position 2 on.
        hm2 = HandModel(self.path("s2.gguf"), swa=[True], window=8, seed=2)
        z2 = logits_for(Gemma4Ref(self.path("s2.gguf"), round_inputs=False), ids, "batch")
        np.testing.assert_allclose(z[:2], z2[:2], rtol=1e-6, atol=1e-6)
        self.assertGreater(np.abs(z[2:] - z2[2:]).max(), 1e-3)
        np.testing.assert_allclose(z2, hm2.slow_logits(ids), rtol=1e-6, atol=2e-6)

    def test_kv_shared_layers_read_the_last_owner_of_their_type(self):
        # s f s | s f : F0 = 3; layer 3 (sliding) reads layer 2, layer 4 (full) reads layer 1.
        swa = [True, False, True, True, False]
        hm = HandModel(self.path("k.gguf"), swa=swa, n_shared=2, seed=3, window=3)
        cfg = Config(GgufFile(self.path("k.gguf")))
        self.assertEqual([cfg.kv_source(i) for i in range(5)], [0, 1, 2, 2, 1])
        ids = [1, 5, 9, 2, 14, 3, 8]
        z = logits_for(Gemma4Ref(self.path("k.gguf"), round_inputs=False), ids, "batch")
        np.testing.assert_allclose(z, hm.slow_logits(ids), rtol=1e-6, atol=2e-6)
        # K/V tensors stored on shared layers are never used.
        HandModel(self.path("k2.gguf"), swa=swa, n_shared=2, seed=3, window=3, shared_kv_tensors=True)
        z2 = logits_for(Gemma4Ref(self.path("k2.gguf"), round_inputs=False), ids, "batch")
        self.assertIn("blk.3.attn_k.weight", GgufFile(self.path("k2.gguf")).tensors)
        np.testing.assert_array_equal(z, z2)

    def test_e2b_layout_shares_kv_with_layers_13_and_14(self):
        kv = {"general.architecture": "gemma4"}
        path = self.path("e2b.gguf")
        swa = [i % 5 != 4 for i in range(35)]
        kv.update({"gemma4.embedding_length": 8, "gemma4.block_count": 35,
                   "gemma4.feed_forward_length": [6144] * 15 + [12288] * 20,
                   "gemma4.attention.head_count": 8, "gemma4.attention.head_count_kv": 1,
                   "gemma4.attention.key_length": 512, "gemma4.attention.key_length_swa": 256,
                   "gemma4.attention.layer_norm_rms_epsilon": 1e-6,
                   "gemma4.attention.sliding_window": 512,
                   "gemma4.attention.sliding_window_pattern": swa,
                   "gemma4.attention.shared_kv_layers": 20,
                   "gemma4.embedding_length_per_layer_input": 256})
        write_gguf(path, kv, [])
        cfg = Config(GgufFile(path))
        self.assertEqual(cfg.n_ff[14], 6144)
        self.assertEqual(cfg.n_ff[15], 12288)
        for il in range(15, 35):
            self.assertEqual(cfg.kv_source(il), 13 if swa[il] else 14)

    def test_batch_and_step_modes_agree_and_greedy_extends_the_argmax(self):
        HandModel(self.path("b.gguf"), swa=[True, False, True, False], n_shared=2, seed=4)
        ref = Gemma4Ref(self.path("b.gguf"))
        ids = [2, 4, 6, 8, 10, 12, 1, 3]
        zb = logits_for(ref, ids, "batch")
        zs = logits_for(ref, ids, "step")
        np.testing.assert_allclose(zb, zs, rtol=1e-6, atol=1e-6)
        gen = greedy(ref, ids, 4)
        self.assertEqual(gen[0], int(np.argmax(zb[-1])))
        z_next = logits_for(ref, ids + gen[:1], "batch")
        self.assertEqual(gen[1], int(np.argmax(z_next[-1])))


if __name__ == "__main__":
    unittest.main()
