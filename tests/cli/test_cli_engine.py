#!/usr/bin/python3
"""The offline engine verbs on the tiny synthetic model (docs/DESIGN.md contract):
`logits` writes [positions][vocab] float32, `generate --json` is deterministic and agrees with
the logits, `bench --json` reports positive speeds and a consistent bandwidth."""
import array
import math
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

import cli_support as cs  # noqa: E402

PROMPT = [2, 10, 20]

# Batch and step mode compute the same function over the same cache type; they may differ by
# float32 summation order only (~1e-6 on logits soft-capped to [-30, 30]), while a wrong mask
# or position moves logits by O(0.1) (see tests/reference/compare.py).
MODE_TOL = 1e-3


def ids_arg(ids):
    return " ".join(str(i) for i in ids)


class OfflineEngine(cs.CliTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="gemmad-cli-")
        cls.models = {}
        for quant in ("f32", "q4_0"):
            path = os.path.join(cls.tmp.name, f"tiny-{quant}.gguf")
            run = cs.gemmactl("model", "synth", "--preset", "tiny", "--quant", quant, "--seed",
                              3, "-o", path)
            if run.code != 0:
                cls.tmp.cleanup()
                raise AssertionError("model synth failed\n" + run.describe())
            cls.models[quant] = path
        run = cs.gemmactl("model", "inspect", "--json", cls.models["f32"])
        cls.n_vocab = run.json()["vocab_size"]
        cls.n_out = 0

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def logits(self, quant, ids, *flags):
        """Rows of `gemmactl logits`, one list of n_vocab floats per position."""
        type(self).n_out += 1
        out = os.path.join(self.tmp.name, f"logits-{self.n_out}.bin")
        self.ok("logits", "--model", self.models[quant], "--ids", ids_arg(ids), "--out", out,
                *flags)
        size = os.path.getsize(out)
        self.assertEqual(size, len(ids) * self.n_vocab * 4,
                         f"{out}: {size} bytes for {len(ids)} x {self.n_vocab} float32")
        values = array.array("f")
        with open(out, "rb") as f:
            values.frombytes(f.read())
        if sys.byteorder != "little":
            values.byteswap()
        n = self.n_vocab
        return [values[i * n:(i + 1) * n] for i in range(len(ids))]

    def assert_rows_close(self, a, b, tol):
        self.assertEqual(len(a), len(b))
        for p, (ra, rb) in enumerate(zip(a, b)):
            worst = max(abs(x - y) for x, y in zip(ra, rb))
            self.assertLessEqual(worst, tol, f"position {p}: max |diff| {worst}")

    def generate(self, quant, ids, *flags):
        return self.ok_json("generate", "--model", self.models[quant], "--ids", ids_arg(ids),
                            *flags)

    def test_logits_are_positions_by_vocab_finite_float32(self):
        for quant in self.models:
            with self.subTest(quant=quant):
                rows = self.logits(quant, PROMPT)
                for p, row in enumerate(rows):
                    self.assertTrue(all(math.isfinite(x) for x in row), f"position {p}")
                    # Real logits vary across the vocabulary (not a zero or constant fill).
                    self.assertGreater(max(row) - min(row), 1e-3, f"position {p}")
                # Different positions see different tokens: their rows differ.
                self.assertNotEqual(list(rows[0]), list(rows[1]))

    def test_batch_and_step_mode_agree(self):
        for quant in self.models:
            for kv in ("f16", "f32", "q8", "q4", "mobile", "sliding:q4,full:f16"):
                with self.subTest(quant=quant, kv=kv):
                    batch = self.logits(quant, PROMPT, "--mode", "batch", "--kv-type", kv)
                    step = self.logits(quant, PROMPT, "--mode", "step", "--kv-type", kv)
                    self.assert_rows_close(batch, step, MODE_TOL)

    def test_logits_of_a_prefix_do_not_depend_on_later_tokens(self):
        # Causal attention: position p sees ids[0..p] only.
        full = self.logits("q4_0", PROMPT)
        prefix = self.logits("q4_0", PROMPT[:2])
        self.assert_rows_close(prefix, full[:2], MODE_TOL)

    def test_logits_of_an_id_outside_the_vocabulary_fail_naming_it(self):
        out = os.path.join(self.tmp.name, "bad.bin")
        run = cs.gemmactl("logits", "--json", "--model", self.models["f32"], "--ids",
                          f"2 {self.n_vocab}", "--out", out)
        self.assert_json_error(run, cs.EXIT_ERROR, mentions=[str(self.n_vocab)])

    def test_generate_json_has_the_contract_shape(self):
        doc = self.generate("q4_0", PROMPT, "-n", 8, "--temp", 0)
        self.assertIsInstance(doc["text"], str)
        self.assertIsInstance(doc["tokens"], int)
        self.assertIsInstance(doc["timings"], dict)
        self.assertEqual(doc["prompt_tokens"], len(PROMPT))
        self.assertEqual(doc["tokens"], len(doc["token_ids"]))
        self.assertGreater(doc["tokens"], 0)
        self.assertLessEqual(doc["tokens"], 8)
        self.assertTrue(all(0 <= t < self.n_vocab for t in doc["token_ids"]), doc)

    def test_greedy_generate_is_deterministic(self):
        for quant in self.models:
            with self.subTest(quant=quant):
                a = self.generate(quant, PROMPT, "-n", 8, "--temp", 0)
                b = self.generate(quant, PROMPT, "-n", 8, "--temp", 0)
                self.assertEqual(a["token_ids"], b["token_ids"])
                self.assertEqual(a["text"], b["text"])

    def test_seeded_sampling_is_deterministic(self):
        flags = ("-n", 8, "--temp", 1.0, "--seed", 1234)
        a = self.generate("q4_0", PROMPT, *flags)
        b = self.generate("q4_0", PROMPT, *flags)
        self.assertEqual(a["token_ids"], b["token_ids"])

    def test_greedy_generate_follows_the_argmax_of_the_logits(self):
        # Two verbs, one engine: each greedy token is the argmax of the last row of the
        # logits of everything before it (ties between rows are not expected in float32).
        for quant in self.models:
            with self.subTest(quant=quant):
                gen = self.generate(quant, PROMPT, "-n", 3, "--temp", 0)["token_ids"]
                self.assertGreaterEqual(len(gen), 2)
                context = list(PROMPT)
                for t in gen[:2]:
                    last = self.logits(quant, context)[-1]
                    self.assertEqual(t, max(range(len(last)), key=last.__getitem__),
                                     f"after {context}")
                    context.append(t)

    def test_generate_stops_after_n_tokens(self):
        doc = self.generate("f32", PROMPT, "-n", 2, "--temp", 0)
        self.assertLessEqual(doc["tokens"], 2)

    def test_ignore_eos_generates_exactly_n_tokens(self):
        # Near-uniform sampling over the tiny vocabulary meets a stop token within a few dozen
        # tokens; with --ignore-eos the same seeded run goes on to exactly -n tokens.
        flags = ("-n", 200, "--temp", 50, "--seed", 3)
        stopped = self.generate("q4_0", PROMPT, *flags)
        self.assertEqual(stopped["stop_reason"], "stop_token")
        self.assertLess(stopped["tokens"], 200)
        full = self.generate("q4_0", PROMPT, *flags, "--ignore-eos")
        self.assertEqual(full["tokens"], 200)
        self.assertEqual(full["stop_reason"], "max_tokens")
        self.assertEqual(full["token_ids"][:stopped["tokens"]], stopped["token_ids"])

    def test_bench_json_reports_positive_speeds_and_consistent_bandwidth(self):
        doc = self.ok_json("bench", "--model", self.models["q4_0"], "--prompt-tokens", 16,
                           "--gen-tokens", 4, "--probe-mib", 32)
        for key in ("prefill_tok_s", "decode_tok_s", "peak_rss_bytes", "weight_bytes_per_token",
                    "read_gb_s"):
            with self.subTest(key=key):
                self.assertIsInstance(doc[key], (int, float))
                self.assertGreater(doc[key], 0)
        self.assertIsInstance(doc["peak_rss_bytes"], int)
        self.assertIsInstance(doc["weight_bytes_per_token"], int)
        # Weights read per token cannot exceed the file that holds them.
        self.assertLessEqual(doc["weight_bytes_per_token"],
                             os.path.getsize(self.models["q4_0"]))
        # read_gb_s = weight bytes per decoded token x decode tok/s (docs/DESIGN.md, bench).
        self.assertAlmostEqual(doc["read_gb_s"],
                               doc["weight_bytes_per_token"] * doc["decode_tok_s"] / 1e9,
                               delta=1e-6 * doc["read_gb_s"])

    def test_bench_json_reports_each_prefill_and_context_against_the_probe(self):
        doc = self.ok_json("bench", "--model", self.models["q4_0"], "--prefill", "8,16",
                           "--contexts", "0,24", "--gen-tokens", 3, "--probe-mib", 32)
        self.assertEqual([p["tokens"] for p in doc["prefill"]], [8, 16])
        for p in doc["prefill"]:
            self.assertGreater(p["tok_s"], 0)
            self.assertGreaterEqual(p["ttft_ms"], p["ms"])
            self.assertAlmostEqual(p["tok_s"], p["tokens"] / (p["ms"] / 1e3), delta=1e-6 * p["tok_s"])
        self.assertEqual([d["context"] for d in doc["decode"]], [0, 24])
        self.assertEqual([t["threads"] for t in doc["probe"]][-1], doc["threads"])
        self.assertGreater(doc["probe_gb_s"], 0)
        for d in doc["decode"]:
            self.assertEqual(d["tokens"], 3)
            self.assertGreater(d["cpu_s_per_token"], 0)
            self.assertAlmostEqual(d["read_gb_s"],
                                   doc["weight_bytes_per_token"] * d["tok_s"] / 1e9,
                                   delta=1e-6 * d["read_gb_s"])
            self.assertAlmostEqual(d["roofline_fraction"], d["read_gb_s"] / doc["probe_gb_s"],
                                   delta=1e-9)
        # The decode at context 24 holds the prefill's positions in its cache.
        self.assertGreater(doc["decode"][1]["kv_bytes"], 0)
        self.assertGreater(doc["peak_rss_bytes"], 0)

    def test_bench_without_the_probe_and_beyond_the_context(self):
        doc = self.ok_json("bench", "--model", self.models["q4_0"], "--prefill", 4,
                           "--contexts", 0, "--gen-tokens", 2, "--no-probe")
        self.assertEqual(doc["probe"], [])
        self.assertEqual(doc["roofline_fraction"], 0)
        run = cs.gemmactl("bench", "--model", self.models["q4_0"], "--contexts", 1000000,
                          "--no-probe", "--json")
        self.assert_exit(run, cs.EXIT_USAGE)
        self.assertIn("1000128", run.err_text())

    def test_generate_takes_a_kv_type_and_greedy_follows_its_logits(self):
        doc = self.generate("f32", PROMPT, "-n", 1, "--temp", 0, "--kv-type", "mobile")
        rows = self.logits("f32", PROMPT, "--kv-type", "mobile")
        self.assertEqual(doc["token_ids"][0], max(range(self.n_vocab), key=lambda i: rows[-1][i]))

    def test_a_bad_kv_type_is_a_usage_error_listing_the_presets(self):
        run = cs.gemmactl("logits", "--model", self.models["f32"], "--ids", "2 3", "--out",
                          os.path.join(self.tmp.name, "x.bin"), "--kv-type", "sliding:q8,full:q3")
        self.assert_exit(run, cs.EXIT_USAGE)
        self.assertIn("q3", run.err_text())
        self.assertIn("mobile", run.err_text())

    def test_eval_of_a_model_against_itself_gives_kld_0_and_full_agreement(self):
        text = os.path.join(self.tmp.name, "text.txt")
        with open(text, "w", encoding="utf-8") as f:
            f.write("The quick brown fox jumps over the lazy dog. " * 20)
        run = cs.gemmactl("eval", "--model", self.models["q4_0"], "--text", text, "--ctx", 64,
                          "--json")
        self.assert_exit(run, cs.EXIT_OK)
        doc = run.json()
        self.assertEqual(doc["kld_mean"], 0.0)
        self.assertEqual(doc["kld_p99"], 0.0)
        self.assertEqual(doc["top1_agreement"], 1.0)
        self.assertEqual(doc["ppl"], doc["reference_ppl"])
        self.assertGreater(doc["ppl"], 1.0)
        self.assertGreater(doc["chunks"], 1)  # the text is longer than one 64-position chunk
        self.assertIn(f"chunk {doc['chunks']}/{doc['chunks']}", run.err_text())
        # A quantized KV cache against F16 on the same model: a real, positive divergence.
        kv = cs.gemmactl("eval", "--model", self.models["q4_0"], "--text", text, "--ctx", 64,
                         "--kv-type", "mobile", "--reference-kv-type", "f16", "--json")
        self.assert_exit(kv, cs.EXIT_OK)
        self.assertGreater(kv.json()["kld_mean"], 0.0)
        self.assertEqual(kv.json()["kv_type"], "sliding:q8,full:q4")

    def test_eval_input_errors_name_the_problem(self):
        run = cs.gemmactl("eval", "--json", "--model", self.models["f32"])
        self.assert_json_error(run, cs.EXIT_USAGE, mentions=["--text", "--ids"])
        run = cs.gemmactl("eval", "--json", "--model", self.models["f32"], "--ids", "2")
        self.assert_json_error(run, cs.EXIT_USAGE, mentions=["at least 2 tokens"])
        run = cs.gemmactl("eval", "--json", "--model", self.models["f32"], "--text",
                          os.path.join(self.tmp.name, "missing.txt"))
        self.assertNotEqual(run.code, cs.EXIT_OK)
        self.assertIn("missing.txt", run.err_text())


if __name__ == "__main__":
    cs.main()
