#!/usr/bin/python3
"""Holds the C++ engine (gemmactl) to the NumPy reference on one model and prompt.

0. Op by op (--ops-max-rel): `gemmactl logits --tap` intermediates against the reference's,
   each op fed the engine's own inputs (tap_diff.py --forced), so even models whose
   free-running outputs drift apart through activation-quantisation flips are held to
   float32 rounding per op. OPS_MAX_REL = 1e-4 relative to the op's largest value: float32
   rounding of one op is ~1e-6 (2.7e-7 measured on E2B), and any wrong op is off by far more.
1. Logits of every position: `gemmactl logits` vs gemma4_ref.py, all vocab entries; the
   maximum absolute difference must be within the tolerance of the model's numerics class
   (derived below).
2. Greedy continuation: `gemmactl generate --temp 0` vs the reference's greedy decode; the
   token ids must be identical, except that a divergence is accepted at a near tie, i.e. when
   the engine's token is within the logits tolerance of the reference's best token at that
   step (logits that agree to within tol only define the argmax up to tol).

Exit codes: 0 pass, 1 mismatch, 77 skipped (gemmactl lacks the verb; ctest SKIP_RETURN_CODE).

Tolerances (max |z_engine - z_ref| over all positions and vocab entries; logits are
soft-capped to [-30, 30]):

* F32_TOL = 1e-3, for models whose matmul weights are all F32/F16/BF16 and a F32 KV cache. Both sides then compute the same real-number function; the engine in float32,
  the reference in float64. The float32 rounding of a length-n dot product is ~ eps * sqrt(n)
  relative (eps = 6e-8, n <= 256 on the tiny model); emulating float32 accumulation in the
  reference (see README.md in this directory) gives at most 3.5e-5 on the 40-token tiny
  prompts. 1e-3 leaves a 30x margin for a different summation order and transcendental
  implementations, yet a real bug (a wrong RoPE pair, an off-by-one window, a missing norm)
  moves logits by O(0.1..1).
* Q_TOL = 0.25 with Q_TIGHT = 1e-3 for at least Q_TIGHT_FRACTION = 75 % of positions, for
  models with Q4_0/Q8_0/Q4_K/Q6_K weights. Their activations are quantised to Q8_0
  (round-half-even of x/d) before each such matmul, on both sides. A float32 difference of 1e-7 between the
  two implementations flips the rounding of an element that sits on a .5 boundary; that moves
  one activation by a whole quantum (max|x|/127) and the change cascades through later
  quantisations. Emulating float32 accumulation in the reference shows most positions
  bit-close (median 1.4e-6) and a few at up to 0.08 after such a flip; 0.25 is 3x that, while
  a real bug shows at every position, which the 75 % rule catches. This holds for the
  6-layer, 64-wide tiny model only: on E2B/E4B-sized models flips happen in every layer and
  the free-running logits drift apart by O(1) even for a correct engine; check those op by
  op with tap_diff.py --forced instead.
* F16 KV cache (--kv-type f16): the reference rounds K (after norm and RoPE) and V (after its
  norm) to fp16 when storing, as the engine does. Rounding K/V to fp16 at all (relative step
  2^-11) moves the tiny model's logits by up to 1.2e-2 (reference f16 vs f32 cache); two
  implementations that both round differ only where a value sits on an fp16 rounding
  boundary or where attention arithmetic differs, a fraction of that (1.6e-3 measured).
  F16_TOL = 1e-2 keeps a 6x margin over the measurement and still fails an engine that does
  not round (1.2e-2). Quantised models keep the Q rules with Q_TOL_F16 = 0.5, since fp16
  boundary differences also trigger activation-quantisation flips (0.17 measured).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gemma4_ref import ACT_QUANT_TYPES, Gemma4Ref, logits_for  # noqa: E402
from tap_diff import compare_taps  # noqa: E402

OPS_MAX_REL = 1e-4
F32_TOL = 1e-3
F16_TOL = 1e-2
Q_TOL = 0.25
Q_TOL_F16 = 0.5
Q_TIGHT = 1e-3
Q_TIGHT_FRACTION = 0.75
STOP_IDS = (1, 106, 50)  # <eos>, <turn|>, <|tool_response> (docs/GEMMA4.md §5.3)
SKIP = 77


def prompt_ids(n, n_vocab, seed):
    """<bos> then n - 1 deterministic ids from [5, n_vocab) avoiding the stop ids."""
    rng = np.random.default_rng(seed)
    ids = [2]
    while len(ids) < n:
        t = int(rng.integers(5, n_vocab))
        if t not in STOP_IDS:
            ids.append(t)
    return ids


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def verb_missing(gemmactl, verb):
    code, out, err = run([gemmactl, verb, "--help"])
    return code != 0


def engine_logits(gemmactl, model, ids, mode, kv_type, n_vocab, tap_dir=None):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "logits.f32")
        cmd = [gemmactl, "logits", "--model", model, "--ids", " ".join(map(str, ids)),
               "--out", out, "--mode", mode, "--kv-type", kv_type]
        if tap_dir:
            cmd += ["--tap", tap_dir]
        code, _, err = run(cmd)
        if code != 0:
            raise SystemExit(f"FAIL: {' '.join(cmd)} exited {code}: {err.strip()}")
        z = np.fromfile(out, dtype="<f4")
    if z.size != len(ids) * n_vocab:
        raise SystemExit(f"FAIL: engine wrote {z.size} floats, expected {len(ids)} x {n_vocab}")
    return z.reshape(len(ids), n_vocab)


def engine_greedy(gemmactl, model, ids, n):
    cmd = [gemmactl, "generate", "--model", model, "--ids", " ".join(map(str, ids)), "-n",
           str(n), "--temp", "0", "--json"]
    code, out, err = run(cmd)
    if code != 0:
        raise SystemExit(f"FAIL: {' '.join(cmd)} exited {code}: {err.strip()}")
    return [int(t) for t in json.loads(out)["token_ids"]]


def uses_act_quant(ref):
    return any(t.type_name in ACT_QUANT_TYPES for t in ref.f.tensors.values())


def check_logits(ze, zr, quantised, kv_type):
    diff = np.abs(ze.astype(np.float64) - zr.astype(np.float64))
    per_pos = diff.max(axis=1)
    worst = int(per_pos.argmax())
    finite = np.isfinite(ze).all()
    if not quantised:
        tol = F32_TOL if kv_type == "f32" else F16_TOL
        ok = finite and per_pos.max() <= tol
        rule = f"max |diff| <= {tol:g}"
    else:
        tol = Q_TOL if kv_type == "f32" else Q_TOL_F16
        tight = float((per_pos <= Q_TIGHT).mean())
        ok = finite and per_pos.max() <= tol and tight >= Q_TIGHT_FRACTION
        rule = (f"max |diff| <= {tol:g} and >= {Q_TIGHT_FRACTION:.0%} of positions within "
                f"{Q_TIGHT:g} (got {tight:.0%})")
    print(f"logits: {ze.shape[0]} positions x {ze.shape[1]}: max |diff| {per_pos.max():.3e} at "
          f"position {worst}, median per-position max {np.median(per_pos):.3e}; rule: {rule}"
          f" -> {'ok' if ok else 'FAIL'}")
    return ok, tol


def check_greedy(ref, ids, eng, n, tol):
    """Reference greedy decode alongside the engine's tokens (near-tie rule above)."""
    ref.reset()
    z = ref.forward(ids)[-1]
    ref_gen = []
    for k in range(n):
        best = int(np.argmax(z))
        if k >= len(eng):
            # The engine stopped early: only allowed on a stop token.
            if best in STOP_IDS:
                print(f"greedy: engine stopped at a stop token after {k} tokens; reference agrees")
                return True
            print(f"greedy: FAIL: engine produced {len(eng)} tokens; reference continues with {best}")
            return False
        if best in STOP_IDS and eng[k] != best:
            print(f"greedy: FAIL at step {k}: reference stops ({best}), engine gave {eng[k]}")
            return False
        if eng[k] != best:
            gap = float(z[best] - z[eng[k]])
            if gap <= tol:
                print(f"greedy: identical for {k} tokens, then a near tie: engine {eng[k]} vs "
                      f"reference {best}, reference gap {gap:.3e} <= tol {tol:g} -> ok")
                return True
            print(f"greedy: FAIL at step {k}: engine {eng[k]}, reference {best} "
                  f"(gap {gap:.3e} > tol {tol:g}); engine {eng}, reference so far {ref_gen}")
            return False
        ref_gen.append(best)
        if best in STOP_IDS:
            break
        z = ref.forward([best])[-1]
    print(f"greedy: {len(ref_gen)} tokens identical: {ref_gen}")
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description="compare gemmactl with the NumPy reference")
    ap.add_argument("--gemmactl", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", help="prompt ids; default: --prompt-len deterministic ids")
    ap.add_argument("--prompt-len", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1, help="seed of the generated prompt")
    ap.add_argument("--mode", choices=["batch", "step"], default="batch")
    ap.add_argument("--kv-type", default="f32", help="f32, f16, q8, q4, mobile, sliding:T,full:T")
    ap.add_argument("--greedy", type=int, default=32, help="tokens to compare (0 = skip)")
    ap.add_argument("--ops-max-rel", type=float, default=OPS_MAX_REL,
                    help="op-by-op check threshold (0 = skip the op check)")
    ap.add_argument("--skip-logits-check", action="store_true",
                    help="only the op check (E2B/E4B-sized Q4_0 models, see above)")
    args = ap.parse_args(argv)

    for verb in ["logits"] + (["generate"] if args.greedy else []):
        if verb_missing(args.gemmactl, verb):
            print(f"SKIP: {args.gemmactl} has no '{verb}' verb yet")
            return SKIP
    ref = Gemma4Ref(args.model, kv_type=args.kv_type)
    ids = ([int(t) for t in args.ids.replace(",", " ").split()] if args.ids
           else prompt_ids(args.prompt_len, ref.n_vocab, args.seed))
    quantised = uses_act_quant(ref)
    print(f"model {args.model} ({'Q8_0-activation' if quantised else 'float'} numerics), "
          f"{len(ids)} ids, mode {args.mode}, kv {args.kv_type}")
    ok = True
    with tempfile.TemporaryDirectory() as tap_dir:
        ze = engine_logits(args.gemmactl, args.model, ids, args.mode, args.kv_type, ref.n_vocab,
                           tap_dir if args.ops_max_rel else None)
        if args.ops_max_rel:
            n, worst, where, failures = compare_taps(args.model, ids, tap_dir, args.kv_type,
                                                     args.mode, True, args.ops_max_rel, True)
            ok = not failures and n > 0
            print(f"ops: {n} intermediates, each from the engine's inputs: worst relative diff "
                  f"{worst:.2e} at {where}; rule: <= {args.ops_max_rel:g} -> "
                  f"{'ok' if ok else 'FAIL'}")
    tol = Q_TOL_F16 if quantised else F16_TOL
    if not args.skip_logits_check:
        zr = logits_for(ref, ids, args.mode)
        logits_ok, tol = check_logits(ze, zr, quantised, args.kv_type)
        ok = logits_ok and ok
    if args.greedy:
        # `generate` runs with the engine's default KV cache (F16), so compare it with a
        # reference that stores fp16 K/V, at the F16 tolerance.
        gref = Gemma4Ref(args.model, kv_type="f16")
        gtol = Q_TOL_F16 if quantised else F16_TOL
        eng = engine_greedy(args.gemmactl, args.model, ids, args.greedy)
        ok = check_greedy(gref, ids, eng, args.greedy, gtol) and ok
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
