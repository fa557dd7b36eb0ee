#!/usr/bin/python3
"""`gemmactl model synth` and `gemmactl model inspect` (docs/DESIGN.md contract): synthetic
models are deterministic, inspect --json has the contract's shape and the tensor types of
docs/GEMMA4.md §7.1, and damaged or missing files give the contract's exit codes."""
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

import cli_support as cs  # noqa: E402

# Bytes per block and elements per block of the GGML types a synthetic model uses (the GGML
# type table: q4_0 = f16 scale + 32 nibbles, q8_0 = f16 scale + 32 bytes, q6_K = 210 B/256).
TYPE_BLOCKS = {"f32": (4, 1), "f16": (2, 1), "bf16": (2, 1), "q4_0": (18, 32),
               "q8_0": (34, 32), "q6_K": (210, 256)}

# The tensors an E2B/E4B-shaped file omits on KV-shared layers (docs/GEMMA4.md §3.3, §7.1).
SHARED_KV_TENSORS = ("attn_k.weight", "attn_v.weight", "attn_k_norm.weight")

EMBEDDINGS = ("token_embd.weight", "per_layer_token_embd.weight")


def expected_q4_0_type(name, shape):
    """The type the Q4_0 mix gives a tensor (docs/GEMMA4.md §7.1): embeddings Q6_K, the
    per-layer model projection 16-bit, norms and other vectors F32, matrices Q4_0. Rows too
    short for a block take llama-quantize's fallbacks (Q6_K -> Q8_0 -> F16, Q4_0 -> F16)."""
    if len(shape) == 1:
        return "f32"
    if name == "per_layer_model_proj.weight":
        return "f16"
    n_in = shape[0]
    if name in EMBEDDINGS:
        if n_in % 256 == 0:
            return "q6_K"
        return "q8_0" if n_in % 32 == 0 else "f16"
    return "q4_0" if n_in % 32 == 0 else "f16"


def tensor_bytes(t):
    size, per_block = TYPE_BLOCKS[t["type"]]
    n = 1
    for d in t["shape"]:
        n *= d
    return n // per_block * size


