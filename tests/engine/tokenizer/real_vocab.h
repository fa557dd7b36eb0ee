// Test helper: the real 262,144-entry Gemma 4 vocabulary, built from models/tokenizer.json
// through the import-vocab code path (import -> vocabulary-only GGUF -> Tokenizer::load).
#pragma once

#include <memory>
#include <string>

#include "tokenizer/tokenizer.h"

namespace gemmad::tokenizer::testing {

// $GEMMAD_TOKENIZER_JSON, else <repo>/models/tokenizer.json.
std::string tokenizer_json_path();
// $GEMMAD_TOKENIZER_REFERENCE, else <repo>/tests/data/gemma4-tokenizer-reference.jsonl.
std::string reference_jsonl_path();

// Imports tokenizer.json into a vocabulary-only GGUF and loads it. The GGUF is kept in
// test-data/ beside the test executable (else the temp dir), keyed by this executable's and the
// JSON's size and mtime, so the import runs once per build rather than once per test process. On
// failure (e.g. the file was never fetched) returns nullptr and sets `error` to a message
// saying to run scripts/fetch-tokenizer.sh.
std::unique_ptr<Tokenizer> load_real_vocab(std::string* error, std::string* gguf_path = nullptr);

}  // namespace gemmad::tokenizer::testing
