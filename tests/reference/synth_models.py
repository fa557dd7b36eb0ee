#!/usr/bin/python3
"""Test fixture: writes the tiny synthetic models the reference tests use into --dir."""
import argparse
import os
import subprocess
import sys

MODELS = {
    "tiny-f32": ["--quant", "f32"],
    "tiny-q4_0": ["--quant", "q4_0"],
    "tiny-q4_0-shared-kv": ["--quant", "q4_0", "--shared-kv"],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gemmactl", required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    for name, flags in MODELS.items():
        out = os.path.join(args.dir, name + ".gguf")
        cmd = [args.gemmactl, "model", "synth", "--preset", "tiny", "--seed", "1", *flags,
               "-o", out]
        p = subprocess.run(cmd)
        if p.returncode != 0:
            print(f"FAIL: {' '.join(cmd)} exited {p.returncode}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
