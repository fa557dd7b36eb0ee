#!/usr/bin/python3
"""gemmactl against the real gemmad (tiny synthetic model, temporary socket and state):
shutdown (owner only, waits for the drain, tells a drain from a cancel), session ids by
unique prefix, Landlock in `status`, the socket found without --socket, and the chat REPL
driven through a pseudo-terminal (libedit, history, slash commands, multi-line input, a
failed turn that leaves it open)."""
import json
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

import cli_support as cs  # noqa: E402

GEMMAD = ""
START_TIMEOUT_S = 60


class Daemon:
    """One gemmad on a socket in `workdir`, started with `config` (TOML)."""

    def __init__(self, workdir, config=""):
        self.dir = workdir
        self.socket = os.path.join(workdir, "gemmad.sock")
        self.model = os.path.join(workdir, "tiny.gguf")
        if not os.path.exists(self.model):
            cs.gemmactl("model", "synth", "--preset", "tiny", "--quant", "q4_0", "-o", self.model)
        conf = os.path.join(workdir, "gemmad.toml")
        with open(conf, "w") as f:
            f.write(config)
        self.log_path = os.path.join(workdir, "gemmad.log")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [GEMMAD, "--config", conf, "--model", self.model, "--state-dir", workdir],
                stdout=log, stderr=log, env=self.env())
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.ctl("status").code != cs.EXIT_OK:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gemmad did not come up:\n" + self.log())
            time.sleep(0.05)

    def env(self):
        # No --socket on either side: both find it through $GEMMAD_SOCKET, the shared rule.
        return {"GEMMAD_SOCKET": self.socket}

    def ctl(self, *argv, stdin=b""):
        return cs.gemmactl(*argv, stdin=stdin, env=self.env())

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=60)


def privacy_config():
    # Where seccomp cannot load (qemu-user), the other checks still run.
    with open("/proc/self/status") as f:
        return "" if "Seccomp:" in f.read() else "[privacy]\nnetwork_filter = false\n"


class WithDaemon(cs.CliTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="gemmactl-daemon-")
        os.chmod(cls.tmp.name, 0o755)  # the socket's directory: other users may look in
        cls.d = Daemon(cls.tmp.name, privacy_config() + "[server]\nsocket_mode = 0o666\n")

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmp.cleanup()

    def chat(self, *argv):
        run = self.d.ctl("chat", "--json", "-n", "2", *argv)
        self.assert_exit(run, cs.EXIT_OK)
        return run.json()

    def test_status_shows_the_landlock_state_in_force(self):
        doc = self.d.ctl("status", "--json")
        self.assert_exit(doc, cs.EXIT_OK)
        landlock = doc.json()["daemon"]["landlock"]
        self.assertRegex(landlock, r"^(landlock ABI \d+: fs( \+ net)?|unavailable .*)$")
        m = re.match(r"landlock ABI (\d+)", landlock)
        if m and int(m.group(1)) >= 4:
            self.assertIn("fs + net", landlock)
        print(f"\n  Landlock in force here: {landlock}", file=sys.stderr)
        self.assertIn("landlock", self.d.ctl("status").text())

    def test_a_unique_session_prefix_names_the_session(self):
        sid = self.chat("--new", "first message")["session"]
        for n in range(len(sid), 3, -1):
            run = self.d.ctl("session", "ls", "--json")
            others = [s["id"] for s in run.json()["sessions"] if s["id"] != sid]
            if not any(o.startswith(sid[:n - 1]) for o in others):
                break
        prefix = sid[:n]
        shown = self.d.ctl("session", "show", "--json", prefix)
        self.assert_exit(shown, cs.EXIT_OK)
        self.assertEqual(shown.json()["id"], sid)
        again = self.chat("--session", prefix, "second message")
        self.assertEqual(again["session"], sid)

    def test_an_ambiguous_prefix_lists_the_candidates(self):
        # 17 sessions: two of them share their first hex digit (pigeonhole).
        ids = []
        while True:
            ids.append(self.chat("--new", f"s{len(ids)}")["session"])
            firsts = [i[0] for i in ids]
            dup = next((c for c in firsts if firsts.count(c) > 1), None)
            if dup:
                break
        run = self.d.ctl("session", "show", "--json", dup)
        self.assert_json_error(run, cs.EXIT_ERROR, mentions=["ambiguous"])
        message = run.err_json()["error"]["message"]
        for i in ids:
            if i.startswith(dup):
                self.assertIn(i, message)

    def test_an_unknown_prefix_is_not_found(self):
        run = self.d.ctl("session", "rm", "--json", "zz")
        self.assert_json_error(run, cs.EXIT_ERROR, mentions=["zz"])
        self.assertEqual(run.err_json()["error"]["code"], "not_found")

    def test_shutdown_by_another_user_is_refused_and_the_daemon_stays_up(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run gemmactl as another uid")
        proc = subprocess.run([cs.Config.gemmactl, "shutdown", "--json"], capture_output=True,
                              env={**os.environ, **self.d.env()}, timeout=60,
                              preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)))
        self.assertEqual(proc.returncode, cs.EXIT_ERROR, proc.stderr)
        err = json.loads(proc.stderr)["error"]
        self.assertEqual(err["code"], "permission_denied")
        self.assertIn("65534", err["message"])
        self.assert_exit(self.d.ctl("status"), cs.EXIT_OK)

    def test_the_repl_edits_lines_keeps_history_and_survives_a_failed_turn(self):
        state = tempfile.mkdtemp(dir=self.tmp.name)
        pid, fd = pty.fork()
        if pid == 0:
            os.environ.update(self.d.env())
            os.environ["XDG_STATE_HOME"] = state
            os.environ["TERM"] = "dumb"
            os.execv(cs.Config.gemmactl, [cs.Config.gemmactl, "chat", "-n", "2"])
        out = Pty(fd, self)
        out.expect(r"session new")
        out.expect(r"/help")
        out.send("/help\r")
        out.expect(r"/system TEXT")
        out.send("/set temp 0\r")
        out.expect(r"temp = 0")
        out.send("/set max-tokens 100000\r")  # the client allows it; the daemon refuses it
        out.expect(r"max-tokens = 100000")
        out.send("this turn fails\r")
        out.expect(r"gemmactl: .*max_tokens")
        out.send("/set max-tokens 2\r")
        out.send("a message that goes on \\\r")
        out.expect(r"\.\.\. ")
        out.send("on a second line\r")
        out.send('"""\r')
        out.send("a block\r")
        out.send('"""\r')
        out.send("/bogus\r")
        out.expect(r"unknown command /bogus")
        out.send("/bye\r")
        out.expect(r"session [0-9a-f]{32}")
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), cs.EXIT_OK, out.seen)
        with open(os.path.join(state, "gemmactl", "history"), errors="replace") as f:
            # libedit's format: octal escapes for blanks and newlines.
            history = f.read().replace("\\040", " ").replace("\\012", "\n")
        self.assertIn("/set temp 0", history)
        self.assertIn("a block", history)
        sid = re.findall(r"session ([0-9a-f]{32})", out.seen)[-1]
        shown = self.d.ctl("session", "show", "--json", sid).json()
        texts = [m["text"] for m in shown["messages"] if m["role"] == "user"]
        self.assertEqual(texts, ["a message that goes on \non a second line", "a block"])


