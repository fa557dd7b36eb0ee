#!/usr/bin/python3
"""`gemmactl model import-vocab`, `tokenize` and `detokenize` with the real 262,144-entry
vocabulary (docs/ARCHITECTURE.md contract; docs/TOKENIZER.md). Needs models/tokenizer.json
(scripts/fetch-tokenizer.sh, or $GEMMAD_TOKENIZER_JSON) and the Gemma 4 reference encodings
tests/data/gemma4-tokenizer-reference.jsonl (or $GEMMAD_TOKENIZER_REFERENCE)."""
import json
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

import cli_support as cs  # noqa: E402

# docs/TOKENIZER.md: the vocabulary size, <bos>, and <|turn> (Gemma 4's rename of id 105).
VOCAB_SIZE = 262144
BOS = 2
TURN = 105

# Reference encodings (by "id" in the .jsonl) that cover emoji (with ZWJ), CJK, and runs of
# spaces, tabs and newlines. Few, since each run loads the whole vocabulary.
REFERENCE_CASES = (18, 28, 32, 45)


def ids_arg(ids):
    return " ".join(str(i) for i in ids)


class Vocabulary(cs.CliTestCase):

    @classmethod
    def setUpClass(cls):
        src = cs.Config.tokenizer_json
        if not src or not os.path.isfile(src):
            raise AssertionError(f"tokenizer.json not found at '{src}': run "
                                 "scripts/fetch-tokenizer.sh (or set GEMMAD_TOKENIZER_JSON)")
        cls.tmp = tempfile.TemporaryDirectory(prefix="gemmad-cli-")
        cls.vocab = os.path.join(cls.tmp.name, "vocab.gguf")
        run = cs.gemmactl("model", "import-vocab", src, "-o", cls.vocab)
        if run.code != 0:
            cls.tmp.cleanup()
            raise AssertionError("import-vocab failed\n" + run.describe())
        cls.tiny = None

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def tokenize(self, *argv, stdin=b"", model=None):
        doc = self.ok_json("tokenize", "--model", model or self.vocab, *argv, stdin=stdin)
        self.assertIsInstance(doc["ids"], list)
        return doc["ids"]

    def detokenize(self, ids, model=None):
        return self.ok_json("detokenize", "--model", model or self.vocab, ids_arg(ids))["text"]

    def tiny_with_vocab(self):
        """The tiny synthetic model carrying the real vocabulary (model synth --vocab)."""
        if self.tiny is None:
            path = os.path.join(self.tmp.name, "tiny-vocab.gguf")
            self.ok("model", "synth", "--preset", "tiny", "--quant", "q4_0", "--vocab",
                    self.vocab, "-o", path)
            type(self).tiny = path
        return self.tiny

    def test_import_vocab_writes_a_vocabulary_only_gguf_that_inspect_reads(self):
        doc = self.ok_json("model", "inspect", self.vocab)
        self.assertEqual(doc["vocab_size"], VOCAB_SIZE)
        self.assertEqual(doc["tensor_count"], 0)
        self.assertEqual(doc["tensors"], [])
        self.assertIn("tokenizer.ggml.tokens", doc["metadata"])

    def test_import_vocab_of_a_missing_file_fails_naming_it(self):
        missing = os.path.join(self.tmp.name, "missing.json")
        run = cs.gemmactl("model", "import-vocab", missing, "-o",
                          os.path.join(self.tmp.name, "x.gguf"))
        self.assertNotEqual(run.code, 0, run.describe())
        self.assertIn(missing, run.err_text(), run.describe())

    def test_tokenize_hello_world(self):
        self.assertEqual(self.tokenize("Hello world"), [9259, 1902])

    def test_tokenize_adds_bos_only_with_bos_flag(self):
        self.assertEqual(self.tokenize("--bos", "Hello world"), [BOS, 9259, 1902])

    def test_control_token_text_is_one_id_only_with_special(self):
        text = "<|turn>user"
        with_special = self.tokenize("--special", text)
        self.assertEqual(with_special[0], TURN)
        self.assertEqual(self.detokenize(with_special), text)
        # Without --special the same text is ordinary characters, as user text must be.
        plain = self.tokenize(text)
        self.assertNotIn(TURN, plain)
        self.assertGreater(len(plain), len(with_special))
        self.assertEqual(self.detokenize(plain), text)

    def test_tokenize_reads_stdin_given_dash(self):
        self.assertEqual(self.tokenize("-", stdin=b"Hello world"), [9259, 1902])

    def test_tokenize_text_output_is_the_ids(self):
        run = self.ok("tokenize", "--model", self.vocab, "Hello world")
        self.assertEqual(run.text().split(), ["9259", "1902"])

    def test_detokenize_hello_world(self):
        run = self.ok("detokenize", "--model", self.vocab, "9259", "1902")
        self.assertEqual(run.text().rstrip("\n"), "Hello world")
        self.assertEqual(self.detokenize([9259, 1902]), "Hello world")

    def test_reference_encodings_round_trip(self):
        ref_path = cs.Config.reference
        self.assertTrue(ref_path and os.path.isfile(ref_path),
                        f"reference encodings not found at '{ref_path}'")
        with open(ref_path, encoding="utf-8") as f:
            cases = {c["id"]: c for c in map(json.loads, f)}
        for case_id in REFERENCE_CASES:
            case = cases[case_id]
            with self.subTest(case=case_id, text=case["text"][:30]):
                # Through stdin, so newlines and tabs reach the tokenizer as they are.
                ids = self.tokenize("-", stdin=case["text"].encode("utf-8"))
                self.assertEqual(ids, case["ids"])
                self.assertEqual(self.detokenize(ids), case["text"])

    def test_detokenize_id_outside_the_vocabulary_exits_1_naming_it(self):
        run = cs.gemmactl("detokenize", "--json", "--model", self.vocab, "9259", "999999")
        self.assert_json_error(run, cs.EXIT_ERROR, mentions=["999999"])

    def test_tokenize_with_a_missing_model_exits_4(self):
        missing = os.path.join(self.tmp.name, "missing.gguf")
        run = cs.gemmactl("tokenize", "--json", "--model", missing, "x")
        self.assert_json_error(run, cs.EXIT_BAD_MODEL, mentions=[missing])

    def test_synth_with_vocab_copies_the_vocabulary_into_the_model(self):
        tiny = self.tiny_with_vocab()
        doc = self.ok_json("model", "inspect", tiny)
        self.assertEqual(doc["vocab_size"], VOCAB_SIZE)
        embd = next(t for t in doc["tensors"] if t["name"] == "token_embd.weight")
        self.assertEqual(embd["shape"][1], VOCAB_SIZE)
        # Any verb given --model runs in-process on that file: a full model tokenizes too.
        self.assertEqual(self.tokenize("Hello world", model=tiny), [9259, 1902])
        self.assertEqual(self.detokenize([9259, 1902], model=tiny), "Hello world")

    def test_generate_from_text_prompt_reports_tokens_that_detokenize_to_its_text(self):
        tiny = self.tiny_with_vocab()
        doc = self.ok_json("generate", "--model", tiny, "--raw", "-n", 4, "--temp", 0,
                           "Hello world")
        # --raw: <bos> and the prompt as it is.
        self.assertEqual(doc["prompt_tokens"], 3)
        self.assertEqual(doc["tokens"], len(doc["token_ids"]))
        self.assertLessEqual(doc["tokens"], 4)
        # Greedy decoding of fixed weights: no stop token comes first (a 3-in-262144 chance).
        self.assertGreater(doc["tokens"], 0)
        self.assertEqual(self.detokenize(doc["token_ids"], model=tiny), doc["text"])


if __name__ == "__main__":
    cs.main()
