#!/usr/bin/python3
"""The OpenAI-compatible HTTP socket of the real gemmad: raw requests with curl --unix-socket
(malformed JSON, a 100 MB body, a slowloris header, 64 concurrent streams), /metrics through
python3-prometheus-client's parser, greedy output equal to `gemmactl chat`, and the official
`openai` npm client (http_openai_test.mjs) against the same daemon.

    http_test.py --gemmad BIN --gemmactl BIN --npm-dir DIR
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import clients_test
from prometheus_client.parser import text_string_to_metric_families

ARGS = None
HERE = os.path.dirname(os.path.abspath(__file__))


def curl(d, *args, data=None, timeout=120):
    """curl --unix-socket against the daemon; returns (status, body)."""
    cmd = ["curl", "-sS", "--unix-socket", d.http_socket, "-o", "-", "-w", "\n%{http_code}",
           "-H", "Content-Type: application/json", *args]
    if data is not None:
        cmd += ["--data-binary", data]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


def metrics(d):
    status, text = curl(d, "http://gemmad/metrics")
    assert status == 200, text
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def metric(samples, name, **labels):
    return sum(v for (n, l), v in samples.items()
               if n == name and all(dict(l).get(k) == val for k, val in labels.items()))


CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hello there"}],
        "max_tokens": 8, "temperature": 0}


class HttpAgainstTheDaemon(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.d = clients_test.Daemon(cls.tmp.name)
        cls.d.http_socket = os.path.join(cls.tmp.name, "http.sock")
        cls.d.start('[http]\nsocket = "%s"\nheader_timeout_ms = 500\n'
                    # One test uid sends all 64 streams: its per-uid share must hold them.
                    '[server]\nmax_queued_requests = 128\nmax_queued_per_uid = 128\n'
                    'max_requests_per_uid = 128\n' % cls.d.http_socket)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmp.cleanup()

    def test_models_lists_the_model_named_by_its_file_stem(self):
        status, body = curl(self.d, "http://gemmad/v1/models")
        self.assertEqual(status, 200, body)
        listed = json.loads(body)
        self.assertEqual(listed["object"], "list")
        self.assertEqual([m["id"] for m in listed["data"]], ["tiny"])

    def test_malformed_json_and_wrong_types_are_400_error_objects(self):
        status, body = curl(self.d, "http://gemmad/v1/chat/completions", data="{not json")
        self.assertEqual(status, 400, body)
        err = json.loads(body)["error"]
        self.assertEqual(err["type"], "invalid_request_error")
        self.assertIn("not valid JSON", err["message"])
        status, body = curl(self.d, "http://gemmad/v1/chat/completions",
                            data=json.dumps({**CHAT, "max_tokens": "8"}))
        self.assertEqual(status, 400, body)
        self.assertIn("'max_tokens' must be an integer", json.loads(body)["error"]["message"])
        status, body = curl(self.d, "http://gemmad/v1/nothing")
        self.assertEqual(status, 404, body)
        status, body = curl(self.d, "http://gemmad/v1/chat/completions",
                            data=json.dumps({**CHAT, "model": "no-such-model"}))
        self.assertEqual(status, 404, body)

    def test_a_100_mb_body_gets_413_without_being_read(self):
        big = os.path.join(self.tmp.name, "big.json")
        with open(big, "wb") as f:
            f.truncate(100 << 20)
        t0 = time.monotonic()
        status, body = curl(self.d, "http://gemmad/v1/chat/completions", data="@" + big)
        self.assertEqual(status, 413, body)
        self.assertIn("http.max_body_bytes", json.loads(body)["error"]["message"])
        # Without Expect: 100-continue the client pushes the body anyway; the daemon answers
        # from the header and closes, so the send fails long before 100 MB.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.d.http_socket)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: g\r\n"
                  b"Content-Length: 104857600\r\n\r\n")
        sent, block = 0, b"x" * 65536
        try:
            while sent < (100 << 20):
                s.sendall(block)
                sent += len(block)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertLess(sent, 100 << 20)
        reply = s.recv(4096)
        s.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 413 "), reply)
        self.assertLess(time.monotonic() - t0, 60)

    def test_a_slowloris_header_is_dropped_and_the_daemon_serves_on(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)  # a bound for a broken daemon; the 500 ms header timeout closes it
        s.connect(self.d.http_socket)
        s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: g\r\nX-Slow: ")
        t0 = time.monotonic()
        for _ in range(3):
            try:
                s.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                break
        self.assertEqual(s.recv(4096), b"")  # closed by the daemon
        self.assertLess(time.monotonic() - t0, 20)
        s.close()
        self.assertEqual(curl(self.d, "http://gemmad/v1/models")[0], 200)

    def test_greedy_output_equals_gemmactl_chat(self):
        status, body = curl(self.d, "http://gemmad/v1/chat/completions",
                            data=json.dumps({**CHAT, "max_tokens": 12}))
        self.assertEqual(status, 200, body)
        got = json.loads(body)
        r = self.d.ctl("chat", "--json", "--new", "--temp", "0", "-n", "12", "hello there")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(got["choices"][0]["message"]["content"], json.loads(r.stdout)["text"])
        self.assertEqual(got["object"], "chat.completion")
        self.assertGreater(got["usage"]["prompt_tokens"], 0)

    def test_a_repeated_history_reuses_cached_tokens(self):
        history = [{"role": "system", "content": "You are terse."},
                   {"role": "user", "content": "name three colours"}]
        # One token: the cached sequence is then exactly the first prompt, which the second
        # prompt extends. (The tiny model's sliding window is 16 positions, so a cache can be
        # extended but not cut back far; whatever the reply, its tokens need not re-tokenize.)
        first = json.loads(curl(self.d, "http://gemmad/v1/chat/completions",
                                data=json.dumps({**CHAT, "messages": history,
                                                 "max_tokens": 1}))[1])
        history += [{"role": "assistant", "content": first["choices"][0]["message"]["content"]},
                    {"role": "user", "content": "and three more"}]
        second = json.loads(curl(self.d, "http://gemmad/v1/chat/completions",
                                 data=json.dumps({**CHAT, "messages": history}))[1])
        cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
        self.assertGreater(cached, 0, second)
        self.assertLess(cached, second["usage"]["prompt_tokens"])

    def test_a_stream_ends_with_done_and_usage_when_asked(self):
        status, body = curl(self.d, "-N", "http://gemmad/v1/chat/completions",
                            data=json.dumps({**CHAT, "stream": True,
                                             "stream_options": {"include_usage": True}}))
        self.assertEqual(status, 200, body)
        events = [line[len("data: "):] for line in body.split("\n") if line.startswith("data: ")]
        self.assertEqual(events[-1], "[DONE]")
        chunks = [json.loads(e) for e in events[:-1]]
        self.assertEqual(chunks[0]["choices"][0]["delta"]["role"], "assistant")
        self.assertIn(chunks[-2]["choices"][0]["finish_reason"], ("stop", "length"))
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertGreater(chunks[-1]["usage"]["completion_tokens"], 0)

    def test_64_concurrent_streams_all_finish(self):
        before = metrics(self.d)
        req = json.dumps({**CHAT, "max_tokens": 3, "stream": True})

        def one(i):
            return curl(self.d, "-N", "-H", "X-Gemmad-App: load-%d" % (i % 8),
                        "http://gemmad/v1/chat/completions", data=req, timeout=600)

        with ThreadPoolExecutor(max_workers=64) as pool:
            results = list(pool.map(one, range(64)))
        for status, body in results:
            self.assertEqual(status, 200, body)
            self.assertTrue(body.rstrip().endswith("data: [DONE]"), body)
        after = metrics(self.d)
        done = metric(after, "gemmad_requests_total", front_end="http") - \
            metric(before, "gemmad_requests_total", front_end="http")
        self.assertEqual(done, 64)

    def test_metrics_parse_and_move_as_requests_run(self):
        before = metrics(self.d)
        status, body = curl(self.d, "http://gemmad/v1/chat/completions", data=json.dumps(CHAT))
        self.assertEqual(status, 200, body)
        after = metrics(self.d)
        for name in ("gemmad_requests_total", "gemmad_prompt_tokens_total",
                     "gemmad_generated_tokens_total",
                     "gemmad_time_to_first_token_seconds_count"):
            self.assertGreater(metric(after, name, front_end="http", model="tiny"),
                               metric(before, name, front_end="http", model="tiny"), name)
        self.assertGreater(metric(after, "gemmad_resident_weight_bytes", model="tiny"), 0)
        self.assertGreaterEqual(metric(after, "gemmad_open_connections", front_end="http"), 1)
        self.assertIn(("gemmad_queue_depth", ()), after)
        self.assertIn(("gemmad_sessions_stored", ()), after)
        self.assertGreater(metric(after, "gemmad_decode_batch_sequences_count"), 0)

    def post_error(self, extra, status=400):
        """A chat request with `extra` fields; asserts the status; returns error.message."""
        code, body = curl(self.d, "http://gemmad/v1/chat/completions",
                          data=json.dumps({**CHAT, **extra}))
        self.assertEqual(code, status, body)
        err = json.loads(body)["error"]
        self.assertEqual(err["type"], "invalid_request_error", err)
        return err["message"]

    def test_bad_tool_and_format_fields_are_400s_naming_the_field(self):
        weather = {"type": "function", "function": {
            "name": "get_weather", "parameters": {"type": "object", "properties": {
                "city": {"type": "string"}}}}}
        self.assertIn("'tool_choice' \"sometimes\" is not one of",
                      self.post_error({"tools": [weather], "tool_choice": "sometimes"}))
        self.assertIn("'tool_choice.function.name' is required",
                      self.post_error({"tools": [weather],
                                       "tool_choice": {"type": "function", "function": {}}}))
        self.assertIn("'no_such_tool', which is not in tools",
                      self.post_error({"tools": [weather], "tool_choice": {
                          "type": "function", "function": {"name": "no_such_tool"}}}))
        self.assertIn("tool_choice requires a call but no tools",
                      self.post_error({"tool_choice": "required"}))
        self.assertIn("'response_format.type' \"xml\" is not one of",
                      self.post_error({"response_format": {"type": "xml"}}))
        self.assertIn("'response_format.json_schema' must be an object",
                      self.post_error({"response_format": {"type": "json_schema"}}))
        # A schema outside the subset: the keyword and where it is, never silently ignored.
        message = self.post_error({"response_format": {"type": "json_schema", "json_schema": {
            "name": "d", "schema": {"type": "object", "properties": {
                "when": {"type": "string", "format": "date"}}}}}})
        self.assertIn("keyword 'format'", message)
        self.assertIn("/properties/when", message)
        message = self.post_error({"tools": [{"type": "function", "function": {
            "name": "f", "parameters": {"type": "object", "properties": {
                "n": {"type": "integer", "minimum": 0}}}}}], "tool_choice": "required"})
        self.assertIn("keyword 'minimum'", message)
        self.assertIn("'messages[1].tool_call_id' is required",
                      self.post_error({"messages": [CHAT["messages"][0],
                                                    {"role": "tool", "content": "{}"}]}))
        self.assertIn("'call_x' names no call",
                      self.post_error({"messages": [CHAT["messages"][0],
                                                    {"role": "tool", "tool_call_id": "call_x",
                                                     "content": "{}"}]}))
        self.assertIn("'stop' has 5 strings; at most 4",
                      self.post_error({"stop": ["a", "b", "c", "d", "e"]}))
        self.assertIn("thinking_budget 4 needs thinking on",
                      self.post_error({"thinking_budget": 4}))
        # The daemon is still up and serving.
        self.assertEqual(curl(self.d, "http://gemmad/v1/models")[0], 200)

    def test_a_forced_call_over_curl_is_openai_shaped(self):
        tools = [{"type": "function", "function": {
            "name": "get_weather", "parameters": {
                "type": "object", "properties": {"city": {"type": "string", "maxLength": 12}},
                "required": ["city"], "additionalProperties": False}}}]
        code, body = curl(self.d, "http://gemmad/v1/chat/completions", data=json.dumps(
            {**CHAT, "max_tokens": 60, "tools": tools, "tool_choice": "required", "seed": 3,
             "temperature": 1}))
        self.assertEqual(code, 200, body)
        choice = json.loads(body)["choices"][0]
        self.assertEqual(choice["finish_reason"], "tool_calls", choice)
        self.assertIsNone(choice["message"]["content"])
        call = choice["message"]["tool_calls"][0]
        self.assertEqual(call["type"], "function")
        args = json.loads(call["function"]["arguments"])
        self.assertEqual(set(args), {"city"})

    def test_the_openai_npm_client(self):
        r = subprocess.run(["node", os.path.join(HERE, "http_openai_test.mjs"), ARGS.npm_dir,
                            self.d.http_socket], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class HttpDisabled(unittest.TestCase):
    def test_http_enabled_false_opens_no_socket(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = clients_test.Daemon(tmp)
            path = os.path.join(tmp, "http.sock")
            d.start('[http]\nenabled = false\nsocket = "%s"\n' % path)
            try:
                self.assertEqual(d.ctl("status").returncode, 0)
                self.assertFalse(os.path.exists(path))
            finally:
                self.assertEqual(d.stop(), 0)


def start_with_config(test, d, config, tmp):
    """Starts gemmad on `config` alone (no --model, which would replace its [[models]]) with
    d's socket and `tmp` as state directory, and waits until it answers status."""
    log = open(os.path.join(tmp, "gemmad.log"), "wb")
    d.proc = subprocess.Popen([ARGS.gemmad, "--config", config, "--socket", d.socket,
                               "--state-dir", tmp], stdout=log, stderr=log)
    log.close()
    deadline = time.monotonic() + 60
    while d.ctl("status").returncode != 0:
        test.assertIsNone(d.proc.poll(), "gemmad exited")
        test.assertLess(time.monotonic(), deadline)
        time.sleep(0.05)


