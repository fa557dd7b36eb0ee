// Writes a deterministic Gemma-4-shaped GGUF with synthetic weights (docs/GEMMA4.md §3.2,
// §3.3, §7.1) for tests, benchmarks and the NumPy reference comparison.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "quant/ggml_type.h"
#include "synth/synth_weights.h"

namespace gemmad::engine {
struct Gemma4Config;
}
namespace gemmad::gguf {
class GgufWriter;
}

namespace gemmad::synth {

enum class SynthQuant {
  kF32,   // every tensor F32
  kQ4_0,  // the official Q4_0 mix of docs/GEMMA4.md §7.1
};

struct SynthOptions {
  std::string preset = "tiny";  // "tiny" | "e2b" | "e4b" (Gemma4Config::preset)
  SynthQuant quant = SynthQuant::kF32;
  std::string vocab_path;  // vocabulary-only GGUF to copy tokenizer.* from; empty = built-in
  uint64_t seed = 0;
  bool shared_kv = false;  // also write attn_k/attn_v/attn_k_norm on KV-shared layers
};

struct SynthSummary {
  std::string name;  // general.name
  uint64_t n_tensors = 0;
  uint64_t file_bytes = 0;
  uint32_t n_vocab = 0;
};

// One tensor of the synthetic model: name, type, shape (ggml order) and value distribution.
struct TensorPlan {
  std::string name;
  quant::GgmlType type = quant::GgmlType::kF32;
  std::vector<uint64_t> ne;
  ValueSpec values;
};

// The tensor table of docs/GEMMA4.md §3.3 for config `c` (n_vocab rows in the embedding tables),
// with the types of `quant` (§7.1; rows whose length does not fit a block type fall back to Q8_0 or
// F16). KV-shared layers get attn_k/attn_k_norm/attn_v only if `shared_kv`.
std::vector<TensorPlan> plan_tensors(const engine::Gemma4Config& c, SynthQuant quant,
                                     bool shared_kv);

// Writes the general.* and gemma4.* keys of docs/GEMMA4.md §3.2 for `c` (not the tokenizer keys).
void write_model_keys(gguf::GgufWriter& w, const engine::Gemma4Config& c, const std::string& name,
                      SynthQuant quant);

// Writes the model to `out_path`. `progress(done_bytes, total_bytes)` is called after each
// tensor if set. Errors: unknown preset, unreadable vocabulary, I/O.
Result<SynthSummary> write_synthetic_model(
    const SynthOptions& opts, const std::string& out_path,
    const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

}  // namespace gemmad::synth
