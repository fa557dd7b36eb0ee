"""Shared helpers of the gemmactl command-line contract tests (docs/DESIGN.md).

Each test_*.py file is one ctest test. It is run as
    /usr/bin/python3 test_x.py --gemmactl PATH [--tokenizer-json PATH] [--reference PATH]
and every option may instead come from the environment (GEMMACTL_BIN, GEMMAD_TOKENIZER_JSON,
GEMMAD_TOKENIZER_REFERENCE). The remaining arguments go to unittest.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import unittest

# Exit codes of the contract (docs/DESIGN.md "Command-line contract").
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NO_DAEMON = 3
EXIT_BAD_MODEL = 4

# One gemmactl run may take this long at most (ASan builds are several times slower).
RUN_TIMEOUT_S = 240


class Config:
    gemmactl = ""
    tokenizer_json = ""
    reference = ""


def main():
    """Parses our options, then hands the rest of the command line to unittest."""
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--gemmactl", default=os.environ.get("GEMMACTL_BIN", ""))
    # The environment wins over the build's default, so CI or a developer can point
    # elsewhere without reconfiguring.
    ap.add_argument("--tokenizer-json", default="")
    ap.add_argument("--reference", default="")
    args, rest = ap.parse_known_args()
    Config.gemmactl = args.gemmactl
    Config.tokenizer_json = os.environ.get("GEMMAD_TOKENIZER_JSON") or args.tokenizer_json
    Config.reference = os.environ.get("GEMMAD_TOKENIZER_REFERENCE") or args.reference
    if not Config.gemmactl or not os.access(Config.gemmactl, os.X_OK):
        sys.exit(f"gemmactl binary not found: '{Config.gemmactl}' (pass --gemmactl PATH or set "
                 "GEMMACTL_BIN)")
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


class Run:
    """One finished gemmactl process."""

    def __init__(self, argv, proc):
        self.argv = argv
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def text(self):
        return self.out.decode("utf-8")

    def err_text(self):
        return self.err.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.out.decode("utf-8"))

    def err_json(self):
        return json.loads(self.err.decode("utf-8"))

    def describe(self):
        return (f"gemmactl {' '.join(self.argv)}\nexit {self.code}\nstdout: "
                f"{self.out[:2000]!r}\nstderr: {self.err[:2000]!r}")


def gemmactl(*argv, stdin=b"", env=None):
    """Runs gemmactl with `argv`; `stdin` bytes are its standard input."""
    full_env = dict(os.environ)
    # Never reach a daemon someone happens to run on this machine: offline verbs must not
    # need one, and the daemon tests pass a socket path that does not exist.
    full_env["GEMMAD_SOCKET"] = "/nonexistent/gemmad-cli-test.sock"
    full_env["XDG_RUNTIME_DIR"] = "/nonexistent"
    full_env.pop("GEMMAD_MODEL", None)
    if env:
        full_env.update(env)
    argv = [str(a) for a in argv]
    proc = subprocess.run([Config.gemmactl, *argv], input=stdin, capture_output=True,
                          env=full_env, timeout=RUN_TIMEOUT_S)
    return Run(argv, proc)


class CliTestCase(unittest.TestCase):
    """Assertions about gemmactl runs that print the whole run when they fail."""

    def assert_exit(self, run, code):
        self.assertEqual(run.code, code, f"expected exit {code}\n" + run.describe())

    def ok(self, *argv, stdin=b"", env=None):
        run = gemmactl(*argv, stdin=stdin, env=env)
        self.assert_exit(run, EXIT_OK)
        return run

    def ok_json(self, *argv, stdin=b""):
        run = self.ok(*argv, "--json", stdin=stdin)
        try:
            return run.json()
        except ValueError as e:
            self.fail(f"stdout is not one JSON document ({e})\n" + run.describe())

    def assert_json_error(self, run, code, mentions=()):
        """The contract's error form under --json: exit `code`, nothing on stdout, and
        {"error": {"code", "message"}} on stderr; the message names each of `mentions`."""
        self.assert_exit(run, code)
        self.assertEqual(run.out, b"", "an error must not print a document on stdout\n" +
                         run.describe())
        try:
            doc = run.err_json()
        except ValueError as e:
            self.fail(f"stderr is not one JSON document ({e})\n" + run.describe())
        self.assertIsInstance(doc.get("error"), dict, run.describe())
        err = doc["error"]
        self.assertIsInstance(err.get("code"), str, run.describe())
        self.assertNotEqual(err["code"], "", run.describe())
        self.assertIsInstance(err.get("message"), str, run.describe())
        self.assertNotEqual(err["message"], "", run.describe())
        for m in mentions:
            self.assertIn(str(m), err["message"], run.describe())
        return err


def has_flag(help_text, flag):
    """True if `flag` (e.g. "--json", "-n", "FILE") appears in help as a word of its own."""
    return re.search(r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])", help_text) is not None