class Pty:
    """Reads a pseudo-terminal until a pattern shows up (bounded)."""

    def __init__(self, fd, test):
        self.fd, self.test, self.seen, self.pos = fd, test, "", 0

    def send(self, text):
        os.write(self.fd, text.encode())

    def expect(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while not (m := rx.search(self.seen, self.pos)):
            left = deadline - time.monotonic()
            if left <= 0:
                self.test.fail(f"no {pattern!r} on the terminal; saw:\n{self.seen}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    self.test.fail(f"terminal closed before {pattern!r}; saw:\n{self.seen}")
                self.seen += chunk.decode("utf-8", errors="replace")
        self.pos = m.end()


class Shutdown(cs.CliTestCase):
    """Each test has its own daemon: shutdown ends it."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="gemmactl-shutdown-")

    def tearDown(self):
        self.tmp.cleanup()

    def status_json(self, d):
        return d.ctl("status", "--json").json()

    def test_shutdown_drains_and_returns_when_gemmad_has_exited(self):
        d = Daemon(self.tmp.name, privacy_config())
        run = d.ctl("shutdown", "--json")
        self.assert_exit(run, cs.EXIT_OK)
        self.assertTrue(run.json()["stopped"])
        self.assertEqual(run.json()["pid"], d.proc.pid)
        self.assertEqual(d.proc.wait(timeout=60), 0, d.log())
        self.assertIn("Shutdown request from uid", d.log())
        self.assertFalse(os.path.exists(d.socket))

    def test_a_turn_drained_by_shutdown_is_not_a_cancel(self):
        # One sequence at a time: the second turn waits in the queue, and the drain drops it.
        d = Daemon(self.tmp.name, privacy_config() + "[model]\nmax_sequences = 1\n")
        env = {**os.environ, "GEMMAD_SOCKET": d.socket}
        long = subprocess.Popen([cs.Config.gemmactl, "chat", "--json", "--ignore-eos", "-n", "3000",
                                 "long"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.wait_for(d, lambda q: q["active"] == 1)
        queued = subprocess.Popen([cs.Config.gemmactl, "chat", "--json", "-n", "4", "queued"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.wait_for(d, lambda q: q["queued"] == 1)
        self.assert_exit(d.ctl("shutdown"), cs.EXIT_OK)
        out, err = queued.communicate(timeout=60)
        self.assertEqual(queued.returncode, cs.EXIT_NO_DAEMON, err)
        self.assertEqual(json.loads(out)["stop_reason"], "shutdown")
        long.communicate(timeout=60)
        self.assertIn(long.returncode, (cs.EXIT_OK, cs.EXIT_NO_DAEMON))
        self.assertEqual(d.proc.wait(timeout=60), 0, d.log())

    def wait_for(self, d, pred, timeout=60):
        deadline = time.monotonic() + timeout
        while not pred(self.status_json(d)["queue"]):
            self.assertLess(time.monotonic(), deadline, "the queue never got there")
            time.sleep(0.02)


if __name__ == "__main__":
    if "--gemmad" in sys.argv:
        i = sys.argv.index("--gemmad")
        GEMMAD = sys.argv[i + 1]
        del sys.argv[i:i + 2]
    GEMMAD = GEMMAD or os.environ.get("GEMMAD_BIN", "")
    if not os.access(GEMMAD, os.X_OK):
        sys.exit(f"gemmad binary not found: '{GEMMAD}' (pass --gemmad PATH or set GEMMAD_BIN)")
    cs.main()
