#!/usr/bin/python3
"""Writes the seeds of fuzz_audio (tests/fuzz/seeds/audio): PCM inputs (first byte 0) and a
one-layer, 4-wide audio tower GGUF (first byte 1) small enough for -max_len=65536.
Run from the repository root: /usr/bin/python3 tests/fuzz/make_audio_seeds.py"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
from gguf_write import write_gguf  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "seeds", "audio")


def pcm(name, values):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(b"\x00" + np.asarray(values, "<f4").tobytes())


def micro_tower(path):
    h, ff, d = 4, 4, 4
    kv = {"general.architecture": "clip", "general.type": "mmproj",
          "clip.has_vision_encoder": False, "clip.has_audio_encoder": True,
          "clip.audio.projector_type": "gemma4a", "clip.audio.projection_dim": d,
          "clip.audio.embedding_length": h, "clip.audio.feed_forward_length": ff,
          "clip.audio.block_count": 1, "clip.audio.attention.head_count": 1,
          "clip.audio.num_mel_bins": 128}
    tensors = []

    def t(name, ne):
        tensors.append((name, ne, "f32", np.full(int(np.prod(ne)), 0.5, np.float32)))

    def clipped(name, n_in, n_out):
        t(name + ".weight", [n_in, n_out])
        for s in ("input_min", "input_max", "output_min", "output_max"):
            t(name + "." + s, [1])

    t("a.conv1d.0.weight", [3, 3, 1, 1])
    t("a.conv1d.0.norm.weight", [1])
    t("a.conv1d.1.weight", [3, 3, 1, 1])
    t("a.conv1d.1.norm.weight", [1])
    t("a.input_projection.weight", [32, h])
    p = "a.blk.0."
    for n in ("ffn_norm", "ffn_post_norm", "ffn_norm_1", "ffn_post_norm_1", "attn_pre_norm",
              "attn_post_norm", "conv_norm", "norm_conv", "ln2"):
        t(p + n + ".weight", [h])
    clipped(p + "ffn_up", h, ff)
    clipped(p + "ffn_down", ff, h)
    clipped(p + "ffn_up_1", h, ff)
    clipped(p + "ffn_down_1", ff, h)
    for n in ("attn_q", "attn_k", "attn_v", "attn_out"):
        clipped(p + n, h, h)
    t(p + "attn_k_rel.weight", [h, h])
    t(p + "per_dim_scale.weight", [h])
    clipped(p + "conv_pw1", h, 2 * h)
    clipped(p + "conv_pw2", h, h)
    t(p + "conv_dw.weight", [5, h])
    t("a.pre_encode.out.weight", [h, 4])
    t("a.pre_encode.out.bias", [4])
    t("mm.a.input_projection.weight", [4, d])
    write_gguf(path, kv, tensors)


def main():
    os.makedirs(OUT, exist_ok=True)
    sr = 16000
    pcm("tone_1000", 0.5 * np.sin(2 * np.pi * 440 * np.arange(1000) / sr))
    pcm("one_frame_161", 0.3 * np.ones(161))
    pcm("short_100", np.zeros(100))
    pcm("nan", [0.0, float("nan"), 1.0] * 60)
    pcm("huge", [3e38, -3e38] * 200)
    tmp = os.path.join(OUT, ".micro.gguf")
    micro_tower(tmp)
    with open(tmp, "rb") as f, open(os.path.join(OUT, "gguf_micro_tower"), "wb") as g:
        g.write(b"\x01" + f.read())
    os.remove(tmp)


if __name__ == "__main__":
    main()
