#!/usr/bin/python3
"""gemmactl's usage contract (docs/DESIGN.md): every verb has --help naming the flags of the
contract table, every verb that prints data has --json, usage errors exit 2."""
import re
import sys

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

import cli_support as cs  # noqa: E402

# Every verb and sub-verb of the contract table, with the flags and positionals the table
# gives it (docs/DESIGN.md). Verbs that print data must offer --json.
CONTRACT_HELP = {
    (): ["--socket"],
    ("model",): ["inspect", "synth", "import-vocab"],
    ("model", "inspect"): ["FILE", "--json"],
    ("model", "synth"): ["--preset", "--quant", "--vocab", "--seed", "--shared-kv", "-o",
                         "--output"],
    ("model", "import-vocab"): ["-o", "--output"],
    ("tokenize",): ["--model", "--special", "--bos", "--json"],
    ("detokenize",): ["--model", "--json"],
    ("logits",): ["--model", "--ids", "-o", "--output", "--mode"],
    ("generate",): ["--model", "-n", "--temp", "--seed", "--json"],
    ("chat",): ["--session", "--new", "--system", "--think", "--json", "--temp", "--top-k",
                "--top-p", "--min-p", "--repeat-penalty", "--seed", "-n", "--max-tokens"],
    ("session",): ["ls", "show", "rm", "export"],
    ("session", "ls"): ["--json"],
    ("session", "show"): ["--json"],
    ("session", "rm"): [],
    ("session", "export"): [],
    ("status",): ["--json"],
    ("shutdown",): ["--json", "--no-wait"],
    ("help",): ["verb"],
    ("version",): ["--json"],
    ("bench",): ["--model", "--prefill", "--contexts", "--prompt-tokens", "--gen-tokens", "--threads",
                 "--no-probe", "--json"],
}


class EveryVerb(cs.CliTestCase):

    def test_has_help_that_prints_its_usage_and_contract_flags(self):
        for verb, flags in CONTRACT_HELP.items():
            with self.subTest(verb=" ".join(verb) or "(root)"):
                run = self.ok(*verb, "--help")
                text = run.text()
                self.assertIn("Usage:", text, run.describe())
                self.assertIn(" ".join(("gemmactl",) + verb), text, run.describe())
                for flag in flags:
                    self.assertTrue(cs.has_flag(text, flag),
                                    f"--help does not mention {flag}\n" + run.describe())

    def test_short_help_flag_works_like_long(self):
        self.assertEqual(self.ok("tokenize", "-h").out, self.ok("tokenize", "--help").out)

    def test_version_flag_prints_a_version(self):
        run = self.ok("--version")
        self.assertRegex(run.text(), r"\d+\.\d+")


class UsageErrors(cs.CliTestCase):

    def assert_usage_error(self, *argv):
        run = cs.gemmactl(*argv)
        self.assert_exit(run, cs.EXIT_USAGE)
        self.assertNotEqual(run.err, b"", "a usage error must say what was wrong\n" +
                            run.describe())

    def test_no_verb_exits_2(self):
        self.assert_usage_error()

    def test_unknown_verb_exits_2(self):
        self.assert_usage_error("frobnicate")

    def test_unknown_sub_verb_exits_2(self):
        self.assert_usage_error("model", "frobnicate")
        self.assert_usage_error("session", "frobnicate")

    def test_group_without_sub_verb_exits_2(self):
        self.assert_usage_error("model")
        self.assert_usage_error("session")

    def test_unknown_flag_exits_2(self):
        self.assert_usage_error("--frobnicate", "status")
        self.assert_usage_error("tokenize", "--frobnicate", "x")
        self.assert_usage_error("model", "inspect", "--frobnicate", "f.gguf")
        self.assert_usage_error("bench", "--model", "f.gguf", "--frobnicate")

    def test_missing_required_argument_exits_2(self):
        self.assert_usage_error("model", "inspect")
        self.assert_usage_error("model", "synth", "--preset", "tiny")  # no -o
        self.assert_usage_error("model", "import-vocab", "tokenizer.json")  # no -o
        self.assert_usage_error("logits", "--model", "f.gguf", "--ids", "2")  # no --out
        self.assert_usage_error("detokenize", "--model", "f.gguf")  # no ids
        self.assert_usage_error("session", "show")  # no id

    def test_value_outside_the_allowed_set_exits_2(self):
        self.assert_usage_error("model", "synth", "--preset", "huge", "-o", "x.gguf")
        self.assert_usage_error("model", "synth", "--quant", "q8_1", "-o", "x.gguf")
        self.assert_usage_error("logits", "--model", "f.gguf", "--ids", "2", "--out", "x",
                                "--mode", "sideways")
        self.assert_usage_error("bench", "--model", "f.gguf", "--prompt-tokens", "0")

    def test_ids_that_are_not_numbers_exit_2(self):
        # Checked before the model is opened: the model path need not exist.
        self.assert_usage_error("detokenize", "--model", "/nonexistent.gguf", "12", "abc")
        self.assert_usage_error("logits", "--model", "/nonexistent.gguf", "--ids", "2 x",
                                "--out", "/nonexistent/x.bin")
        self.assert_usage_error("logits", "--model", "/nonexistent.gguf", "--ids", "-5",
                                "--out", "/nonexistent/x.bin")

    def test_usage_error_found_by_the_verb_is_a_json_error_with_json(self):
        run = cs.gemmactl("detokenize", "--json", "--model", "/nonexistent.gguf", "abc")
        self.assert_json_error(run, cs.EXIT_USAGE, mentions=["abc"])