class Synth(cs.CliTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="gemmad-cli-")
        cls.dir = cls.tmp.name
        cls.models = {}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def synth(self, quant, seed=1, shared_kv=False):
        """Path of the tiny model with these options (written once per test run)."""
        key = (quant, seed, shared_kv)
        if key not in self.models:
            path = os.path.join(self.dir, f"tiny-{quant}-s{seed}{'-kv' if shared_kv else ''}"
                                ".gguf")
            flags = ["--shared-kv"] if shared_kv else []
            self.ok("model", "synth", "--preset", "tiny", "--quant", quant, "--seed", seed,
                    *flags, "-o", path)
            self.assertGreater(os.path.getsize(path), 0)
            self.models[key] = path
        return self.models[key]

    def inspect(self, path):
        return self.ok_json("model", "inspect", path)

    def test_same_seed_writes_byte_identical_files(self):
        for quant in ("f32", "q4_0"):
            with self.subTest(quant=quant):
                a = self.synth(quant, seed=7)
                b = os.path.join(self.dir, f"again-{quant}.gguf")
                self.ok("model", "synth", "--preset", "tiny", "--quant", quant, "--seed", 7,
                        "-o", b)
                with open(a, "rb") as fa, open(b, "rb") as fb:
                    self.assertEqual(fa.read(), fb.read())

    def test_different_seed_changes_weights_but_not_the_tensor_table(self):
        for quant in ("f32", "q4_0"):
            with self.subTest(quant=quant):
                a, b = self.synth(quant, seed=1), self.synth(quant, seed=2)
                with open(a, "rb") as fa, open(b, "rb") as fb:
                    self.assertNotEqual(fa.read(), fb.read())
                ta, tb = self.inspect(a)["tensors"], self.inspect(b)["tensors"]
                self.assertEqual(ta, tb)

    def test_inspect_json_has_the_contract_shape(self):
        for quant in ("f32", "q4_0"):
            with self.subTest(quant=quant):
                path = self.synth(quant)
                doc = self.inspect(path)
                self.assertEqual(doc["architecture"], "gemma4")
                self.assertIsInstance(doc["metadata"], dict)
                self.assertEqual(doc["metadata"]["general.architecture"], "gemma4")
                self.assertIsInstance(doc["tensors"], list)
                self.assertEqual(doc["tensor_count"], len(doc["tensors"]))
                self.assertGreater(doc["tensor_count"], 0)
                for t in doc["tensors"]:
                    self.assertIsInstance(t["name"], str)
                    self.assertIn(t["type"], TYPE_BLOCKS, t)
                    self.assertIsInstance(t["shape"], list)
                    self.assertTrue(all(isinstance(d, int) and d > 0 for d in t["shape"]), t)
                    self.assertIsInstance(t["offset"], int)
                names = [t["name"] for t in doc["tensors"]]
                self.assertEqual(len(names), len(set(names)), "tensor names repeat")
                embd = next(t for t in doc["tensors"] if t["name"] == "token_embd.weight")
                self.assertEqual(doc["vocab_size"], embd["shape"][1])
                self.assertEqual(embd["shape"][0], doc["metadata"]["gemma4.embedding_length"])

    def test_inspect_offsets_are_aligned_and_tensors_fit_in_the_file(self):
        for quant in ("f32", "q4_0"):
            with self.subTest(quant=quant):
                path = self.synth(quant)
                doc = self.inspect(path)
                align = doc["metadata"].get("general.alignment", 32)
                data_bytes = os.path.getsize(path) - doc["data_offset"]
                end = 0
                for t in sorted(doc["tensors"], key=lambda t: t["offset"]):
                    self.assertEqual(t["offset"] % align, 0, t)
                    self.assertGreaterEqual(t["offset"], end, f"{t['name']} overlaps")
                    end = t["offset"] + tensor_bytes(t)
                self.assertLessEqual(end, data_bytes)

    def test_f32_model_has_only_f32_tensors(self):
        doc = self.inspect(self.synth("f32"))
        self.assertEqual({t["type"] for t in doc["tensors"]}, {"f32"})

    def test_q4_0_model_has_the_official_type_mix(self):
        doc = self.inspect(self.synth("q4_0"))
        for t in doc["tensors"]:
            self.assertEqual(t["type"], expected_q4_0_type(t["name"], t["shape"]), t)
        types = {t["type"] for t in doc["tensors"]}
        self.assertIn("q4_0", types)
        self.assertIn("f16", types)  # per_layer_model_proj

    def test_shared_kv_adds_three_tensors_per_shared_layer(self):
        for quant in ("f32", "q4_0"):
            with self.subTest(quant=quant):
                plain = self.inspect(self.synth(quant))
                shared = self.inspect(self.synth(quant, shared_kv=True))
                md = plain["metadata"]
                n_layer = md["gemma4.block_count"]
                n_shared = md["gemma4.attention.shared_kv_layers"]
                self.assertGreater(n_shared, 0)
                self.assertEqual(shared["tensor_count"] - plain["tensor_count"], 3 * n_shared)
                extra = {t["name"] for t in shared["tensors"]} - {
                    t["name"] for t in plain["tensors"]}
                want = {f"blk.{n}.{s}" for n in range(n_layer - n_shared, n_layer)
                        for s in SHARED_KV_TENSORS}
                self.assertEqual(extra, want)

    def test_inspect_text_output_names_architecture_and_vocab_size(self):
        path = self.synth("q4_0")
        doc = self.inspect(path)
        text = self.ok("model", "inspect", path).text()
        self.assertIn("gemma4", text)
        self.assertIn(str(doc["vocab_size"]), text)

    def test_mmproj_is_written_beside_the_model_in_the_vision_layout(self):
        # docs/ENCODERS.md §5: clip keys, 41 tensors per block + patch, positions, projector
        # into the text width; the patch kernel is F16 only in an F16 file. The audio tower
        # (a.*, mm.a.*) comes with it, as in the converter's E2B/E4B files.
        text = os.path.join(self.dir, "with-mmproj.gguf")
        for quant, patch_type, matrix_type in (("f16", "f16", "f16"), ("q8_0", "f32", "q8_0")):
            with self.subTest(quant=quant):
                mm = os.path.join(self.dir, f"mmproj-{quant}.gguf")
                doc = self.ok_json("model", "synth", "--preset", "tiny", "-o", text, "--mmproj", mm,
                                   "--mmproj-quant", quant)
                self.assertEqual(doc["mmproj_path"], mm)
                self.assertEqual(doc["mmproj_file_bytes"], os.path.getsize(mm))
                info = self.inspect(mm)
                md = info["metadata"]
                self.assertEqual(md["general.type"], "mmproj")
                self.assertEqual(md["clip.vision.projector_type"], "gemma4v")
                self.assertEqual(md["clip.vision.projection_dim"],
                                 self.inspect(text)["metadata"]["gemma4.embedding_length"])
                n_blocks = md["clip.vision.block_count"]
                names = [t["name"] for t in info["tensors"]]
                vision = [n for n in names if n.startswith("v.") or n == "mm.input_projection.weight"]
                self.assertEqual(len(vision), 41 * n_blocks + 3)
                self.assertTrue(md["clip.has_audio_encoder"])
                self.assertIn("mm.a.input_projection.weight", names)
                self.assertEqual(len(vision) + sum(n.startswith(("a.", "mm.a.")) for n in names),
                                 info["tensor_count"])
                self.assertEqual(doc["mmproj_tensor_count"], info["tensor_count"])
                types = {t["name"]: t["type"] for t in info["tensors"]}
                self.assertEqual(types["v.patch_embd.weight"], patch_type)
                self.assertEqual(types["v.blk.0.ffn_up.weight"], matrix_type)
                self.assertEqual(types["v.position_embd.weight"], "f32")
                self.assertEqual(types["v.blk.0.attn_q.input_max"], "f32")


