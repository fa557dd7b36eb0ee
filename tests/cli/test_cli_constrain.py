#!/usr/bin/python3
"""Constrained decoding end to end (docs/CONSTRAINED.md): a random-weight synthetic model
generating under a JSON Schema with `gemmactl generate --model F --schema FILE` always
produces output that parses and validates (python3-jsonschema), for many seeds and both
sampling modes; --json-object gives one JSON value; a bad schema is a usage error naming the
keyword."""
import json
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

import jsonschema  # noqa: E402  (python3-jsonschema, scripts/install-deps.sh)

import cli_support as cs  # noqa: E402

SEEDS = range(1, 21)

# Bounded everywhere (strings, arrays) so a random model always reaches the end before
# max_tokens; exercises objects, optional properties, enum, const, anyOf, $ref, arrays.
SCHEMA = {
    "$defs": {
        "tag": {"type": "string", "minLength": 1, "maxLength": 6},
    },
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 10},
        "age": {"type": "integer"},
        "score": {"type": "number"},
        "colour": {"enum": ["red", "green", "blue"]},
        "kind": {"const": "person"},
        "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "maxItems": 3},
        "extra": {"anyOf": [{"type": "null"}, {"type": "boolean"},
                            {"type": "object", "properties": {"x": {"type": "integer"}},
                             "required": ["x"], "additionalProperties": False}]},
    },
    "required": ["name", "age", "colour", "kind"],
    "additionalProperties": False,
}


class ConstrainedGenerate(cs.CliTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="gemmad-constrain-")
        cls.model = os.path.join(cls.tmp.name, "tiny.gguf")
        run = cs.gemmactl("model", "synth", "--preset", "tiny", "--seed", 5, "-o", cls.model)
        if run.code != 0:
            cls.tmp.cleanup()
            raise AssertionError("model synth failed\n" + run.describe())
        cls.schema = os.path.join(cls.tmp.name, "schema.json")
        with open(cls.schema, "w", encoding="utf-8") as f:
            json.dump(SCHEMA, f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def generate(self, *args):
        run = cs.gemmactl("generate", "--model", self.model, "--json", "-n", 400, *args,
                          "Describe someone")
        self.assertEqual(run.code, cs.EXIT_OK, run.describe())
        return json.loads(run.out)

    def test_every_seed_gives_a_valid_document(self):
        for temp in ("1.0", "0"):
            for seed in SEEDS:
                with self.subTest(seed=seed, temp=temp):
                    doc = self.generate("--schema", self.schema, "--seed", seed, "--temp", temp)
                    self.assertNotEqual(doc["stop_reason"], "max_tokens", doc["text"])
                    value = json.loads(doc["text"])
                    jsonschema.validate(value, SCHEMA)
                    if temp == "0":
                        break  # greedy: one seed is enough

    def test_json_object_gives_one_json_value(self):
        for seed in (1, 2, 3):
            doc = self.generate("--json-object", "--seed", seed)
            if doc["stop_reason"] != "max_tokens":
                json.loads(doc["text"])

    def test_bad_schema_is_a_usage_error_naming_the_keyword(self):
        bad = os.path.join(self.tmp.name, "bad.json")
        with open(bad, "w", encoding="utf-8") as f:
            json.dump({"type": "object", "properties": {"d": {"type": "string",
                                                              "format": "date"}}}, f)
        run = cs.gemmactl("generate", "--model", self.model, "--schema", bad, "x")
        self.assertEqual(run.code, cs.EXIT_USAGE, run.describe())
        self.assertIn("keyword 'format' is not supported at /properties/d", run.err_text())

    def test_schema_needs_offline_mode(self):
        run = cs.gemmactl("generate", "--json-object", "x")
        self.assertEqual(run.code, cs.EXIT_USAGE, run.describe())
        self.assertIn("need --model", run.err_text())


if __name__ == "__main__":
    cs.main()
