#!/usr/bin/python3
"""The Python client (clients/python) against ipc_fake_daemon in its own process:
handshake, streaming, helpers, daemon errors, and the chat.py example end to end."""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import unittest

ARGS = None


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, ARGS.client_dir)
        global gemmad_client
        import gemmad_client
        gemmad_client.load_proto(ARGS.proto_path)
        cls.tmp = tempfile.TemporaryDirectory(prefix="gemmad-py-")
        cls.socket = os.path.join(cls.tmp.name, "gemmad.sock")
        cls.daemon = subprocess.Popen([ARGS.fake_daemon, cls.socket], stdout=subprocess.PIPE,
                                      text=True)
        line = cls.daemon.stdout.readline()  # blocks until the daemon listens
        if line.strip() != "ready":
            cls.daemon.kill()
            raise RuntimeError("ipc_fake_daemon did not start: %r" % line)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.send_signal(signal.SIGTERM)
        try:
            code = cls.daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cls.daemon.kill()
            raise
        cls.tmp.cleanup()
        assert code == 0, "ipc_fake_daemon exited with %d" % code

    def connect(self):
        client = gemmad_client.Client(self.socket)
        client.hello("py-test")
        return client

    def test_hello_returns_the_model_and_limits(self):
        with self.connect() as c:
            self.assertEqual(c.server_hello.model.name, "fake-model")
            self.assertEqual(c.server_hello.protocol_version, gemmad_client.PROTOCOL_VERSION)
            self.assertEqual(c.server_hello.limits.max_frame_bytes, 4 << 20)

    def test_chat_streams_tokens_in_order_then_done(self):
        with self.connect() as c:
            stream = c.chat("ab", new_session=True, max_tokens=20, temperature=0.0)
            tokens = list(stream)
            self.assertEqual([t.index for t in tokens], list(range(20)))
            self.assertEqual("".join(t.text for t in tokens), "ab" * 20)
            self.assertEqual(stream.done.usage.completion_tokens, 20)
            self.assertEqual(stream.done.stop_reason, c.pb.STOP_REASON_MAX_TOKENS)

    def test_cancel_ends_a_stream_with_a_cancelled_done(self):
        with self.connect() as c:
            stream = c.chat("x", title="wait-for-cancel", max_tokens=1000)
            seen = 0
            for _ in stream:
                seen += 1
                if seen == 1:
                    stream.cancel()
            self.assertEqual(seen, 1)
            self.assertEqual(stream.done.stop_reason, c.pb.STOP_REASON_CANCELLED)

    def test_list_sessions_and_status(self):
        with self.connect() as c:
            self.assertEqual([s.id for s in c.list_sessions()], ["s2", "s1"])
            status = c.status()
            self.assertEqual(status.daemon_version, "fake 0")
            self.assertEqual(status.pid, self.daemon.pid)
            self.assertEqual(c.tokenize("AB"), [65, 66])
            self.assertEqual(c.detokenize([104, 105]), "hi")

    def test_a_daemon_error_raises_with_its_code(self):
        with self.connect() as c:
            with self.assertRaises(gemmad_client.GemmadError) as caught:
                c.show_session("nope")
            self.assertEqual(caught.exception.code, "ERROR_CODE_NOT_FOUND")
            self.assertIn("'nope'", caught.exception.message)

    def test_no_daemon_raises_daemon_unreachable(self):
        with self.assertRaises(gemmad_client.DaemonUnreachable):
            gemmad_client.Client(os.path.join(self.tmp.name, "absent.sock"))

    def test_socket_path_resolution_prefers_the_flag_then_the_environment(self):
        old = os.environ.get("GEMMAD_SOCKET")
        os.environ["GEMMAD_SOCKET"] = "/env.sock"
        try:
            self.assertEqual(gemmad_client.resolve_socket_path("/flag.sock"), "/flag.sock")
            self.assertEqual(gemmad_client.resolve_socket_path(), "/env.sock")
        finally:
            if old is None:
                del os.environ["GEMMAD_SOCKET"]
            else:
                os.environ["GEMMAD_SOCKET"] = old

    def test_without_gemmad_socket_it_looks_where_this_users_daemon_listens(self):
        saved = {k: os.environ.pop(k, None) for k in ("GEMMAD_SOCKET", "XDG_RUNTIME_DIR")}
        try:
            own = gemmad_client.default_listen_path()
            if os.geteuid() == 0:
                self.assertEqual(own, gemmad_client.SYSTEM_SOCKET_PATH)
            else:
                self.assertEqual(own, f"/tmp/gemmad-{os.geteuid()}.sock")
            os.environ["XDG_RUNTIME_DIR"] = self.tmp.name
            if os.geteuid() != 0:
                self.assertEqual(gemmad_client.default_listen_path(),
                                 os.path.join(self.tmp.name, "gemmad.sock"))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def test_the_chat_example_prints_the_streamed_answer(self):
        example = os.path.join(ARGS.client_dir, "chat.py")
        result = subprocess.run(
            ["/usr/bin/python3", example, "--socket", self.socket, "--proto-path",
             ARGS.proto_path, "--new", "-n", "3", "hi "],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "hi hi hi \n")
        self.assertIn("3 tokens", result.stderr)
        result = subprocess.run(
            ["/usr/bin/python3", example, "--socket", os.path.join(self.tmp.name, "no.sock"),
             "--proto-path", ARGS.proto_path, "--status"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 3, result.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--fake-daemon", required=True)
    parser.add_argument("--proto-path", required=True)
    parser.add_argument("--client-dir", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