class DamagedModelFile(cs.CliTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="gemmad-cli-")
        cls.model = os.path.join(cls.tmp.name, "tiny.gguf")
        run = cs.gemmactl("model", "synth", "--preset", "tiny", "--quant", "q4_0", "-o",
                          cls.model)
        assert run.code == 0, run.describe()
        run = cs.gemmactl("model", "inspect", "--json", cls.model)
        assert run.code == 0, run.describe()
        doc = run.json()
        cls.data_offset = doc["data_offset"]
        # The file may end in alignment padding after the last tensor: cutting that is fine.
        cls.data_end = cls.data_offset + max(t["offset"] + tensor_bytes(t)
                                             for t in doc["tensors"])
        with open(cls.model, "rb") as f:
            cls.bytes = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def write(self, name, data):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_truncated_copies_exit_4_naming_the_file(self):
        # In the magic, the counts, the metadata, at the start of, inside and at the very end
        # of the tensor data.
        cuts = [0, 3, 10, 100, self.data_offset // 2, self.data_offset - 1, self.data_offset,
                (self.data_offset + self.data_end) // 2, self.data_end - 1]
        for cut in cuts:
            with self.subTest(cut=cut):
                path = self.write(f"cut-{cut}.gguf", self.bytes[:cut])
                run = cs.gemmactl("model", "inspect", path)
                self.assert_exit(run, cs.EXIT_BAD_MODEL)
                self.assertEqual(run.out, b"", run.describe())
                self.assertIn(f"cut-{cut}.gguf", run.err_text(), run.describe())
                err = self.assert_json_error(cs.gemmactl("model", "inspect", "--json", path),
                                             cs.EXIT_BAD_MODEL, mentions=[f"cut-{cut}.gguf"])
                # The message says what is wrong, not only that something is.
                self.assertRegex(err["message"].replace(path, "").lower(),
                                 r"truncat|past the end|exceed|empty|too short|end of file")

    def test_wrong_magic_exits_4(self):
        path = self.write("magic.gguf", b"GGML" + self.bytes[4:])
        self.assert_json_error(cs.gemmactl("model", "inspect", "--json", path),
                               cs.EXIT_BAD_MODEL, mentions=["magic.gguf"])

    def test_missing_file_exits_4_naming_the_path(self):
        # The contract's "4 bad model file" covers a --model FILE that is not there at all.
        path = os.path.join(self.tmp.name, "missing.gguf")
        run = cs.gemmactl("model", "inspect", path)
        self.assert_exit(run, cs.EXIT_BAD_MODEL)
        self.assertIn(path, run.err_text())
        self.assert_json_error(cs.gemmactl("model", "inspect", "--json", path),
                               cs.EXIT_BAD_MODEL, mentions=[path])
        for argv in (["generate", "--model", path, "hi"], ["tokenize", "--model", path, "hi"],
                     ["logits", "--model", path, "--ids", "2", "-o", path + ".bin"],
                     ["bench", "--model", path]):
            with self.subTest(verb=argv[0]):
                self.assert_json_error(cs.gemmactl(*argv, "--json"), cs.EXIT_BAD_MODEL,
                                       mentions=[path])

    def test_engine_verbs_reject_a_truncated_model_with_exit_4(self):
        path = self.write("half.gguf", self.bytes[:len(self.bytes) // 2])
        out = os.path.join(self.tmp.name, "logits.bin")
        for argv in (["logits", "--model", path, "--ids", "2 3", "--out", out],
                     ["generate", "--model", path, "--ids", "2 3", "-n", "2"],
                     ["bench", "--model", path, "--prompt-tokens", "4", "--gen-tokens", "2"],
                     ["tokenize", "--model", path, "hello"]):
            with self.subTest(verb=argv[0]):
                self.assert_json_error(cs.gemmactl(*argv, "--json"), cs.EXIT_BAD_MODEL,
                                       mentions=["half.gguf"])

    def test_synth_into_a_missing_directory_fails_without_crashing(self):
        run = cs.gemmactl("model", "synth", "--preset", "tiny", "-o",
                          os.path.join(self.tmp.name, "no", "such", "dir", "x.gguf"))
        self.assert_exit(run, cs.EXIT_ERROR)
        self.assertNotEqual(run.err, b"")


if __name__ == "__main__":
    cs.main()
