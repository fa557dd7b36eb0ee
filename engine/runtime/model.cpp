// Model loading facade: GGUF file + Gemma 4 config + bound weights.
#include "runtime/model.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "models/gemma4.h"
#include "runtime/page_advice.h"

namespace gemmad::runtime {

namespace {

constexpr const char* kPleTable = "per_layer_token_embd.weight";

// The PLE table (E2B: 1.9 GB in Q6_K) is read one row per token (docs/GEMMA4.md §4.1). Without
// MADV_RANDOM, each fault would also map the neighbouring cached pages ("fault-around") and
// trigger readahead, so resident memory would grow by tens of KB per distinct token. The same
// for a scaled-code table's scales (E2B mobile: 36.7 MB, 140 bytes per token).
void advise_row_table(const gguf::GgufFile& f) {
  for (const std::string& n : {std::string(kPleTable), std::string(kPleTable) + "_scale"}) {
    if (const gguf::TensorInfo* t = f.find_tensor(n)) advise_random_pages(t->data, t->n_bytes);
  }
}

}  // namespace

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
  auto file = gguf::GgufFile::open(path);
  if (!file.ok()) return std::move(file).error();
  auto model = from_file(std::move(file).value());
  if (!model.ok()) {
    Error e = std::move(model).error();
    // A file that lacks a key or tensor the model needs (e.g. a vocabulary-only GGUF) is a
    // bad model file (gemmactl exit 4), not a missing thing the caller asked for.
    if (e.code == ErrorCode::kNotFound) e.code = ErrorCode::kBadModelFile;
    // GGUF getters already name the file; add it only where it is missing.
    if (e.message.rfind(path, 0) != 0) e.message = path + ": " + e.message;
    return e;
  }
  // The bind-time finiteness check read every scale of the PLE table; decoding reads 140
  // bytes of them per token, so unmap them again (the file is mmapped read-only here; a
  // parsed in-memory file must not get MADV_DONTNEED).
  if (const gguf::TensorInfo* t =
          model.value()->file().find_tensor(std::string(kPleTable) + "_scale")) {
    release_pages(t->data, t->n_bytes);
  }
  return model;
}

Result<std::unique_ptr<Model>> Model::from_file(std::unique_ptr<gguf::GgufFile> file) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::move(file);
  GEMMAD_ASSIGN_OR_RETURN(m->config_, engine::Gemma4Config::from_gguf(*m->file_));
  GEMMAD_ASSIGN_OR_RETURN(m->weights_, engine::Gemma4Weights::bind(*m->file_, m->config_));
  GEMMAD_ASSIGN_OR_RETURN(m->kv_scales_, read_kv_static_scales(*m->file_, m->config_.n_layer));
  advise_row_table(*m->file_);
  // A file "looks like" a variant when its depth or its width matches one.
  for (const char* name : {"e2b", "e4b"}) {
    const auto canon = engine::Gemma4Config::preset(name);
    if (!canon || (canon->n_layer != m->config_.n_layer && canon->n_embd != m->config_.n_embd)) {
      continue;
    }
    for (std::string& d : m->config_.differences_from(*canon)) {
      m->shape_notes_.push_back(std::move(d));
    }
  }
  return m;
}

KvCachePool Model::new_kv_pool(KvCacheOptions opts) const {
  opts.n_ctx = std::max(1u, std::min(opts.n_ctx, config_.n_ctx_train));
  opts.n_seq = std::max(1u, opts.n_seq);
  std::vector<KvLayerSpec> layers = engine::gemma4_kv_layers(config_);
  for (size_t i = 0; i < layers.size(); ++i) {  // storing layer i is model layer i (§1.6)
    if (!kv_scales_.k.empty()) layers[i].k_scale = kv_scales_.k[i];
    if (!kv_scales_.v.empty()) layers[i].v_scale = kv_scales_.v[i];
  }
  return KvCachePool(std::move(layers), config_.n_swa, opts);
}

}  // namespace gemmad::runtime
