// Loading facade: opens a GGUF file, reads the Gemma 4 config, binds the weights, and notes
// how the file differs from a known variant it resembles.
// A Model is immutable after load and shared read-only by every sequence and thread; each
// caller of the forward pass owns its own Gemma4Forward (scratch) and KV cache pool.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "gguf/gguf_file.h"
#include "models/gemma4_config.h"
#include "models/gemma4_weights.h"
#include "runtime/kv_cache.h"
#include "runtime/kv_cache_scales.h"

namespace gemmad::runtime {

class Model {
 public:
  // Errors carry kBadModelFile (gemmactl exit 4) for anything wrong with the file, prefixed
  // with the path.
  static Result<std::unique_ptr<Model>> load(const std::string& path);
  // The same over an already opened file (tests, fuzzing).
  static Result<std::unique_ptr<Model>> from_file(std::unique_ptr<gguf::GgufFile> file);

  const gguf::GgufFile& file() const { return *file_; }
  const engine::Gemma4Config& config() const { return config_; }
  const engine::Gemma4Weights& weights() const { return *weights_; }
  // "n_layer is 36; e2b has 35"-style notes when the shape resembles E2B/E4B but differs
  // (the model still loads: such a file is valid, just not a known variant).
  const std::vector<std::string>& shape_notes() const { return shape_notes_; }

  // A KV cache pool laid out for this model. opts.n_ctx is clamped to the trained context.
  // The file's static KV scales (if any) go to the layers that store q8.
  KvCachePool new_kv_pool(KvCacheOptions opts) const;
  const KvStaticScales& kv_static_scales() const { return kv_scales_; }

 private:
  Model() = default;
  std::unique_ptr<gguf::GgufFile> file_;
  engine::Gemma4Config config_;
  std::unique_ptr<engine::Gemma4Weights> weights_;
  std::vector<std::string> shape_notes_;
  KvStaticScales kv_scales_;
};

}  // namespace gemmad::runtime