class HttpSeveralModels(unittest.TestCase):
    def test_the_model_field_picks_the_model(self):
        """Two models in one daemon: /v1/models lists both, and a request naming the second
        gets the second's greedy output (as `gemmactl chat --use`), not the first's."""
        with tempfile.TemporaryDirectory() as tmp:
            d = clients_test.Daemon(tmp)
            other = os.path.join(tmp, "other.gguf")
            subprocess.run([ARGS.gemmactl, "model", "synth", "--preset", "tiny", "--quant",
                            "q4_0", "--seed", "8", "-o", other], check=True, capture_output=True)
            d.http_socket = os.path.join(tmp, "http.sock")
            config = os.path.join(tmp, "two.toml")
            with open(config, "w") as f:  # --model would replace [[models]]: not passed
                f.write('[http]\nsocket = "%s"\n[[models]]\npath = "%s"\n[[models]]\n'
                        'path = "%s"\n' % (d.http_socket, d.model, other))
            try:
                start_with_config(self, d, config, tmp)
                listed = json.loads(curl(d, "http://gemmad/v1/models")[1])
                self.assertEqual(sorted(m["id"] for m in listed["data"]), ["other", "tiny"])
                texts = {}
                for name in ("tiny", "other"):
                    status, body = curl(d, "http://gemmad/v1/chat/completions",
                                        data=json.dumps({**CHAT, "model": name}))
                    self.assertEqual(status, 200, body)
                    got = json.loads(body)
                    self.assertEqual(got["model"], name)
                    texts[name] = got["choices"][0]["message"]["content"]
                    r = d.ctl("chat", "--json", "--new", "--use", name, "--temp", "0", "-n", "8",
                              "hello there")
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual(texts[name], json.loads(r.stdout)["text"], name)
                self.assertNotEqual(texts["tiny"], texts["other"])
            finally:
                self.assertEqual(d.stop(), 0)


