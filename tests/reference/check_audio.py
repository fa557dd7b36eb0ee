#!/usr/bin/python3
"""The engine's audio front end and encoder against the NumPy reference (audio_ref.py).

Signals: silence, a 440 Hz tone, a chirp (100 Hz - 7 kHz), an odd length, one frame
(161 samples), a loud signal beyond [-1, 1] (used as is), and 30.5 s of chirp (two chunks).
The mmproj is the tiny synthetic tower (`audio_dump synth`) with f32, f16 and q8_0 weights;
its clip bounds bind on ~2.4 % of the clipped linears' values.

Tolerances:
  features: |engine - ref| <= 1e-5 absolute (log domain; the engine computes in double and
    rounds to float32 once: measured <= 3e-7).
  encoder, f32/f16 weights: max |engine - ref| <= 1e-4 * rms(ref) per signal (measured
    <= 2.2e-6 x rms). The engine keeps float32 activations (f32 accumulation, rounded at each
    op) against float64 here; clamps are continuous, so the error stays at rounding size.
  encoder, q8_0 weights: both sides quantise each matmul input row to Q8_0 blocks, but a
    value within rounding of a code boundary can flip one code (1/127 of the block's max)
    and attention spreads the flip to later tokens; so max |diff| <= 0.1 * rms and mean
    |diff| <= 5e-3 * rms (measured on 1 s signals: max 3e-7 .. 3e-2 x rms; on 30.5 s, not run
    in CI: max 4.6e-2, mean 1.5e-3 x rms).
With --gemmactl, also the public path: `gemmactl model synth --preset tiny --mmproj` (both
towers in one file, f16 and q8_0), opened as an MmprojFile and bound to the text model by
AudioEncoder (`audio_dump encoder`), for the tone and the chirp.
Exits 1 on a mismatch, naming the signal, the worst element and the tolerance, and (for the
raw-tower cases) the first intermediate that diverges, from the engine's taps.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

import audio_ref
from gguf_read import GgufFile

FEATURE_TOL = 1e-5
ENCODER_REL_TOL = 1e-4
Q8_MAX_REL_TOL = 0.1
Q8_MEAN_REL_TOL = 5e-3
TEXT_D = 48


def signals():
    sr = audio_ref.SAMPLE_RATE
    t = np.arange(sr) / sr
    chirp = lambda n: 0.8 * np.sin(2 * np.pi * (100 * (np.arange(n) / sr) + 0.5 * (6900 / (n / sr)) * (np.arange(n) / sr) ** 2))
    rng = np.random.default_rng(7)
    return {
        "silence_1s": np.zeros(sr),
        "tone_440hz_1s": 0.5 * np.sin(2 * np.pi * 440 * t),
        "chirp_1s": chirp(sr),
        "noise_odd_12345": 0.3 * rng.standard_normal(12345),
        "one_frame_161": 0.5 * np.sin(2 * np.pi * 1000 * np.arange(161) / sr),
        "loud_tone_1s": 3.0 * np.sin(2 * np.pi * 220 * t),
        "chirp_30.5s": chirp(30 * sr + sr // 2),
    }


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}: {r.stderr.strip()}")


def worst(a, b):
    d = np.abs(a.astype(np.float64) - b)
    i = int(np.argmax(d))
    return float(d.flat[i]), i


def first_divergence(args, tmp, mmproj, pcm, ref, x32):
    """Reruns the engine with GEMMAD_TAP and names the first intermediate (in forward order)
    whose worst element differs by more than ENCODER_REL_TOL x its rms."""
    tap_dir = os.path.join(tmp, "taps")
    subprocess.run(["rm", "-rf", tap_dir], check=True)
    env = dict(os.environ, GEMMAD_TAP=tap_dir)
    subprocess.run([args.audio_dump, "encode", mmproj, str(TEXT_D), pcm, os.path.join(tmp, "t")],
                   env=env, check=True, capture_output=True)
    ref.taps = []
    ref.encode(x32)
    offsets = {}
    for name, layer, chunk, want in ref.taps:
        path = os.path.join(tap_dir, f"{name}.{'g' if layer < 0 else layer}.f32")
        start = offsets.get(path, 0)
        got = np.fromfile(path, "<f4")[start:start + want.size].reshape(want.shape)
        offsets[path] = start + want.size
        d, i = worst(got, want)
        scale = float(np.sqrt(np.mean(want * want))) or 1.0
        if d > ENCODER_REL_TOL * scale:
            print(f"     first divergence: '{name}' layer {layer} chunk {chunk}: max |diff| "
                  f"{d:.3e} = {d / scale:.2e} x rms at row {i // want.shape[1]}")
            break
    ref.taps = None


def compare_embeddings(label, ty, got, want):
    """Prints one line; True if `got` matches `want` within the tolerance of weight type ty."""
    if got.shape != want.shape:
        print(f"FAIL {label}: embeddings shape {got.shape}, reference {want.shape}")
        return False
    d, i = worst(got, want)
    scale = float(np.sqrt(np.mean(want * want)))
    if ty == "q8_0":
        mean = float(np.mean(np.abs(got - want)))
        ok = d <= Q8_MAX_REL_TOL * scale and mean <= Q8_MEAN_REL_TOL * scale
    else:
        ok = d <= ENCODER_REL_TOL * scale
    tol = Q8_MAX_REL_TOL if ty == "q8_0" else ENCODER_REL_TOL
    print(f"{'ok  ' if ok else 'FAIL'} {label}: {got.shape[0]} tokens x {got.shape[1]}, max |diff| "
          f"{d:.2e} = {d / scale:.2e} x rms {scale:.3f} at {divmod(i, got.shape[1])} "
          f"(tol {tol:g} x rms)")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--audio-dump", required=True)
    ap.add_argument("--gemmactl")
    args = ap.parse_args()
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        mmprojs = {}
        for ty in ("f32", "f16", "q8_0"):
            mmprojs[ty] = os.path.join(tmp, f"mmproj-{ty}.gguf")
            run([args.audio_dump, "synth", mmprojs[ty], "tiny", str(TEXT_D), ty, "3"])
        refs = {ty: audio_ref.AudioRef(p) for ty, p in mmprojs.items()}
        for name, x in signals().items():
            pcm = os.path.join(tmp, name + ".f32")
            x.astype("<f4").tofile(pcm)
            x32 = np.fromfile(pcm, "<f4")
            feats = os.path.join(tmp, name + ".feat")
            run([args.audio_dump, "features", pcm, feats])
            got = np.fromfile(feats, "<f4").reshape(-1, audio_ref.N_MEL)
            want = audio_ref.log_mel(x32)
            if got.shape != want.shape:
                print(f"FAIL {name}: features shape {got.shape}, reference {want.shape}")
                failures += 1
                continue
            d, i = worst(got, want)
            ok = d <= FEATURE_TOL
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name}: features {got.shape}, max |diff| {d:.2e} "
                  f"at {divmod(i, audio_ref.N_MEL)} (tol {FEATURE_TOL:g})")
            for ty, ref in refs.items():
                if len(x) > audio_ref.CHUNK and ty != "f16":
                    continue  # the two-chunk case once: it is most of this test's time
                out = os.path.join(tmp, f"{name}-{ty}.emb")
                run([args.audio_dump, "encode", mmprojs[ty], str(TEXT_D), pcm, out])
                got = np.fromfile(out, "<f4").reshape(-1, TEXT_D)
                if not compare_embeddings(f"{name} [{ty}]", ty, got, ref.encode(x32)):
                    failures += 1
                    first_divergence(args, tmp, mmprojs[ty], pcm, ref, x32)
        if args.gemmactl:
            failures += check_public_path(args, tmp)
    return 1 if failures else 0


def check_public_path(args, tmp):
    failures = 0
    sig = signals()
    for ty in ("f16", "q8_0"):
        text = os.path.join(tmp, f"text-{ty}.gguf")
        mm = os.path.join(tmp, f"both-{ty}.gguf")
        run([args.gemmactl, "model", "synth", "--preset", "tiny", "--seed", "9", "-o", text,
             "--mmproj", mm, "--mmproj-quant", ty])
        ref = audio_ref.AudioRef(mm)
        d_text = int(GgufFile(text).kv["gemma4.embedding_length"])
        for name in ("tone_440hz_1s", "chirp_1s"):
            pcm = os.path.join(tmp, name + ".f32")
            sig[name].astype("<f4").tofile(pcm)
            out = os.path.join(tmp, f"{name}-{ty}.pub")
            run([args.audio_dump, "encoder", text, mm, pcm, out])
            got = np.fromfile(out, "<f4").reshape(-1, d_text)
            want = ref.encode(np.fromfile(pcm, "<f4"))
            failures += not compare_embeddings(f"{name} [gemmactl mmproj {ty}, AudioEncoder]",
                                               ty, got, want)
    return failures


if __name__ == "__main__":
    sys.exit(main())
