#!/usr/bin/python3
"""The systemd integration of gemmad (packaging/): the units verify and score SAFE in
`systemd-analyze security`, the command line of gemmad.service is one gemmad accepts,
sysusers/tmpfiles create the user, groups and model directory, and gemmad adopts a socket
passed by socket activation (systemd-socket-activate, as gemmad.socket does).

    test_systemd_units.py --source DIR --gemmad BIN --gemmactl BIN
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None
UNITS = ("gemmad.service", "gemmad.socket")


def run(*argv, **kw):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=120, **kw)


class SystemdUnits(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="gemmad-units-")
        self.units = os.path.join(self.tmp.name, "units")
        os.mkdir(self.units)
        for name in UNITS:
            with open(os.path.join(ARGS.source, "packaging/systemd", name)) as f:
                text = f.read()
            # verify checks that ExecStart's binary exists: point it at the built one.
            text = text.replace("/usr/sbin/gemmad", ARGS.gemmad)
            with open(os.path.join(self.units, name), "w") as f:
                f.write(text)

    def tearDown(self):
        self.tmp.cleanup()

    def exec_start(self):
        with open(os.path.join(ARGS.source, "packaging/systemd/gemmad.service")) as f:
            for line in f:
                if line.startswith("ExecStart="):
                    return line[len("ExecStart="):].split()
        self.fail("gemmad.service has no ExecStart")

    def test_units_verify_without_warnings(self):
        r = run("systemd-analyze", "verify", "--man=no",
                *[os.path.join(self.units, u) for u in UNITS])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.strip(), "", r.stderr)

    def test_service_exposure_is_safe(self):
        r = run("systemd-analyze", "security", "--offline=yes", "--threshold=10",
                os.path.join(self.units, "gemmad.service"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = re.search(r"Overall exposure level for gemmad.service: ([0-9.]+)", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        self.assertLessEqual(float(m.group(1)), 1.0, r.stdout)

    def test_service_allows_the_seccomp_call_gemmad_needs(self):
        # gemmad installs its own filter; @system-service alone would refuse seccomp(2), and
        # gemmad fails closed.
        with open(os.path.join(self.units, "gemmad.service")) as f:
            filters = [l for l in f if l.startswith("SystemCallFilter=") and "~" not in l]
        self.assertTrue(any(re.search(r"\bseccomp\b", l) for l in filters), filters)

    def test_exec_start_is_a_command_line_gemmad_accepts(self):
        argv = self.exec_start()
        state = os.path.join(self.tmp.name, "state")
        argv = [ARGS.gemmad if a == "/usr/sbin/gemmad" else a for a in argv]
        argv = [a.replace("${STATE_DIRECTORY}", state) for a in argv]
        argv = [os.path.join(ARGS.source, "config/gemmad.toml") if a == "/etc/gemmad/gemmad.toml"
                else a for a in argv]
        # The model path is the administrator's to set in /etc/gemmad/gemmad.toml.
        r = run(*argv, "--model", "/var/lib/gemmad/models/model.gguf", "--print-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('state_dir = "%s"  # --state-dir' % state, r.stdout)
        self.assertIn('socket = "/run/gemmad/gemmad.sock"  # --socket', r.stdout)

    @unittest.skipUnless(os.geteuid() == 0, "sysusers/tmpfiles --root need root to chown")
    def test_sysusers_and_tmpfiles_make_the_user_groups_and_model_dir(self):
        root = os.path.join(self.tmp.name, "root")
        os.makedirs(os.path.join(root, "etc"))
        r = run("systemd-sysusers", "--root=" + root,
                os.path.join(ARGS.source, "packaging/sysusers/gemmad.conf"))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(root, "etc/passwd")) as f:
            self.assertRegex(f.read(), r"(?m)^gemmad:x:\d+:\d+:.*:/var/lib/gemmad:")
        with open(os.path.join(root, "etc/group")) as f:
            groups = f.read()
        self.assertRegex(groups, r"(?m)^gemmad:x:")
        self.assertRegex(groups, r"(?m)^gemmad-admin:x:")
        r = run("systemd-tmpfiles", "--root=" + root, "--create",
                os.path.join(ARGS.source, "packaging/tmpfiles/gemmad.conf"))
        self.assertEqual(r.returncode, 0, r.stderr)
        st = os.stat(os.path.join(root, "var/lib/gemmad/models"))
        self.assertEqual(st.st_mode & 0o777, 0o750)


class SocketActivation(unittest.TestCase):
    def test_gemmad_serves_on_the_socket_it_is_given(self):
        with tempfile.TemporaryDirectory(prefix="gemmad-sa-") as d:
            model = os.path.join(d, "tiny.gguf")
            subprocess.run([ARGS.gemmactl, "model", "synth", "--preset", "tiny", "--quant",
                            "q4_0", "-o", model], check=True, capture_output=True)
            sock = os.path.join(d, "activated.sock")
            log = open(os.path.join(d, "gemmad.log"), "wb")
            # gemmad's --socket names another path: only the passed descriptor can answer.
            proc = subprocess.Popen(["systemd-socket-activate", "-l", sock, ARGS.gemmad,
                                     "--model", model, "--state-dir", d,
                                     "--socket", os.path.join(d, "not-this.sock")],
                                    stdout=log, stderr=log)
            try:
                for _ in range(200):
                    if os.path.exists(sock):
                        break
                    time.sleep(0.05)
                # The first connection starts gemmad (systemd-socket-activate waits for it).
                r = run(ARGS.gemmactl, "--socket", sock, "status", "--json")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertFalse(os.path.exists(os.path.join(d, "not-this.sock")))
                r = run(ARGS.gemmactl, "--socket", sock, "--app", "activated", "chat", "-n", "4",
                        "--temp", "0", "hello")
                self.assertEqual(r.returncode, 0, r.stderr)
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                log.close()


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--gemmad", required=True)
    ap.add_argument("--gemmactl", required=True)
    ARGS, rest = ap.parse_known_args()
    for tool in ("systemd-analyze", "systemd-socket-activate"):
        if shutil.which(tool) is None:
            print("missing %s (apt install systemd)" % tool, file=sys.stderr)
            return 1
    return 0 if unittest.main(argv=[sys.argv[0]] + rest, exit=False).result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