class HttpMedia(unittest.TestCase):
    def test_image_and_audio_parts_through_the_openai_npm_client(self):
        """A daemon whose model has an mmproj (tiny, with the real vocabulary so the media
        tokens exist): http_openai_test.mjs --media sends image_url and input_audio parts."""
        tokenizer = os.environ.get("GEMMAD_TOKENIZER_JSON") or os.path.join(
            HERE, "..", "..", "models", "tokenizer.json")
        with tempfile.TemporaryDirectory() as tmp:
            vocab, model, mmproj = (os.path.join(tmp, f) for f in
                                    ("vocab.gguf", "tiny-vocab.gguf", "tiny-mmproj.gguf"))
            subprocess.run([ARGS.gemmactl, "model", "import-vocab", tokenizer, "-o", vocab],
                           check=True, capture_output=True)
            subprocess.run([ARGS.gemmactl, "model", "synth", "--preset", "tiny", "--quant",
                            "q4_0", "--vocab", vocab, "--seed", "7", "-o", model, "--mmproj",
                            mmproj], check=True, capture_output=True)
            d = clients_test.Daemon(tmp)
            d.http_socket = os.path.join(tmp, "http.sock")
            config = os.path.join(tmp, "media.toml")
            with open(config, "w") as f:  # --model would replace [[models]]: not passed
                f.write('[http]\nsocket = "%s"\n[[models]]\nname = "tiny"\npath = "%s"\n'
                        'mmproj = "%s"\n' % (d.http_socket, model, mmproj))
            try:
                start_with_config(self, d, config, tmp)
                r = subprocess.run(["node", os.path.join(HERE, "http_openai_test.mjs"),
                                    ARGS.npm_dir, d.http_socket, "--media"],
                                   capture_output=True, text=True, timeout=300)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            finally:
                self.assertEqual(d.stop(), 0)