class HelpVersionAndMistakes(cs.CliTestCase):

    def test_help_verb_prints_the_same_text_as_dash_dash_help(self):
        self.assertEqual(self.ok("help", "chat").out, self.ok("chat", "--help").out)
        self.assertEqual(self.ok("help", "session", "ls").out,
                         self.ok("session", "ls", "--help").out)
        root = self.ok("help").text()
        self.assertIn("Usage: gemmactl", root)
        for verb in ("chat", "status", "shutdown", "help", "version"):
            self.assertTrue(cs.has_flag(root, verb), root)

    def test_help_for_an_unknown_verb_suggests_one(self):
        run = cs.gemmactl("help", "chatt")
        self.assert_exit(run, cs.EXIT_USAGE)
        self.assertIn("did you mean 'chat'", run.err_text())

    def test_version_verb_prints_the_version(self):
        self.assertRegex(self.ok("version").text(), r"^gemmactl \d+\.\d+")
        self.assertRegex(self.ok_json("version")["version"], r"^\d+\.\d+")

    def test_a_mistyped_verb_gets_did_you_mean(self):
        for argv, want in ((["stauts"], "'status'"), (["sesion", "ls"], "'session'"),
                           (["session", "lss"], "'ls'"), (["chta", "hi"], "'chat'")):
            with self.subTest(argv=argv):
                run = cs.gemmactl(*argv)
                self.assert_exit(run, cs.EXIT_USAGE)
                self.assertTrue(run.err_text().startswith("gemmactl: "), run.describe())
                self.assertIn("did you mean " + want, run.err_text())

    def test_usage_errors_are_prefixed_and_json_under_json(self):
        for argv in (["tokenize", "--frobnicate", "x"], ["session", "lss"], ["model"],
                     ["chat", "--temp", "-1", "hi"], ["logits", "--model", "f", "--ids", "2"]):
            with self.subTest(argv=argv):
                text = cs.gemmactl(*argv)
                self.assert_exit(text, cs.EXIT_USAGE)
                self.assertTrue(text.err_text().startswith("gemmactl: "), text.describe())
                self.assertNotIn("Run with --help", text.err_text())
                run = cs.gemmactl(*argv, "--json")
                self.assert_json_error(run, cs.EXIT_USAGE)
                self.assertEqual(run.err_json()["error"]["code"], "usage")

    def test_the_output_flag_has_one_spelling_and_keeps_out_as_a_hidden_alias(self):
        for verb in (("logits",), ("model", "synth"), ("model", "import-vocab")):
            with self.subTest(verb=verb):
                text = self.ok(*verb, "--help").text()
                self.assertIn("-o,--output", text)
                self.assertFalse(cs.has_flag(text, "--out"), text)

    def test_chat_help_shows_every_sampling_default(self):
        text = self.ok("chat", "--help").text()
        for flag, default in (("--temp", "1"), ("--top-k", "64"), ("--top-p", "0.95"),
                              ("--min-p", "0"), ("--repeat-penalty", "1"), ("--seed", "-1"),
                              ("--max-tokens", "1024")):
            with self.subTest(flag=flag):
                line = next(l for l in text.splitlines() if flag in l)
                self.assertRegex(line, r"=" + re.escape(default) + r"(?![\d.])", line)

    def test_no_help_text_cites_a_file_outside_the_repository(self):
        for verb in list(CONTRACT_HELP) + [("help",), ("shutdown",)]:
            text = self.ok(*verb, "--help").text()
            self.assertNotRegex(text, r"shared/|spec/|DESIGN\.md", " ".join(verb))


if __name__ == "__main__":
    cs.main()
