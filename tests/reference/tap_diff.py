#!/usr/bin/python3
"""Pins an engine/reference mismatch to one op of one layer.

Runs the reference on --ids with taps and compares each named intermediate with the files
`gemmactl logits --tap DIR` wrote (runtime/tap.h layout: DIR/index.tsv and
DIR/<name>.<layer|g>.f32), in execution order, as max |diff| relative to the reference's
max |value|.

--forced feeds each engine value back into the reference after comparing it ("teacher
forcing"), so every op is checked on identical inputs. This matters for Q4_0/Q8_0 models:
their activations are quantised to Q8_0 before each matmul, and a 1e-7 float32 difference
that flips one rounding cascades through later quantisations (on E2B-sized models the
free-running logits then differ by O(1) even for a correct engine). With forcing, each op's
difference is only its own float32 rounding (~1e-6 relative).

Exit code 1 if --max-rel is given and some op exceeds it.

Usage: tap_diff.py --model M.gguf --ids "2 5 9" --tap DIR [--forced] [--max-rel 1e-4]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gemma4_ref import Gemma4Ref, logits_for  # noqa: E402


def load_engine_taps(tap_dir):
    """{(name, layer): [array per call]} from the engine's tap directory."""
    offsets = {}
    taps = {}
    with open(os.path.join(tap_dir, "index.tsv")) as f:
        for line in f:
            name, layer, n_rows, n_cols = line.rstrip("\n").split("\t")[:4]
            n_rows, n_cols = int(n_rows), int(n_cols)
            path = os.path.join(tap_dir, f"{name}.{layer}.f32")
            off = offsets.get((name, layer), 0)
            vals = np.fromfile(path, dtype="<f4", count=n_rows * n_cols, offset=off * 4)
            offsets[(name, layer)] = off + n_rows * n_cols
            key = (name, -1 if layer == "g" else int(layer))
            taps.setdefault(key, []).append(vals.reshape(n_rows, n_cols))
    return taps


def compare_taps(model, ids, tap_dir, kv_type="f32", mode="batch", forced=True,
                 max_rel=None, quiet=False):
    """Runs the reference on ids and compares each tap with the engine's. Returns
    (number of taps, worst relative diff, where, list of failures)."""
    engine = load_engine_taps(tap_dir)
    seen = {}
    worst = [0.0, ""]
    failures = []

    def on_tap(name, layer, r):
        key = (name, layer)
        i = seen.get(key, 0)
        seen[key] = i + 1
        calls = engine.get(key, [])
        if i >= len(calls):
            if not quiet:
                print(f"{name:16s} {layer:3d}  (no engine tap)")
            return None
        e = calls[i]
        if e.size != r.size:
            failures.append(f"{name} layer {layer}: engine {e.shape} vs reference {r.shape}")
            print(f"{name:16s} {layer:3d}  shape engine {e.shape} vs reference {r.shape}")
            return None
        d = float(np.abs(e.reshape(-1).astype(np.float64) - r.reshape(-1)).max())
        rel = d / max(float(np.abs(r).max()), 1e-30)
        bad = max_rel is not None and not rel <= max_rel
        if rel > worst[0]:
            worst[:] = [rel, f"{name} layer {layer}"]
        if bad:
            failures.append(f"{name} layer {layer}: rel {rel:.2e}")
        if not quiet or bad:
            print(f"{name:16s} {layer:3d}  max|diff| {d:.3e}  rel {rel:.2e}{'  <-- FAIL' if bad else ''}")
        return e.reshape(r.shape) if forced else None

    ref = Gemma4Ref(model, kv_type=kv_type)
    ref.tap = on_tap
    logits_for(ref, ids, mode)
    return sum(seen.values()), worst[0], worst[1], failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--tap", required=True, help="directory written by gemmactl logits --tap")
    ap.add_argument("--kv-type", default="f32")
    ap.add_argument("--mode", default="batch")
    ap.add_argument("--forced", action="store_true", help="continue from the engine's values")
    ap.add_argument("--max-rel", type=float, help="fail if an op's relative diff exceeds this")
    ap.add_argument("--quiet", action="store_true", help="print only ops above --max-rel")
    args = ap.parse_args()
    ids = [int(t) for t in args.ids.replace(",", " ").split()]
    n, worst, where, failures = compare_taps(args.model, ids, args.tap, args.kv_type, args.mode,
                                             args.forced, args.max_rel, args.quiet)
    print(f"{n} taps compared{' (forced)' if args.forced else ''}; worst relative diff "
          f"{worst:.2e} at {where}")
    if failures:
        print(f"FAIL: {len(failures)} ops above {args.max_rel:g}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
