#!/usr/bin/python3
"""Daemon verbs when no daemon listens (docs/DESIGN.md contract): exit 3, and with --json the
error document on stderr. The socket comes from --socket, else $GEMMAD_SOCKET."""
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

import cli_support as cs  # noqa: E402

MISSING_SOCKET = "/nonexistent/x.sock"

# Verbs that need the daemon when no --model is given.
DAEMON_VERBS = (
    ["status"],
    ["session", "ls"],
    ["session", "show", "1"],
    ["session", "rm", "1"],
    ["chat", "hello"],
    ["generate", "-n", "1", "hello"],
)


class WithoutADaemon(cs.CliTestCase):

    def test_status_exits_3_naming_the_socket(self):
        run = cs.gemmactl("--socket", MISSING_SOCKET, "status")
        self.assert_exit(run, cs.EXIT_NO_DAEMON)
        self.assertEqual(run.out, b"", run.describe())
        self.assertIn(MISSING_SOCKET, run.err_text())

    def test_status_json_prints_the_error_document_on_stderr(self):
        run = cs.gemmactl("--socket", MISSING_SOCKET, "status", "--json")
        self.assert_json_error(run, cs.EXIT_NO_DAEMON, mentions=[MISSING_SOCKET])

    def test_every_daemon_verb_exits_3(self):
        for argv in DAEMON_VERBS:
            with self.subTest(verb=" ".join(argv)):
                self.assert_exit(cs.gemmactl("--socket", MISSING_SOCKET, *argv),
                                 cs.EXIT_NO_DAEMON)

    def test_global_options_may_follow_the_verb(self):
        # As with systemctl: `gemmactl chat --socket S ...` and `session ls --socket S`.
        for argv in DAEMON_VERBS:
            with self.subTest(verb=" ".join(argv)):
                run = cs.gemmactl(*argv, "--socket", MISSING_SOCKET, "--app", "late-flags")
                self.assert_exit(run, cs.EXIT_NO_DAEMON)
                self.assertIn(MISSING_SOCKET, run.err_text())
        # The message names the socket once, without repeating itself.
        run = cs.gemmactl("status", "--socket", MISSING_SOCKET)
        self.assertEqual(run.err_text().count("cannot reach gemmad"), 1, run.describe())

    def test_socket_comes_from_the_environment_without_the_flag(self):
        socket = "/nonexistent/from-env.sock"
        run = cs.gemmactl("status", "--json", env={"GEMMAD_SOCKET": socket})
        self.assert_json_error(run, cs.EXIT_NO_DAEMON, mentions=[socket])

    def test_socket_flag_overrides_the_environment(self):
        run = cs.gemmactl("--socket", MISSING_SOCKET, "status", "--json",
                          env={"GEMMAD_SOCKET": "/nonexistent/from-env.sock"})
        self.assert_json_error(run, cs.EXIT_NO_DAEMON, mentions=[MISSING_SOCKET])

    def test_a_path_that_is_not_a_socket_exits_3(self):
        with tempfile.NamedTemporaryFile(prefix="gemmad-cli-") as f:
            self.assert_exit(cs.gemmactl("--socket", f.name, "status"), cs.EXIT_NO_DAEMON)

    def test_offline_verbs_need_no_daemon(self):
        # --model runs in-process: the unreachable socket must not matter.
        with tempfile.TemporaryDirectory(prefix="gemmad-cli-") as d:
            model = os.path.join(d, "tiny.gguf")
            self.ok("--socket", MISSING_SOCKET, "model", "synth", "--preset", "tiny", "-o", model)
            self.ok("--socket", MISSING_SOCKET, "generate", "--model", model, "--ids", "2 10",
                    "-n", 1, "--temp", 0)
            self.ok("--socket", MISSING_SOCKET, "tokenize", "--model", model, "x")


if __name__ == "__main__":
    cs.main()
