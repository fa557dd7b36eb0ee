#!/usr/bin/python3
"""Holds the C++ vision encoder to vision_ref.py, and the logits of a prompt holding an image to
gemma4_ref.py (with embedding rows), on the tiny synthetic text model + mmproj written by
`gemmactl model synth --mmproj`.

Cases at budget 70: an upscaled image (100x75, F32 mmproj), a downscaled one (700x300, F16: the
converter's real layout), one already at its target size (432x336, no resampling, F32), and
the Q8_0 mmproj (300x200), and a strip (2000x30: shrunk 0.6x across, stretched 1.6x down, one
pooled row of 68 cells).

Tolerances (max |engine - reference| over all values, relative to max |reference|):
* EMBD_TOL = 1e-4 for F32/F16 towers. Both sides compute the same function of the same
  weights; the engine in float32, the reference in float64 (float32 only at matmul inputs).
  Measured ~1e-6; a wrong op (a RoPE pair, a pooling index, a missing clamp or norm) moves
  soft tokens by O(0.1..1).
* EMBD_TOL_Q = 0.05 for Q8_0: activations are quantised to Q8_0 before each matmul on both
  sides and a float32 rounding difference can flip an element by one quantum (compare.py,
  Q_TOL); the cascade through two blocks stays far below an O(1) bug.
* LOGITS_TOL = 2e-3 absolute (logits soft-capped to ±30): compare.py's F32_TOL (1e-3), doubled
  because the engine's and the reference's soft tokens (each from its own encoder) enter the
  prompt.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gemma4_ref import Gemma4Ref  # noqa: E402
from vision_ref import VisionRef, preprocess, target_size, test_image  # noqa: E402

EMBD_TOL = 1e-4
EMBD_TOL_Q = 0.05
LOGITS_TOL = 2e-3
PLACEHOLDER = 3   # stands for <|image|> in the tiny vocabulary
BOI, EOI = 4, 5   # stand for <|image> / <image|>


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gemmactl", required=True)
    ap.add_argument("--probe", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    text = os.path.join(a.dir, "tiny.gguf")
    mms = {}
    for q in ("f32", "f16", "q8_0"):
        mms[q] = os.path.join(a.dir, f"mmproj-tiny-{q}.gguf")
        run([a.gemmactl, "model", "synth", "--preset", "tiny", "--seed", "3", "-o", text,
             "--mmproj", mms[q], "--mmproj-quant", q])
    cases = [(100, 75, 70, "f32"), (700, 300, 70, "f16"), (432, 336, 70, "f32"),
             (300, 200, 70, "q8_0"), (2000, 30, 70, "f32")]
    failures = []
    ids = [2, 17, 99, 250, 7, 301, 44, 12]
    text_ref = Gemma4Ref(text)
    for (w, h, budget, q) in cases:
        rgb = test_image(w, h, seed=w * 7 + h)
        img = os.path.join(a.dir, f"img-{w}x{h}.rgb")
        rgb.tofile(img)
        embd = os.path.join(a.dir, "embd.f32")
        logits = os.path.join(a.dir, "logits.f32")
        at = 4
        run([a.probe, "--mmproj", mms[q], "--image", img, "--width", str(w), "--height", str(h),
             "--budget", str(budget), "--embd-out", embd, "--model", text,
             "--ids", " ".join(map(str, ids[:at] + [BOI, EOI] + ids[at:])),
             "--image-at", str(at + 1), "--placeholder", str(PLACEHOLDER),
             "--logits-out", logits])
        ref = VisionRef(mms[q]).encode(preprocess(rgb, w, h, budget))
        got = np.fromfile(embd, dtype=np.float32).reshape(-1, ref.shape[1])
        tw, th = target_size(w, h, budget)
        n_tok = (tw // 48) * (th // 48)
        tag = f"{w}x{h} budget {budget} {q} ({tw}x{th}, {n_tok} tokens)"
        if got.shape != ref.shape or ref.shape[0] != n_tok:
            failures.append(f"{tag}: shape {got.shape} vs reference {ref.shape}")
            continue
        rel = float(np.abs(got - ref).max() / np.abs(ref).max())
        tol = EMBD_TOL_Q if q == "q8_0" else EMBD_TOL
        # The prompt: ids[:at], <|image>, N soft tokens, <image|>, ids[at:].
        prompt = ids[:at] + [BOI] + [PLACEHOLDER] * n_tok + [EOI] + ids[at:]
        soft = {at + 1 + r: ref[r] for r in range(n_tok)}
        text_ref.reset()
        z_ref = text_ref.forward(prompt, embeddings=soft)
        z = np.fromfile(logits, dtype=np.float32).reshape(z_ref.shape)
        dz = float(np.abs(z - z_ref).max())
        # Without the soft tokens the logits after the image must differ: the rows matter.
        text_ref.reset()
        z_plain = text_ref.forward(prompt)
        effect = float(np.abs(z_plain[at + 1 + n_tok:] - z_ref[at + 1 + n_tok:]).max())
        print(f"{tag}: soft tokens max rel diff {rel:.2e} (tol {tol:g}); logits max diff "
              f"{dz:.2e} (tol {LOGITS_TOL:g}); image effect on later logits {effect:.2f}")
        if not rel <= tol:
            failures.append(f"{tag}: soft tokens differ by {rel:.2e} > {tol:g}")
        if q != "q8_0" and not dz <= LOGITS_TOL:
            failures.append(f"{tag}: logits differ by {dz:.2e} > {LOGITS_TOL:g}")
        if not effect > 0.1:
            failures.append(f"{tag}: the image barely changes the logits ({effect:.3f})")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
