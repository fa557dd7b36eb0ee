#!/usr/bin/python3
"""The real gemmad driven by its two shipped clients: gemmactl (every online verb, --json
shapes, exit codes, Ctrl-C) and the Python client library with its example script.

    clients_test.py --gemmad BIN --gemmactl BIN --proto-path DIR --client-dir DIR
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None


class Daemon:
    def __init__(self, workdir):
        self.dir = workdir
        self.socket = os.path.join(workdir, "gemmad.sock")
        self.model = os.path.join(workdir, "tiny.gguf")
        if not os.path.exists(self.model):
            subprocess.run([ARGS.gemmactl, "model", "synth", "--preset", "tiny", "--quant",
                            "q4_0", "--seed", "7", "-o", self.model], check=True,
                           capture_output=True)
        self.proc = None

    def start(self, extra_config=""):
        config = os.path.join(self.dir, "gemmad.toml")
        with open(config, "w") as f:
            f.write(extra_config)
        log_path = os.path.join(self.dir, "gemmad.log")
        log = open(log_path, "ab")
        self.proc = subprocess.Popen([ARGS.gemmad, "--config", config, "--model", self.model,
                                      "--socket", self.socket, "--state-dir", self.dir],
                                     stdout=log, stderr=log)
        for _ in range(300):
            if self.ctl("status").returncode == 0:
                return
            if self.proc.poll() is not None:
                with open(log_path, errors="replace") as f:
                    text = f.read()
                # A kernel that refuses seccomp filters (qemu-user, some sandboxes): the policy
                # has its own test in service_test; here run without it rather than not at all.
                if "no-network policy" in text and not extra_config:
                    print("clients_test: seccomp unavailable, privacy.network_filter = false",
                          file=sys.stderr)
                    return self.start("[privacy]\nnetwork_filter = false\n")
                raise RuntimeError("gemmad exited during start:\n" + text)
            time.sleep(0.05)
        raise RuntimeError("gemmad did not come up")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def ctl(self, *args, input=None, app="cli-test"):
        return subprocess.run([ARGS.gemmactl, "--socket", self.socket, "--app", app, *args],
                              capture_output=True, text=True, input=input, timeout=60)


class GemmactlAgainstTheDaemon(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.d = Daemon(cls.tmp.name)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmp.cleanup()

    def chat_json(self, *args, app="cli-test"):
        r = self.d.ctl("chat", "--json", "--temp", "0", "-n", "12", *args, app=app)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_chat_turns_are_stored_and_listed(self):
        first = self.chat_json("--new", "first question")
        self.assertEqual(set(first) >= {"session", "text", "usage"}, True, first)
        self.assertGreater(first["usage"]["prompt_tokens"], 0)
        self.assertIn(first["stop_reason"], ("eos", "stop_token", "max_tokens"))
        second = self.chat_json("--session", first["session"], "second question")
        self.assertEqual(second["session"], first["session"])
        listed = json.loads(self.d.ctl("session", "ls", "--json").stdout)
        row = [s for s in listed["sessions"] if s["id"] == first["session"]]
        self.assertEqual(len(row), 1, listed)
        self.assertEqual(set(row[0]) >= {"id", "title", "updated", "turns"}, True)
        self.assertEqual(row[0]["turns"], 2)
        shown = json.loads(self.d.ctl("session", "show", first["session"], "--json").stdout)
        self.assertEqual([m["role"] for m in shown["messages"]], ["user", "model"] * 2)
        self.assertEqual(shown["messages"][2]["text"], "second question")
        for m in shown["messages"]:
            self.assertEqual(set(m) >= {"role", "text", "tokens", "created"}, True)
        exported = json.loads(self.d.ctl("session", "export", first["session"]).stdout)
        self.assertIn("messages", json.dumps(exported))
        # Another app does not see it.
        other = json.loads(self.d.ctl("session", "ls", "--json", app="other-app").stdout)
        self.assertNotIn(first["session"], [s["id"] for s in other["sessions"]])
        r = self.d.ctl("session", "show", first["session"], "--json", app="other-app")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(json.loads(r.stderr)["error"]["code"], "not_found")
        # rm
        self.assertEqual(self.d.ctl("session", "rm", first["session"]).returncode, 0)
        self.assertEqual(self.d.ctl("session", "show", first["session"]).returncode, 1)

    def test_status_json_has_the_documented_fields(self):
        s = json.loads(self.d.ctl("status", "--json").stdout)
        for key in ("daemon", "model", "memory", "queue", "clients", "batch"):
            self.assertIn(key, s)
        self.assertGreater(s["memory"]["rss_bytes"], 0)
        self.assertGreater(s["memory"]["mapped_bytes"], 0)

    def test_repl_holds_one_session_across_lines(self):
        r = self.d.ctl("chat", "--temp", "0", "-n", "6", input="hello\nagain\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        session = r.stderr.strip().split()[-1]
        shown = json.loads(self.d.ctl("session", "show", session, "--json").stdout)
        self.assertEqual(len(shown["messages"]), 4)

    def test_ctrl_c_cancels_the_turn_and_keeps_it_as_interrupted(self):
        # 3000 tokens whatever the model says (--ignore-eos): still streaming when SIGINT lands,
        # even on a loaded machine. SIGINT once text streams.
        p = subprocess.Popen([ARGS.gemmactl, "--socket", self.d.socket, "--app", "cli-test",
                              "chat", "--temp", "0", "-n", "3000", "--ignore-eos", "a long story"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        first = p.stdout.read(1)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertTrue(first, err)
        self.assertEqual(p.returncode, 130, err)
        self.assertIn(b"[cancelled]", err)
        session = err.decode().strip().split()[-1]
        shown = json.loads(self.d.ctl("session", "show", session, "--json").stdout)
        self.assertEqual(len(shown["messages"]), 2)
        self.assertFalse(shown["messages"][1]["complete"])

    def test_tokenize_and_detokenize_go_through_the_daemon_without_model(self):
        r = self.d.ctl("tokenize", "--json", "--bos", "hello world")
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = json.loads(r.stdout)["ids"]
        self.assertEqual(ids[0], 2)
        r = self.d.ctl("detokenize", "--json", *[str(i) for i in ids[1:]])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["text"], "hello world")

    def test_usage_errors_exit_2(self):
        r = self.d.ctl("chat", "--new", "--session", "abc", "x")
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_python_client_streams_a_chat_and_lists_it(self):
        sys.path.insert(0, ARGS.client_dir)
        import gemmad_client
        with gemmad_client.Client(self.d.socket, proto_path=ARGS.proto_path) as c:
            reply = c.hello("python-test")
            self.assertEqual(reply.model.vocab_size, 512)
            stream = c.chat("hi from python", new_session=True, temperature=0.0, max_tokens=10)
            text = "".join(t.text for t in stream)
            self.assertGreater(stream.done.usage.completion_tokens, 0)
            sessions = c.list_sessions()
            self.assertEqual([s.id for s in sessions], [stream.done.session_id])
            detail = c.show_session(stream.done.session_id)
            self.assertEqual(detail.messages[1].text, text)
            self.assertGreater(c.status().batch.total_tokens, 0)
            # A fixed-length raw completion: exactly max_tokens, whatever the model says.
            fixed = c.generate("count on", raw=True, temperature=0.0, max_tokens=40,
                               ignore_eos=True)
            "".join(t.text for t in fixed)
            self.assertEqual(fixed.done.usage.completion_tokens, 40)
        r = subprocess.run(["/usr/bin/python3", os.path.join(ARGS.client_dir, "chat.py"),
                            "--socket", self.d.socket, "--proto-path", ARGS.proto_path,
                            "--new", "--temp", "0", "-n", "5", "hello"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    WEATHER = {"type": "object",
               "properties": {"city": {"type": "string", "maxLength": 12},
                              "days": {"type": "integer"}},
               "required": ["city", "days"], "additionalProperties": False}
    PERSON = {"type": "object",
              "properties": {"name": {"type": "string", "maxLength": 10},
                             "tags": {"type": "array", "maxItems": 2,
                                      "items": {"enum": ["a", "b"]}}},
              "required": ["name", "tags"], "additionalProperties": False}

    def flags_json(self, *args):
        """chat --json with ARGS; --temp 0 and -n 12 unless ARGS give them."""
        defaults = [*([] if "--temp" in args else ["--temp", "0"]),
                    *([] if "-n" in args else ["-n", "12"])]
        r = self.d.ctl("chat", "--json", *defaults, *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def write_json(self, name, value):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            json.dump(value, f)
        return path

    def test_chat_tool_flags_print_a_forced_call_and_send_its_result(self):
        import jsonschema
        tools = self.write_json("tools.json", [
            {"type": "function", "function": {"name": "get_weather",
                                              "description": "The weather in a city.",
                                              "parameters": self.WEATHER}},
            {"name": "get_time", "description": "The time now."}])  # plain form
        first = self.flags_json("--new", "--tools", tools, "--tool-choice", "get_weather",
                               "-n", "120", "--seed", "7", "--temp", "1", "Weather in Paris?")
        self.assertEqual(first["stop_reason"], "tool_calls", first)
        self.assertEqual(len(first["tool_calls"]), 1)
        call = first["tool_calls"][0]
        self.assertEqual(call["name"], "get_weather")
        jsonschema.validate(call["arguments"], self.WEATHER)
        self.assertEqual(first["text"], "")
        # Without --json the call is printed (never run) as one line.
        r = self.d.ctl("chat", "--new", "--tools", tools, "--tool-choice", "required",
                       "-n", "120", "--seed", "8", "Weather?")
        self.assertEqual(r.returncode, 0, r.stderr)
        line = [l for l in r.stdout.splitlines() if l.startswith("tool_call ")]
        self.assertEqual(len(line), 1, r.stdout)
        _, call_id, name, args = line[0].split(" ", 3)
        self.assertTrue(call_id.startswith("call_"))
        self.assertIn(name, ("get_weather", "get_time"))
        self.assertIsInstance(json.loads(args), dict)
        # The result of the first call continues that session (no new user text).
        cont = self.flags_json("--session", first["session"], "--tools", tools, "-n", "8",
                              "--tool-result", call["id"] + '={"temp_c": 15}')
        self.assertEqual(cont["session"], first["session"])
        self.assertGreater(cont["usage"]["prompt_tokens"], first["usage"]["prompt_tokens"])
        shown = json.loads(self.d.ctl("session", "show", first["session"], "--json").stdout)
        self.assertGreaterEqual(len(shown["messages"]), 4, shown)

    def test_chat_schema_json_object_think_and_stop_flags(self):
        import jsonschema
        schema = self.write_json("person.json", self.PERSON)
        for seed in ("1", "2"):
            got = self.flags_json("--new", "--schema", schema, "-n", "200", "--seed", seed,
                                 "--temp", "1", "a person")
            self.assertNotEqual(got["stop_reason"], "max_tokens", got)
            jsonschema.validate(json.loads(got["text"]), self.PERSON)
        got = self.flags_json("--new", "--json-object", "-n", "200", "--seed", "3", "--temp", "1",
                             "any JSON")
        if got["stop_reason"] != "max_tokens":
            json.loads(got["text"])
        # Thinking: the thought is apart from the answer and not stored with it.
        thought = self.flags_json("--new", "--think", "--thinking-budget", "6", "-n", "30",
                                 "think first")
        self.assertNotEqual(thought["reasoning"], "", thought)
        shown = json.loads(self.d.ctl("session", "show", thought["session"], "--json").stdout)
        self.assertEqual(shown["messages"][-1]["text"], thought["text"])
        r = self.d.ctl("chat", "--new", "--think", "--thinking-budget", "6", "--show-thoughts",
                       "--temp", "0", "-n", "30", "think first")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("[thinking] ", r.stderr)
        self.assertIn("[/thinking]", r.stderr)
        self.assertNotIn("[thinking]", r.stdout)
        self.assertEqual(r.stdout.rstrip("\n"), thought["text"])
        # --stop: the reply ends before the string.
        plain = self.flags_json("--new", "-n", "12", "hello there")
        if len(plain["text"]) > 2:
            cut = plain["text"][2:4]
            stopped = self.flags_json("--new", "-n", "12", "--stop", cut, "hello there")
            self.assertEqual(stopped["stop_reason"], "stop_string", stopped)
            self.assertTrue(plain["text"].startswith(stopped["text"]))
            self.assertNotIn(cut, stopped["text"])
        # Usage errors exit 2.
        self.assertEqual(self.d.ctl("chat", "--new", *["--stop", "x"] * 5, "hi").returncode, 2)
        self.assertEqual(self.d.ctl("chat", "--new", "--thinking-budget", "3", "hi").returncode, 2)
        self.assertEqual(self.d.ctl("chat", "--tool-result", "a=1").returncode, 2)
        self.assertEqual(self.d.ctl("chat", "--new", "--tools", "/nonexistent", "hi").returncode,
                         2)

    def test_python_client_tools_json_and_thinking(self):
        import jsonschema
        sys.path.insert(0, ARGS.client_dir)
        import gemmad_client
        tools = [{"type": "function", "function": {"name": "get_weather",
                                                   "parameters": self.WEATHER}}]
        with gemmad_client.Client(self.d.socket, proto_path=ARGS.proto_path) as c:
            c.hello("python-tools")
            called = c.chat("Weather in Paris?", new_session=True, tools=tools,
                            tool_choice="get_weather", seed=7, max_tokens=120).result()
            self.assertEqual(called.stop_reason, "tool_calls")
            self.assertEqual(called.text, "")
            call = called.tool_calls[0]
            self.assertEqual(call["name"], "get_weather")
            jsonschema.validate(call["arguments"], self.WEATHER)
            cont = c.chat(session_id=called.done.session_id, tools=tools, max_tokens=8,
                          tool_results=[(call["id"], {"temp_c": 15})]).result()
            self.assertEqual(cont.done.session_id, called.done.session_id)
            self.assertIn(cont.stop_reason, ("stop_token", "eos", "max_tokens", "tool_calls"))
            schema = c.chat("a person", new_session=True, seed=1, max_tokens=200,
                            response_format={"type": "json_schema",
                                             "json_schema": {"schema": self.PERSON}}).result()
            jsonschema.validate(json.loads(schema.text), self.PERSON)
            thought = c.chat("think", new_session=True, thinking=True, thinking_budget=6,
                             temperature=0.0, max_tokens=30).result()
            self.assertNotEqual(thought.reasoning, "")
            self.assertEqual(c.show_session(thought.done.session_id).messages[-1].text,
                             thought.text)
            plain = c.chat("hello there", new_session=True, temperature=0.0,
                           max_tokens=12).result()
            if len(plain.text) > 2:
                stopped = c.chat("hello there", new_session=True, temperature=0.0,
                                 max_tokens=12, stop=plain.text[2:4]).result()
                self.assertEqual(stopped.stop_reason, "stop_string")
            with self.assertRaises(gemmad_client.GemmadError) as e:
                c.chat("x", new_session=True, tools=tools, tool_choice="nope").result()
            self.assertIn("'nope', which is not in tools", str(e.exception))

    def test_python_client_sends_images_and_audio(self):
        # The tiny model has no mmproj: valid files are decoded and then refused by name; a
        # bad one is refused naming what is wrong (issue 11).
        sys.path.insert(0, ARGS.client_dir)
        import gemmad_client
        seeds = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "seeds")
        with open(os.path.join(seeds, "png", "rgb8.png"), "rb") as f:
            png = f.read()
        with open(os.path.join(seeds, "wav", "mono16_16k.wav"), "rb") as f:
            wav = f.read()
        with gemmad_client.Client(self.d.socket, proto_path=ARGS.proto_path) as c:
            c.hello("python-media")
            with self.assertRaises(gemmad_client.GemmadError) as e:
                "".join(t.text for t in c.chat("what is this", new_session=True,
                                               images=[(png, 70)], audio=[wav], max_tokens=2))
            self.assertIn("has no mmproj", str(e.exception))
            with self.assertRaises(gemmad_client.GemmadError) as e:
                "".join(t.text for t in c.chat("x", new_session=True, images=[b"GIF89a"]))
            self.assertIn("not a PNG or JPEG", str(e.exception))


class DaemonLifecycle(unittest.TestCase):
    """gemmad's own command line and its systemd notifications."""

    def test_print_config_shows_values_and_their_sources(self):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = os.path.join(tmp, "gemmad.toml")
            with open(cfg, "w") as f:
                f.write("[model]\nthreads = 1\n")
            r = subprocess.run([ARGS.gemmad, "--config", cfg, "--model", "/m.gguf",
                                "--print-config"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("threads = 1  # %s:2" % cfg, r.stdout)
            self.assertIn('path = "/m.gguf"  # --model', r.stdout)
            self.assertIn("max_sequences = 4  # default", r.stdout)

    def test_bad_config_and_bad_model_exit_with_their_codes(self):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = os.path.join(tmp, "gemmad.toml")
            with open(cfg, "w") as f:
                f.write("[server]\nmax_clinets = 3\n")
            r = subprocess.run([ARGS.gemmad, "--config", cfg, "--model", "/m.gguf"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 2)
            self.assertIn("server.max_clinets", r.stderr)
            self.assertIn(":2", r.stderr)
            bad = os.path.join(tmp, "bad.gguf")
            with open(bad, "wb") as f:
                f.write(b"GGUF\x03\x00\x00\x00" + b"\xff" * 40)
            r = subprocess.run([ARGS.gemmad, "--model", bad, "--socket",
                                os.path.join(tmp, "s.sock"), "--state-dir", tmp],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 4, r.stderr)

    def test_notifies_systemd_when_ready_and_when_stopping(self):
        import socket as so
        with tempfile.TemporaryDirectory() as tmp:
            d = Daemon(tmp)
            notify_path = os.path.join(tmp, "notify.sock")
            listener = so.socket(so.AF_UNIX, so.SOCK_DGRAM)
            listener.bind(notify_path)
            listener.settimeout(30)
            env = dict(os.environ, NOTIFY_SOCKET=notify_path)
            proc = subprocess.Popen([ARGS.gemmad, "--model", d.model, "--socket", d.socket,
                                     "--state-dir", tmp], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                ready = listener.recv(4096).decode()
                self.assertIn("READY=1", ready)
                self.assertEqual(d.ctl("status").returncode, 0)
                proc.send_signal(signal.SIGTERM)
                stopping = listener.recv(4096).decode()
                self.assertIn("STOPPING=1", stopping)
                self.assertEqual(proc.wait(timeout=30), 0)
            finally:
                if proc.poll() is None:
                    proc.kill()
                listener.close()


class GemmactlWithoutADaemon(unittest.TestCase):
    def test_unreachable_daemon_exits_3_with_a_json_error(self):
        r = subprocess.run([ARGS.gemmactl, "--socket", "/nonexistent/gemmad.sock", "status",
                            "--json"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 3)
        err = json.loads(r.stderr)
        self.assertEqual(err["error"]["code"], "unreachable")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--gemmad", required=True)
    parser.add_argument("--gemmactl", required=True)
    parser.add_argument("--proto-path", required=True)
    parser.add_argument("--client-dir", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])
