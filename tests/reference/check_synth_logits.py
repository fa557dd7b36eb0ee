#!/usr/bin/python3
"""Sanity of the synthetic tiny models (`gemmactl model synth`), through the NumPy reference:
logits neither constant nor exploding nor pinned at the softcap, varied greedy text, batch
and step modes agreeing, and K/V tensors on shared layers (--shared-kv) having no effect.

Usage: check_synth_logits.py F32.gguf Q4_0.gguf Q4_0_SHARED_KV.gguf
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import prompt_ids  # noqa: E402
from gemma4_ref import Gemma4Ref, greedy, logits_for  # noqa: E402

STD_RANGE = (0.5, 15.0)   # per-position std of the logits over the vocabulary
MAX_AT_CAP = 0.01         # fraction of logits with |z| > 29 (softcap 30)
MIN_DISTINCT_ARGMAX = 10  # of 40 positions
MIN_DISTINCT_GREEDY = 8   # of 32 generated tokens


def check_model(path, failures):
    ref = Gemma4Ref(path)
    ids = prompt_ids(40, ref.n_vocab, 1)
    z = logits_for(ref, ids, "batch")
    zs = logits_for(ref, ids, "step")
    std = z.std(axis=1)
    at_cap = float((np.abs(z) > 29).mean())
    n_argmax = len(set(z.argmax(axis=1).tolist()))
    gen = greedy(ref, ids, 32)
    step_diff = float(np.abs(z - zs).max())
    print(f"{os.path.basename(path)}: logit std {std.min():.2f}..{std.max():.2f}, "
          f"|z| max {np.abs(z).max():.2f}, at cap {at_cap:.1%}, {n_argmax} distinct argmax, "
          f"greedy {len(set(gen))} distinct: {gen}; batch vs step {step_diff:.1e}")
    if not np.isfinite(z).all():
        failures.append(f"{path}: non-finite logits")
    if std.min() < STD_RANGE[0] or std.max() > STD_RANGE[1]:
        failures.append(f"{path}: logit std outside {STD_RANGE}")
    if at_cap > MAX_AT_CAP:
        failures.append(f"{path}: {at_cap:.1%} of logits at the softcap")
    if n_argmax < MIN_DISTINCT_ARGMAX:
        failures.append(f"{path}: only {n_argmax} distinct argmax over 40 positions")
    if len(set(gen)) < MIN_DISTINCT_GREEDY:
        failures.append(f"{path}: greedy text has only {len(set(gen))} distinct tokens")
    # float64 on both paths; only summation order differs
    if step_diff > 1e-5:
        failures.append(f"{path}: batch and step logits differ by {step_diff:.2e}")
    return z


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    failures = []
    check_model(argv[0], failures)
    zq = check_model(argv[1], failures)
    zk = check_model(argv[2], failures)
    # The writer hashes values by tensor name, so both files hold the same weights apart from
    # the extra shared-layer K/V, which must be ignored (docs/GEMMA4.md §3.3, §8 item 10).
    if not np.array_equal(zq, zk):
        failures.append("shared-layer K/V tensors changed the reference logits")
    for f in failures:
        print("FAIL:", f)
    print("PASS" if not failures else "FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
