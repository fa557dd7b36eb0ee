#!/usr/bin/python3
"""Writes a synthetic Gemma 4 checkpoint in one of Google's two mobile-quantization layouts
(docs/FORMATS.md "Importing"), and optionally its exactly dequantized twin.

Layouts (--layout):
  transformers  quant_method "gemma": M.weight uint8 (2/4-bit packed, little end first,
                offset +2/+8) or int8, M.weight_scale f32 [out, 1], scalar
                M.input_activation_scale / M.output_activation_scale; embeddings as
                M.embedding_quantized + M.embedding_scale [rows, blocks].
  ct            compressed-tensors: M.weight_packed int32 [out, in*bits/32] + M.weight_shape
                int64 [2] + M.weight_scale bf16 [out, 1] or [out, in/group]; 8-bit as
                int-quantized M.weight int8; static M.input_scale / M.output_scale.
Bit map (E2B's, spec facts in docs/FORMATS.md): embed_tokens 2-bit per row, the PLE table
4-bit in groups (--ple-group), attention and the MLPs of KV-owning layers 4-bit, the MLPs
of KV-shared layers 2-bit, per-layer input gate and projection 8-bit, the PLE model
projection unquantized bf16. In the ct layout o_proj is quantized per group of 32 too.

Static activation scales (--scales): all (calibrated: max|x| / 127 of each linear's input
and output on a short prompt through the NumPy reference of the twin), none (absent), zero
(present, all 0 = "uncalibrated"), mixed (each of a module's two scales present, zero or
absent by a hash of its name), fixed (no calibration: input 8/127, no output scales; for
E2B-sized files where the reference would be too slow).

The twin (--twin-dir): the same model with every weight dequantized exactly (code * scale
in float32) as an unquantized f32 checkpoint, imported with `gemmactl model import --quant
f32`, so the two GGUFs differ only by the activation quantization.

Tensors are generated and written in row chunks, so an E2B-sized checkpoint (--preset e2b)
is written in bounded memory.
"""
import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_read import GgufFile  # noqa: E402

PRESETS = {
    # Every E2B feature at toy size; all widths multiples of 32 (the kernels' step).
    "tiny": dict(hidden_size=64, num_hidden_layers=6, num_attention_heads=2,
                 num_key_value_heads=1, head_dim=32, global_head_dim=64, sliding_window=16,
                 num_kv_shared_layers=2, hidden_size_per_layer_input=32, intermediate_size=128,
                 layer_types=["sliding_attention"] * 3 + ["full_attention", "sliding_attention",
                                                          "full_attention"]),
    "e2b": dict(hidden_size=1536, num_hidden_layers=35, num_attention_heads=8,
                num_key_value_heads=1, head_dim=256, global_head_dim=512, sliding_window=512,
                num_kv_shared_layers=20, hidden_size_per_layer_input=256, intermediate_size=6144,
                layer_types=(["sliding_attention"] * 4 + ["full_attention"]) * 7),
}
PREFIX = "model.language_model."
ROWS_PER_CHUNK = 4096


def seed_of(*parts):
    h = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "little")