class HttpSocketActivation(unittest.TestCase):
    def test_a_passed_http_socket_is_adopted(self):
        """Two ListenStream= sockets, as gemmad.socket may list: the first request on the
        HTTP one starts gemmad, which adopts it (binding it again would find it in use)."""
        with tempfile.TemporaryDirectory() as tmp:
            d = clients_test.Daemon(tmp)
            d.http_socket = os.path.join(tmp, "http.sock")
            log_path = os.path.join(tmp, "gemmad.log")
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    ["systemd-socket-activate", "-l", d.socket, "-l", d.http_socket,
                     ARGS.gemmad, "--model", d.model, "--state-dir", tmp, "--socket", d.socket,
                     "--http-socket", d.http_socket], stdout=log, stderr=log)
            try:
                for _ in range(200):
                    if os.path.exists(d.http_socket):
                        break
                    time.sleep(0.05)
                status, body = curl(d, "http://gemmad/v1/models")
                self.assertEqual(status, 200, body)
                with open(log_path, errors="replace") as f:
                    self.assertIn("(socket activation)", f.read())
            finally:
                proc.terminate()
                self.assertEqual(proc.wait(timeout=30), 0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--gemmad", required=True)
    parser.add_argument("--gemmactl", required=True)
    parser.add_argument("--npm-dir", required=True)
    ARGS, rest = parser.parse_known_args()
    clients_test.ARGS = ARGS
    unittest.main(argv=[sys.argv[0], "-v", *rest])
