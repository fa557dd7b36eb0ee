#!/usr/bin/python3
"""End to end: synthetic mobile-quantized checkpoints (mobile_checkpoint.py) imported by
`gemmactl model import`, run by the engine, held to the NumPy reference and to their exactly
dequantized twins, and served by the real daemon.

For each case (layout, shards, static-scale pattern):
 1. write the checkpoint and its f32 twin; import both (the twin with --quant f32);
 2. the import summary counts what the writer wrote (types, static scales, zero scales,
    KV cache scales in the metadata, an encoder tensor left out);
 3. engine vs NumPy reference on the imported GGUF: compare.py, op by op, logits and greedy
    text (the reference applies the a8/o8 rules from its own description, dequant.py);
 4. engine on the imported GGUF vs engine on the twin: the logits differ only by the
    activation quantization. Tolerance: the reference measures that effect itself (its own
    quantized-vs-twin logits, D_ref), and the engine's quantized-vs-twin difference must
    match the reference's element by element within EFFECT_TOL = 0.05 (the Q_TOL-class
    rounding-flip allowance of compare.py, halved since both sides here see identical
    weights); then max |z_q - z_twin| <= D_ref + EFFECT_TOL follows, and is printed: that
    figure is the size of the activation-quantization effect.
Then the unquantized twin checkpoint imports to F16 and Q4_0 too, and the first GGUF of each layout
is served by `gemmad --model`: a greedy `gemmactl generate` through the daemon returns the
same text as the offline run.

    check_mobile.py --gemmactl BIN --gemmad BIN --dir SCRATCH
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gemma4_ref import Gemma4Ref, logits_for  # noqa: E402
from gguf_read import GgufFile  # noqa: E402

EFFECT_TOL = 0.05
CASES = [
    # name, layout, shards, scales
    ("tr-single-all", "transformers", 1, "all"),
    ("ct-sharded-mixed", "ct", 3, "mixed"),
    ("tr-sharded-zero", "transformers", 2, "zero"),
    ("ct-single-none", "ct", 1, "none"),
]
IDS = [2, 17, 99, 245, 3, 77, 400, 12, 8, 300, 150, 41, 222, 9, 480, 66, 5, 123, 321, 45]


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def engine_logits(gemmactl, model, out):
    run([gemmactl, "logits", "--model", model, "--ids", " ".join(map(str, IDS)), "--out", out,
         "--kv-type", "f32"])
    return np.fromfile(out, dtype=np.float32).reshape(len(IDS), -1)


def check_case(args, vocab, name, layout, shards, scales):
    d = os.path.join(args.dir, name)
    shutil.rmtree(d, ignore_errors=True)
    ck, twin_dir, out = os.path.join(d, "ckpt"), os.path.join(d, "twin"), os.path.join(d, "q.gguf")
    run([sys.executable, os.path.join(HERE, "mobile_checkpoint.py"), "--out", ck, "--layout",
         layout, "--shards", str(shards), "--scales", scales, "--vocab", vocab, "--twin-dir",
         twin_dir, "--gemmactl", args.gemmactl, "--extras"])
    imp = run([args.gemmactl, "model", "import", ck, "-o", out, "--vocab", vocab, "--json"])
    s = json.loads(imp.stdout)
    ok = True

    def expect(cond, what):
        nonlocal ok
        if not cond:
            print(f"FAIL {name}: {what}")
            ok = False

    # The tiny map: 6 layers (F0 = 4): embed 2-bit, 2 shared MLPs x 3 at 2-bit; PLE table,
    # attention (q,o on 6 layers, k,v on 4) and 4 owned MLPs x 3 at 4-bit; 12 gate/proj 8-bit.
    expect(s["layout"] == {"transformers": "transformers", "ct": "compressed-tensors"}[layout],
           f"layout {s['layout']}")
    expect((s["gq2"], s["gq4"], s["gq8"], s["float_matrices"]) == (7, 33, 12, 1),
           f"type counts {s['gq2']}, {s['gq4']}, {s['gq8']}, {s['float_matrices']}")
    expect(s["shards"] == shards, f"shards {s['shards']}")
    expect(s["kv_scale_layers"] == 4, f"kv scale layers {s['kv_scale_layers']}")
    expect(s["ignored_tensors"] > 0, "nothing left out (the encoder tensor must be)")
    n_lin = 7 + 33 + 12 - 2  # the two embedding tables have no activation scales
    if scales == "all":
        expect(s["input_scales"] == n_lin and s["output_scales"] == n_lin, "static scales")
    if scales in ("none", "zero"):
        expect(s["input_scales"] == 0 and s["output_scales"] == 0, "no static scales")
    if scales == "zero":
        expect(s["zero_scales"] >= 2 * n_lin, f"zero scales {s['zero_scales']}")
    if scales == "mixed":
        expect(0 < s["input_scales"] < n_lin and s["zero_scales"] > 2, "mixed scales")
    f = GgufFile(out)
    ks = f.kv.get("gemma4.attention.k_cache_scale")
    expect(ks is not None and abs(ks[0]) == 0.0 and abs(ks[2] - 0.03) < 1e-7,
           f"k_cache_scale {ks}")

    # Engine vs reference on the imported model.
    cmp = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), "--gemmactl",
                          args.gemmactl, "--model", out, "--mode", "batch", "--kv-type", "f32",
                          "--prompt-len", "40", "--greedy", "16"], capture_output=True, text=True)
    print(cmp.stdout.strip())
    expect(cmp.returncode == 0, "compare.py against the reference")

    # Engine vs the dequantized twin, with the reference's measure of the effect.
    twin = os.path.join(twin_dir, "twin.gguf")
    zq = engine_logits(args.gemmactl, out, os.path.join(d, "q.f32"))
    zt = engine_logits(args.gemmactl, twin, os.path.join(d, "t.f32"))
    rq = logits_for(Gemma4Ref(out), IDS, "batch")
    rt = logits_for(Gemma4Ref(twin), IDS, "batch")
    d_ref = float(np.max(np.abs(rq - rt)))
    d_eng = float(np.max(np.abs(zq - zt)))
    pattern = float(np.max(np.abs((zq - zt) - (rq - rt))))
    print(f"{name}: max |z_q - z_twin| engine {d_eng:.4g}, reference {d_ref:.4g}; "
          f"difference of the two effects {pattern:.3g} (<= {EFFECT_TOL})")
    expect(np.all(np.isfinite(zq)), "non-finite logits")
    expect(pattern <= EFFECT_TOL, "the engine's activation-quantization effect differs from "
                                  "the reference's")
    expect(d_eng <= d_ref + EFFECT_TOL, "engine further from the twin than explained")
    if scales == "all":
        expect(d_eng > 1e-3, "static quantization had no effect at all")
    return ok, out


def check_unquantized(args, vocab, twin_dir):
    ok = True
    for quant in ("f16", "q4_0"):
        out = os.path.join(args.dir, f"twin-{quant}.gguf")
        run([args.gemmactl, "model", "import", twin_dir, "-o", out, "--vocab", vocab,
             "--quant", quant])
        g = run([args.gemmactl, "generate", "--model", out, "--ids", "2 17 99", "--raw",
                 "--temp", "0", "-n", "4", "--json"])
        n = len(json.loads(g.stdout)["token_ids"])
        print(f"unquantized twin -> {quant}: imports and generates {n} tokens")
        if n != 4:
            print(f"FAIL unquantized {quant}: no output")
            ok = False
    return ok


def check_daemon(args, model, tag):
    sock = os.path.join(args.dir, f"gemmad-{tag}.sock")
    log_path = os.path.join(args.dir, f"gemmad-{tag}.log")
    config = os.path.join(args.dir, "gemmad.toml")
    state = os.path.join(args.dir, f"state-{tag}")
    os.makedirs(state, exist_ok=True)
    with open(config, "w") as f:
        f.write("[privacy]\nnetwork_filter = false\n")
    offline = run([args.gemmactl, "generate", "--model", model, "--temp", "0", "-n", "12",
                   "--json", "hello"])
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([args.gemmad, "--config", config, "--model", model, "--socket",
                                 sock, "--state-dir", state], stdout=log, stderr=log)
    try:
        for _ in range(600):  # wait until the daemon answers (or exits)
            st = subprocess.run([args.gemmactl, "--socket", sock, "status"], capture_output=True)
            if st.returncode == 0:
                break
            if proc.poll() is not None:
                print("FAIL daemon exited:\n" + open(log_path, errors="replace").read())
                return False
            time.sleep(0.05)
        online = run([args.gemmactl, "--socket", sock, "--app", "mobile-test", "generate",
                      "--temp", "0", "-n", "12", "--json", "hello"])
        a, b = json.loads(offline.stdout), json.loads(online.stdout)
        same = a.get("text") == b.get("text")
        print(f"daemon: gemmad --model {os.path.basename(model)} generated "
              f"{b.get('text')!r}; offline {a.get('text')!r}")
        if not same:
            print("FAIL daemon and offline generation differ")
        return same
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gemmactl", required=True)
    ap.add_argument("--gemmad", required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    vocab = os.path.join(args.dir, "vocab.gguf")
    run([args.gemmactl, "model", "synth", "--preset", "tiny", "--quant", "f32", "--seed", "1",
         "-o", vocab])
    ok, first = True, {}  # first imported model of each layout
    for name, layout, shards, scales in CASES:
        case_ok, out = check_case(args, vocab, name, layout, shards, scales)
        ok = ok and case_ok
        first.setdefault(layout, out)
    ok = check_unquantized(args, vocab, os.path.join(args.dir, CASES[0][0], "twin")) and ok
    for layout, model in first.items():  # both layouts are served by the daemon
        ok = check_daemon(args, model, layout) and ok
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