def bf16_round(x):
    """float32 -> the float32 value of its bf16 rounding (round half to even)."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return (u << 16).astype(np.uint32).view(np.float32)


def to_bf16_bytes(x):
    u = np.asarray(bf16_round(x), dtype=np.float32).view(np.uint32) >> 16
    return u.astype("<u2").tobytes()


class Config:
    def __init__(self, preset, layers, vocab):
        self.hf = dict(PRESETS[preset])
        if layers:
            # Reduced depth keeps E2B's pattern: the first 3/7 own their KV, the rest share.
            self.hf["num_hidden_layers"] = layers
            self.hf["layer_types"] = self.hf["layer_types"][:layers]
            if self.hf["layer_types"][-1] != "full_attention":
                self.hf["layer_types"][-1] = "full_attention"
            self.hf["num_kv_shared_layers"] = min(self.hf["num_kv_shared_layers"], layers * 4 // 7)
        self.hf.update(vocab_size=vocab, use_double_wide_mlp=True, rms_norm_eps=1e-6,
                       final_logit_softcapping=30.0, max_position_embeddings=131072,
                       rope_parameters={"sliding_attention": {"rope_theta": 10000.0},
                                        "full_attention": {"rope_theta": 1000000.0,
                                                           "partial_rotary_factor": 0.25}},
                       model_type="gemma4_text")
        h = self.hf
        self.d, self.L, self.V = h["hidden_size"], h["num_hidden_layers"], vocab
        self.p = h["hidden_size_per_layer_input"]
        self.F0 = self.L - h["num_kv_shared_layers"]

    def head_dim(self, il):
        h = self.hf
        return h["head_dim"] if h["layer_types"][il] == "sliding_attention" else h["global_head_dim"]

    def ff(self, il):
        return self.hf["intermediate_size"] * (2 if il >= self.F0 else 1)


class Matrix:
    """One quantized (bits > 0) or bf16 (bits == 0) matrix [n_out, n_in]; values generated
    deterministically per row chunk from (seed, name, chunk)."""

    def __init__(self, module, n_out, n_in, bits, group, value_std, seed, embedding=False):
        self.module, self.n_out, self.n_in = module, n_out, n_in
        self.bits, self.group, self.embedding = bits, group or n_in, embedding
        self.value_std, self.seed = value_std, seed
        self.in_scale = None   # None = absent; 0.0 = present, uncalibrated
        self.out_scale = None

    def chunk(self, r0, r1, scale_dtype):
        """(codes int8 [rows, n_in], scales f32 [rows, groups]) or (floats f32, None)."""
        rng = np.random.default_rng(seed_of(self.seed, self.module, r0))
        rows = r1 - r0
        if self.bits == 0:
            v = rng.standard_normal((rows, self.n_in), dtype=np.float32) * self.value_std
            return bf16_round(v), None
        lo, hi = -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        k = rng.integers(lo, hi + 1, size=(rows, self.n_in), dtype=np.int8)
        code_std = (2.0 ** self.bits) / np.sqrt(12.0)
        ng = self.n_in // self.group
        s = (self.value_std / code_std) * rng.uniform(0.5, 1.5, size=(rows, ng))
        s = s.astype(np.float32)
        if scale_dtype == "bf16":
            s = bf16_round(s)
        return k, s

    def dequantized(self, r0, r1, scale_dtype):
        k, s = self.chunk(r0, r1, scale_dtype)
        if s is None:
            return k
        return (k.astype(np.float32) * np.repeat(s, self.group, axis=1)).astype(np.float32)


def pack(k, bits):
    """Signed codes int8 [rows, n] -> packed uint8 [rows, n*bits/8] (little end first,
    offset 2^(bits-1) for 2 and 4 bits; int8 as is for 8)."""
    if bits == 8:
        return k.astype(np.int8).view(np.uint8)
    per = 8 // bits
    c = (k.astype(np.int16) + (1 << (bits - 1))).astype(np.uint8).reshape(k.shape[0], -1, per)
    out = np.zeros(c.shape[:2], dtype=np.uint8)
    for i in range(per):
        out |= (c[:, :, i] << (bits * i)).astype(np.uint8)
    return out


def build_model(cfg, seed, ple_group, layout):
    """The matrices and vectors of the checkpoint (HF names)."""
    d, L, V, p = cfg.d, cfg.L, cfg.V, cfg.p
    mats, vecs = [], []
    mats.append(Matrix(PREFIX + "embed_tokens", V, d, 2, 0, 1.0 / np.sqrt(d), seed, True))
    mats.append(Matrix(PREFIX + "embed_tokens_per_layer", V, L * p, 4, ple_group,
                       1.0 / np.sqrt(p), seed, True))
    mats.append(Matrix(PREFIX + "per_layer_model_projection", L * p, d, 0, 0, 1.0 / np.sqrt(d),
                       seed))
    vecs.append((PREFIX + "per_layer_projection_norm.weight", p, 1.0))
    vecs.append((PREFIX + "norm.weight", d, 1.0))
    for il in range(L):
        h = f"{PREFIX}layers.{il}."
        hd = cfg.head_dim(il)
        q, kv, ff = cfg.hf["num_attention_heads"] * hd, cfg.hf["num_key_value_heads"] * hd, cfg.ff(il)
        mlp_bits = 2 if il >= cfg.F0 else 4
        vecs.append((h + "input_layernorm.weight", d, 1.0))
        mats.append(Matrix(h + "self_attn.q_proj", q, d, 4, 0, 1.0 / np.sqrt(d), seed))
        vecs.append((h + "self_attn.q_norm.weight", hd, 1.0))
        # KV-shared layers carry K/V weights too (as older exports do): the importer must skip them.
        mats.append(Matrix(h + "self_attn.k_proj", kv, d, 4, 0, 1.0 / np.sqrt(d), seed))
        mats.append(Matrix(h + "self_attn.v_proj", kv, d, 4, 0, 1.0 / np.sqrt(d), seed))
        vecs.append((h + "self_attn.k_norm.weight", hd, 1.0))
        mats.append(Matrix(h + "self_attn.o_proj", d, q, 4, 32 if layout == "ct" else 0,
                           1.0 / np.sqrt(q), seed))
        vecs.append((h + "post_attention_layernorm.weight", d, 1.0))
        vecs.append((h + "pre_feedforward_layernorm.weight", d, 1.0))
        mats.append(Matrix(h + "mlp.gate_proj", ff, d, mlp_bits, 0, 1.0 / np.sqrt(d), seed))
        mats.append(Matrix(h + "mlp.up_proj", ff, d, mlp_bits, 0, 1.0 / np.sqrt(d), seed))
        mats.append(Matrix(h + "mlp.down_proj", d, ff, mlp_bits, 0, 1.0 / np.sqrt(ff), seed))
        vecs.append((h + "post_feedforward_layernorm.weight", d, 1.0))
        mats.append(Matrix(h + "per_layer_input_gate", p, d, 8, 0, 1.0 / np.sqrt(d), seed))
        mats.append(Matrix(h + "per_layer_projection", d, p, 8, 0, 1.0 / np.sqrt(p), seed))
        vecs.append((h + "post_per_layer_input_norm.weight", d, 1.0))
        vecs.append((h + "layer_scalar", 1, 0.7))
    return mats, vecs


def vector_values(name, n, center, seed):
    rng = np.random.default_rng(seed_of(seed, name))
    return bf16_round(center * (1.0 + 0.1 * rng.standard_normal(n).astype(np.float32)))


class SafetensorsWriter:
    """Streams tensors into one or more shards: declare (name, dtype, shape, chunks) first,
    then write() lays out offsets, writes headers and calls each producer in order."""

    DTYPE_SIZE = {"F32": 4, "BF16": 2, "U8": 1, "I8": 1, "I32": 4, "I64": 8}

    def __init__(self):
        self.tensors = []  # (name, dtype, shape, producer -> iterable of bytes)

    def add(self, name, dtype, shape, producer):
        self.tensors.append((name, dtype, list(shape), producer))

    def write(self, out_dir, shards):
        os.makedirs(out_dir, exist_ok=True)
        groups = [self.tensors[i::shards] for i in range(shards)]
        weight_map = {}
        for si, group in enumerate(groups):
            fname = "model.safetensors" if shards == 1 else \
                f"model-{si + 1:05d}-of-{shards:05d}.safetensors"
            header, off = {"__metadata__": {"format": "pt"}}, 0
            for name, dtype, shape, _ in group:
                n = int(np.prod(shape, dtype=np.int64)) * self.DTYPE_SIZE[dtype]
                header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
                off += n
                weight_map[name] = fname
            hb = json.dumps(header).encode()
            hb += b" " * ((-len(hb)) % 8)
            with open(os.path.join(out_dir, fname), "wb") as f:
                f.write(struct.pack("<Q", len(hb)) + hb)
                for name, dtype, shape, producer in group:
                    want = header[name]["data_offsets"][1] - header[name]["data_offsets"][0]
                    got = 0
                    for b in producer():
                        f.write(b)
                        got += len(b)
                    assert got == want, (name, got, want)
        if shards > 1:
            with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
                json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)


def row_chunks(m):
    for r0 in range(0, m.n_out, ROWS_PER_CHUNK):
        yield r0, min(m.n_out, r0 + ROWS_PER_CHUNK)


def add_quantized(w, m, layout):
    scale_dtype = "bf16" if layout == "ct" else "f32"
    ng = m.n_in // m.group
    if m.bits == 0:
        w.add(m.module + ".weight", "BF16", [m.n_out, m.n_in],
              lambda: (to_bf16_bytes(m.chunk(a, b, scale_dtype)[0]) for a, b in row_chunks(m)))
        return
    codes = lambda: (pack(m.chunk(a, b, scale_dtype)[0], m.bits).tobytes()  # noqa: E731
                     for a, b in row_chunks(m))
    scales_f32 = lambda: (m.chunk(a, b, scale_dtype)[1].astype("<f4").tobytes()  # noqa: E731
                          for a, b in row_chunks(m))
    scales_bf16 = lambda: (to_bf16_bytes(m.chunk(a, b, scale_dtype)[1])  # noqa: E731
                           for a, b in row_chunks(m))
    if layout == "transformers":
        wn, sn = (".embedding_quantized", ".embedding_scale") if m.embedding else \
            (".weight", ".weight_scale")
        if m.bits == 8:
            w.add(m.module + wn, "I8", [m.n_out, m.n_in], codes)
        else:
            w.add(m.module + wn, "U8", [m.n_out, m.n_in * m.bits // 8], codes)
        w.add(m.module + sn, "F32", [m.n_out, ng], scales_f32)
        names = (".input_activation_scale", ".output_activation_scale")
        scalar_shape = []
    else:
        if m.bits == 8:
            w.add(m.module + ".weight", "I8", [m.n_out, m.n_in], codes)
        else:
            w.add(m.module + ".weight_packed", "I32", [m.n_out, m.n_in * m.bits // 32], codes)
            w.add(m.module + ".weight_shape", "I64", [2],
                  lambda: [struct.pack("<qq", m.n_out, m.n_in)])
        w.add(m.module + ".weight_scale", "BF16", [m.n_out, ng], scales_bf16)
        names = (".input_scale", ".output_scale")
        scalar_shape = [1]
    for suffix, v in zip(names, (m.in_scale, m.out_scale)):
        if v is not None:
            w.add(m.module + suffix, "F32", scalar_shape,
                  lambda v=v: [struct.pack("<f", v)])


def add_twin(w, m, layout):
    scale_dtype = "bf16" if layout == "ct" else "f32"
    w.add(m.module + ".weight", "F32", [m.n_out, m.n_in],
          lambda: (m.dequantized(a, b, scale_dtype).astype("<f4").tobytes()
                   for a, b in row_chunks(m)))


def add_vectors(w, vecs, seed, dtype):
    for name, n, center in vecs:
        shape = [n]
        vals = vector_values(name, n, center, seed)
        data = to_bf16_bytes(vals) if dtype == "BF16" else vals.astype("<f4").tobytes()
        w.add(name, dtype, shape, lambda data=data: [data])


def quant_config(cfg, layout, ple_group):
    shared = "|".join(str(i) for i in range(cfg.F0, cfg.L))
    esc = PREFIX.replace(".", r"\.")
    if layout == "transformers":
        return {"quant_method": "gemma", "num_bits": 4,
                # Order matters: embed_tokens would also match embed_tokens_per_layer.
                "module_quant_configs": {
                    esc + r"embed_tokens_per_layer": 4,
                    esc + r"embed_tokens": 2,
                    esc + rf"layers\.({shared})\.mlp\.": 2,
                    r".*per_layer_(input_gate|projection)$": {"num_bits": 8},
                },
                "modules_to_not_convert": [PREFIX + "per_layer_model_projection", "lm_head"]}
    groups = {
        "mlp_shared": {"targets": [f"re:{esc}layers\\.({shared})\\.mlp\\."],
                       "weights": {"num_bits": 2, "strategy": "channel", "symmetric": True,
                                   "type": "int"}, "format": "pack-quantized"},
        "ple_table": {"targets": [PREFIX + "embed_tokens_per_layer"],
                      "weights": {"num_bits": 4, "strategy": "group", "group_size": ple_group,
                                  "symmetric": True, "type": "int"}, "format": "pack-quantized"},
        "embed": {"targets": ["Embedding"],
                  "weights": {"num_bits": 2, "strategy": "channel", "symmetric": True,
                              "type": "int"}, "format": "pack-quantized"},
        "o_proj": {"targets": ["re:.*o_proj$"],
                   "weights": {"num_bits": 4, "strategy": "group", "group_size": 32,
                               "symmetric": True, "type": "int"}, "format": "pack-quantized"},
        "ple_gate": {"targets": ["re:.*per_layer_(input_gate|projection)$"],
                     "weights": {"num_bits": 8, "strategy": "channel", "symmetric": True,
                                 "type": "int"},
                     "input_activations": {"num_bits": 8, "dynamic": False},
                     "output_activations": {"num_bits": 8, "dynamic": False},
                     "format": "int-quantized"},
        "rest": {"targets": ["Linear"],
                 "weights": {"num_bits": 4, "strategy": "channel", "symmetric": True,
                             "type": "int"}, "format": "pack-quantized"},
    }
    return {"quant_method": "compressed-tensors", "format": "mixed", "config_groups": groups,
            "ignore": ["lm_head", PREFIX + "per_layer_model_projection", "re:.*vision.*"]}


def write_config(out_dir, cfg, qc):
    conf = {"architectures": ["Gemma4ForConditionalGeneration"], "model_type": "gemma4",
            "text_config": cfg.hf, "tie_word_embeddings": True}
    if qc is not None:
        conf["quantization_config"] = qc
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(conf, f, indent=1)


def calibrate(mats, twin_gguf, n_vocab, mode):
    """Static scales per linear from max|x| / 127 of its input and output over a prompt run
    through the NumPy reference of the twin; then the --scales pattern."""
    by_gguf = {}
    if mode in ("all", "mixed"):
        from gemma4_ref import Gemma4Ref
        ref = Gemma4Ref(twin_gguf)
        stats = {}
        orig = ref.linear

        def spy(name, x, scales=None):
            y = orig(name, x, scales)
            key = scales or name[: -len(".weight")]
            a, b = stats.get(key, (0.0, 0.0))
            stats[key] = (max(a, float(np.max(np.abs(x)))), max(b, float(np.max(np.abs(y)))))
            return y

        ref.linear = spy
        rng = np.random.default_rng(7)
        ref.forward([2] + list(rng.integers(3, n_vocab, size=23)))
        by_gguf = stats
    gguf_of = gguf_names()
    for m in mats:
        if m.embedding or m.bits == 0:
            continue
        key = gguf_of(m.module)
        amax_in, amax_out = by_gguf.get(key, (8.0, 0.0))
        s_in, s_out = np.float32(amax_in / 127.0), np.float32(amax_out / 127.0)
        if mode == "all":
            m.in_scale, m.out_scale = float(s_in), float(s_out)
        elif mode == "fixed":
            m.in_scale, m.out_scale = float(np.float32(8.0 / 127.0)), None
        elif mode == "zero":
            m.in_scale, m.out_scale = 0.0, 0.0
        elif mode == "mixed":
            h = seed_of("mixed", m.module)
            pick = [h % 3, (h // 3) % 3]
            vals = [float(s_in), float(s_out)]
            res = [vals[i] if pick[i] == 0 else (0.0 if pick[i] == 1 else None) for i in range(2)]
            m.in_scale, m.out_scale = res
    # The LM head is tied (no lm_head weight); give it an input scale in "all" mode, as the
    # transformers layout may (lm_head.input_activation_scale with tied weights).
    return by_gguf.get("output")


def gguf_names():
    table = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
             "per_layer_input_gate": "inp_gate", "per_layer_projection": "proj"}

    def f(module):
        rest = module[len(PREFIX):]
        if rest.startswith("layers."):
            il, sub = rest[len("layers."):].split(".", 1)
            return f"blk.{il}.{table[sub]}"
        return {"per_layer_model_projection": "per_layer_model_proj"}.get(rest, rest)
    return f


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="checkpoint directory to write")
    ap.add_argument("--layout", choices=["transformers", "ct"], default="transformers")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    ap.add_argument("--layers", type=int, default=0, help="reduce the layer count")
    ap.add_argument("--vocab", required=True, help="vocabulary GGUF (sets vocab_size)")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--scales", choices=["all", "none", "zero", "mixed", "fixed"], default="all")
    ap.add_argument("--ple-group", type=int, default=32)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--twin-dir", help="also write the dequantized f32 twin checkpoint here")
    ap.add_argument("--gemmactl", help="imports the twin (needed by --scales all/mixed)")
    ap.add_argument("--extras", action="store_true",
                    help="add an encoder tensor and KV cache scales (the importer must skip / "
                         "keep them)")
    args = ap.parse_args(argv)

    n_vocab = len(GgufFile(args.vocab).kv["tokenizer.ggml.tokens"])
    cfg = Config(args.preset, args.layers, n_vocab)
    mats, vecs = build_model(cfg, args.seed, args.ple_group, args.layout)

    twin_gguf = None
    if args.twin_dir:
        write_config(args.twin_dir, cfg, None)
        w = SafetensorsWriter()
        for m in mats:
            add_twin(w, m, args.layout)
        add_vectors(w, vecs, args.seed, "F32")
        w.write(args.twin_dir, 1)
        if args.gemmactl:
            twin_gguf = os.path.join(args.twin_dir, "twin.gguf")
            subprocess.run([args.gemmactl, "model", "import", args.twin_dir, "-o", twin_gguf,
                            "--vocab", args.vocab, "--quant", "f32"], check=True)
    if args.scales in ("all", "mixed") and twin_gguf is None:
        ap.error("--scales all/mixed calibrate on the twin: give --twin-dir and --gemmactl")
    calibrate(mats, twin_gguf, n_vocab, args.scales)

    write_config(args.out, cfg, quant_config(cfg, args.layout, args.ple_group))
    w = SafetensorsWriter()
    for m in mats:
        add_quantized(w, m, args.layout)
    add_vectors(w, vecs, args.seed, "BF16")
    if args.extras:
        w.add("model.vision_tower.patch_embedder.weight", "BF16", [4, 4],
              lambda: [b"\0" * 32])
        for il in range(cfg.F0):
            for kv in "kv":
                v = 0.0 if il == 0 else 0.01 * (il + 1) + (0.001 if kv == "v" else 0.0)
                w.add(f"{PREFIX}layers.{il}.self_attn.{kv}_cache_scale", "F32", [],
                      lambda v=v: [struct.pack("<f", v)])
    w.write(args.out, args.shards)
    return 0


if __name__ == "__main__":
    sys.exit(main())
