// Test helper: the generation cases both the offline loop (generate::run_sequence) and the
// daemon's batching scheduler are checked against, on the tiny synthetic model.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "generate/generation.h"
#include "runtime/model.h"
#include "synth/synth_model.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::testing {

struct GenerationCase {
  std::string name;
  std::string prompt;  // raw: <bos> + text
  generate::Limits limits;
  uint32_t n_ctx = 4096;  // 0: prompt tokens + 3 (the context fills after 4 tokens)
};

inline std::vector<GenerationCase> generation_cases() {
  std::vector<GenerationCase> cases;
  cases.push_back({"default", "the cat sat on the mat", {}, 4096});
  cases.push_back({"max_tokens", "in the end", {.max_tokens = 5}, 4096});
  cases.push_back({"ignore_eos", "hello there", {.max_tokens = 40, .ignore_eos = true}, 4096});
  cases.push_back({"context_full", "a b c d", {.max_tokens = 100, .ignore_eos = true}, 0});
  return cases;
}

// A tiny synthetic model in `path`, loaded through the real loader.
struct TinyModel {
  std::unique_ptr<runtime::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
};
inline TinyModel load_tiny(const std::string& path, uint64_t seed = 0) {
  TinyModel t;
  synth::SynthOptions o;
  o.seed = seed;
  if (!synth::write_synthetic_model(o, path).ok()) return t;
  auto m = runtime::Model::load(path);
  if (!m.ok()) return t;
  t.model = std::move(m).value();
  auto tok = tokenizer::Tokenizer::from_gguf(t.model->file());
  if (tok.ok()) t.tok = std::move(tok).value();
  return t;
}

}  // namespace gemmad::testing
