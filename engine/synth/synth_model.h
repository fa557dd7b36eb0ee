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

// Value distributions shared by the synthetic writers (reasons in synth_model.cpp): unit-gain
// linears (std 1/sqrt(n_in)), RMSNorm weights in [0.5, 1.5], q/k-norm weights scaled by
// hd^(-1/4) for an attention scale of 1.0.
ValueSpec linear_values(uint64_t n_in);
ValueSpec norm_values();
ValueSpec qk_norm_values(uint32_t head_dim);

// The tensor table of docs/GEMMA4.md §3.3 for config `c` (n_vocab rows in the embedding tables),
// with the types of `quant` (§7.1; rows whose length does not fit a block type fall back to Q8_0 or
// F16). KV-shared layers get attn_k/attn_k_norm/attn_v only if `shared_kv`.
std::vector<TensorPlan> plan_tensors(const engine::Gemma4Config& c, SynthQuant quant,
                                     bool shared_kv);

// Writes the general.* and gemma4.* keys of docs/GEMMA4.md §3.2 for `c` (not the tokenizer keys).
void write_model_keys(gguf::GgufWriter& w, const engine::Gemma4Config& c, const std::string& name,
                      SynthQuant quant);

// Declares every tensor of `plan` on `w` with hashed values of `seed` (filled at write time);
// returns how many.
uint64_t add_planned_tensors(gguf::GgufWriter& w, std::vector<TensorPlan> plan, uint64_t seed);

// w.write(out_path) and the written file's size.
Result<uint64_t> write_file(const gguf::GgufWriter& w, const std::string& out_path,
                            const std::function<void(uint64_t, uint64_t)>& progress);

// Writes the model to `out_path`. `progress(done_bytes, total_bytes)` is called after each
// tensor if set. Errors: unknown preset, unreadable vocabulary, I/O.
Result<SynthSummary> write_synthetic_model(
    const SynthOptions& opts, const std::string& out_path,
    const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

}  // namespace gemmad::synth
