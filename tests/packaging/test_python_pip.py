#!/usr/bin/python3
"""The Python client as pip installs it (clients/python: pyproject.toml + setup.py): an offline
`pip install --no-build-isolation` builds it with the protobuf bindings generated from
ipc/proto/gemmad.proto; the installed module and `gemmad-chat` talk to a real gemmad on a tiny
model; failures print one line and an exit code, never a traceback.

    test_python_pip.py --source DIR --gemmad BIN --gemmactl BIN
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)


class PipInstalledClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="gemmad-pip-")
        # pip builds in the source directory; build a copy so the checkout stays clean.
        src = os.path.join(cls.tmp.name, "src")
        shutil.copytree(os.path.join(ARGS.source, "clients/python"), src,
                        ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
        cls.site = os.path.join(cls.tmp.name, "site")
        env = dict(os.environ, GEMMAD_PROTO_DIR=os.path.join(ARGS.source, "ipc/proto"),
                   PIP_DISABLE_PIP_VERSION_CHECK="1")
        cls.pip = run(["/usr/bin/python3", "-m", "pip", "install", "--no-build-isolation",
                       "--no-index", "--no-deps", "--target", cls.site, src], env=env)
        cls.env = dict(os.environ, PYTHONPATH=cls.site)
        cls.env.pop("GEMMAD_PROTO_PY", None)
        cls.chat = os.path.join(cls.site, "bin", "gemmad-chat")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.assertEqual(self.pip.returncode, 0, self.pip.stdout + self.pip.stderr)

    def python(self, code, *argv):
        return run(["/usr/bin/python3", "-c", code, *argv], env=self.env,
                   cwd=self.tmp.name)

    def test_installs_the_module_and_generated_bindings(self):
        for name in ("gemmad_client.py", "gemmad_pb2.py", "gemmad_chat.py"):
            self.assertTrue(os.path.isfile(os.path.join(self.site, name)), name)
        r = self.python("import gemmad_client; pb = gemmad_client.load_proto(); "
                        "print(pb.ClientMessage.DESCRIPTOR.full_name)")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ClientMessage", r.stdout)

    def test_no_daemon_is_one_line_and_exit_3(self):
        sock = os.path.join(self.tmp.name, "nobody-listens.sock")
        r = run(["/usr/bin/python3", self.chat, "--socket", sock, "--status"], env=self.env)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn(sock, r.stderr)

    def test_missing_bindings_is_a_message(self):
        # A copy of the module without gemmad_pb2 beside it.
        bare = os.path.join(self.tmp.name, "bare")
        os.makedirs(bare, exist_ok=True)
        for name in ("gemmad_client.py", "gemmad_chat.py"):
            shutil.copy(os.path.join(self.site, name), bare)
        r = run(["/usr/bin/python3", os.path.join(bare, "gemmad_chat.py"), "--status"],
                env=dict(self.env, PYTHONPATH=bare))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        self.assertIn("python3-gemmad", r.stderr)

    def test_chat_with_a_real_daemon(self):
        model = os.path.join(self.tmp.name, "tiny.gguf")
        r = run([ARGS.gemmactl, "model", "synth", "--preset", "tiny", "-o", model])
        self.assertEqual(r.returncode, 0, r.stderr)
        sock = os.path.join(self.tmp.name, "gemmad.sock")
        log = open(os.path.join(self.tmp.name, "gemmad.log"), "w")
        daemon = subprocess.Popen([ARGS.gemmad, "--config", os.devnull, "--model", model,
                                   "--state-dir", os.path.join(self.tmp.name, "state"),
                                   "--socket", sock], stderr=log)
        try:
            deadline = time.monotonic() + 60
            while not os.path.exists(sock) and daemon.poll() is None:
                self.assertLess(time.monotonic(), deadline, "gemmad never made its socket")
                time.sleep(0.05)
            self.assertIsNone(daemon.poll(), "gemmad exited")
            r = run(["/usr/bin/python3", self.chat, "--socket", sock, "--new", "--temp", "0",
                     "-n", "6", "Hello from pip"], env=self.env)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertRegex(r.stderr, r"\[session \S+, \d+ tokens")
            r = run(["/usr/bin/python3", self.chat, "--socket", sock, "--list"], env=self.env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(len(r.stdout.strip().splitlines()), 1, r.stdout)
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
            log.close()


def main():
    global ARGS
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--source", required=True)
    ap.add_argument("--gemmad", required=True)
    ap.add_argument("--gemmactl", required=True)
    ARGS, rest = ap.parse_known_args()
    ARGS.source = os.path.abspath(ARGS.source)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
