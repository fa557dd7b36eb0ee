// Test helper: writes small Gemma-4-shaped GGUF files through the real writer, with weights
// that are a pure function of (seed, tensor name, index), and with knobs for hostile or
// unusual files (a missing tensor, a wrong shape, extra shared-layer K/V, `.scale`
// companions, foreign `v.*` tensors). Used by the loader and forward-pass tests.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "models/gemma4_config.h"
#include "quant/ggml_type.h"

namespace gemmad::engine::testing {

struct TinyModelSpec {
  Gemma4Config config = *Gemma4Config::preset("tiny");
  uint64_t seed = 1;
  quant::GgmlType matrix_type = quant::GgmlType::kF32;  // layer matrices
  quant::GgmlType embd_type = quant::GgmlType::kF32;    // token_embd, per_layer_token_embd
  bool shared_kv_tensors = false;       // also write attn_k/attn_v/attn_k_norm on shared layers
  std::string omit;                     // leave this tensor out
  std::string wrong_shape;              // write this tensor with its first dimension doubled
  std::map<std::string, float> scales;  // extra one-element tensors, e.g. "blk.0.attn_q.scale"
  std::vector<std::string> foreign;     // extra unknown f32 {32} tensors, e.g. "v.patch_embd"
  std::map<std::string, std::vector<float>> f32_arrays;  // extra metadata, e.g. KV scales
};

// Element i of tensor `name` as written before quantisation.
float tiny_value(const TinyModelSpec& spec, const std::string& name, uint64_t i);

// Every tensor of the spec: name and shape in ggml order.
struct TinyTensor {
  std::string name;
  std::vector<uint64_t> ne;
  bool is_matrix = false;
};
std::vector<TinyTensor> tiny_tensors(const TinyModelSpec& spec);

Status write_tiny_model(const TinyModelSpec& spec, const std::string& path);

}  // namespace gemmad::engine::testing
