// Gemma 4 text-decoder hyperparameters: read from GGUF metadata (docs/GEMMA4.md §3.2),
// and the canonical shapes of the known variants as data, so that a file that looks like E2B
// but differs is reported field by field ("n_layer is 36; E2B has 35").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace gemmad::gguf {
class GgufFile;
}

namespace gemmad::engine {

struct Gemma4Config {
  std::string variant;  // "e2b", "e4b", "tiny" or "" (unknown shape)
  uint32_t n_vocab = 0;
  uint32_t n_ctx_train = 0;
  uint32_t n_embd = 0;             // d
  uint32_t n_layer = 0;            // L
  uint32_t n_head = 0;             // H (all layers)
  uint32_t n_head_kv = 0;          // Hkv (all layers; E2B/E4B use one value)
  uint32_t head_dim_full = 0;      // hf (key_length)
  uint32_t head_dim_swa = 0;       // hs (key_length_swa)
  uint32_t n_swa = 0;              // sliding window W
  uint32_t n_layer_kv_shared = 0;  // S; layers >= n_layer - S reuse another layer's KV
  uint32_t n_embd_per_layer = 0;   // p (PLE width); 0 = no PLE
  float rms_eps = 1e-6f;
  float rope_base_full = 1e6f;
  float rope_base_swa = 1e4f;
  uint32_t n_rot_full = 0;  // rope.dimension_count (512)
  uint32_t n_rot_swa = 0;   // rope.dimension_count_swa (256)
  // Per-pair frequency divisors of full layers, from the `rope_freqs.weight` tensor
  // (n_rot_full/2 values: 1.0 for the 64 rotated pairs, 1e30 for the rest; docs/GEMMA4.md §1.4).
  // Empty = every pair rotates. Pairs with a divisor >= 1e20 are skipped (angle ~0).
  std::vector<float> rope_freq_factors;
  float final_logit_softcap = 30.0f;  // 0 = none
  std::vector<uint32_t> n_ff;         // per layer FFN width
  std::vector<bool> is_swa;           // per layer: true = sliding window layer

  uint32_t first_shared_layer() const { return n_layer - n_layer_kv_shared; }  // F0
  bool owns_kv(uint32_t il) const { return il < first_shared_layer(); }
  // Layer whose KV cache layer `il` reads (itself if it owns KV). Spec §1.6: the last layer
  // before F0 with the same attention type.
  uint32_t kv_source_layer(uint32_t il) const;
  uint32_t head_dim(uint32_t il) const { return is_swa[il] ? head_dim_swa : head_dim_full; }

  // Reads and validates every key of §3.2 from `f` (arch "gemma4"). Missing required keys
  // and inconsistent values are errors naming the key.
  static Result<Gemma4Config> from_gguf(const gguf::GgufFile& f);
  // Canonical shapes: "e2b", "e4b", and "tiny" (a few-MB model for tests with every
  // architectural feature: both layer types, KV sharing, PLE, per-layer FFN widths).
  static std::optional<Gemma4Config> preset(const std::string& name);
  // If the file claims a known variant's layer count/width, list differing fields.
  std::vector<std::string> differences_from(const Gemma4Config& canonical) const;
};

}  // namespace gemmad::engine
