// Writes the seed corpus of the GGUF fuzzer (tests/fuzz/seeds/gguf/*.gguf): a few tiny valid
// files covering every value type, tensors of each computable type, a non-default alignment
// and a vocabulary-only file. Run: gguf_make_fuzz_seeds OUT_DIR. Output is deterministic.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/gguf_writer.h"
#include "quant/ggml_type.h"

namespace {

using gemmad::gguf::GgufWriter;
using gemmad::quant::GgmlType;

// Deterministic values in [-1, 1).
void fill_quantized(GgmlType type, uint64_t n, std::span<uint8_t> out) {
  std::vector<float> x(n);
  for (uint64_t i = 0; i < n; ++i)
    x[i] = static_cast<float>((i * 37) % 64) / 32.0f - 1.0f;
  gemmad::quant::quantize_row_ref(type, x.data(), out.data(), static_cast<int64_t>(n));
}

void add(GgufWriter& w, const std::string& name, GgmlType type, uint64_t n) {
  w.add_tensor(name, type, {n},
               [type, n](std::span<uint8_t> out) { fill_quantized(type, n, out); });
}

bool write(const GgufWriter& w, const std::string& path) {
  const gemmad::Status s = w.write(path);
  if (!s.ok()) std::fprintf(stderr, "%s\n", s.error().message.c_str());
  return s.ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  bool ok = true;
  {
    GgufWriter w;
    w.set_string("general.architecture", "gemma4");
    w.set_u32("gemma4.block_count", 2);
    w.set_i32("general.sampling.top_k", 64);
    w.set_u64("big", uint64_t{1} << 40);
    w.set_f32("gemma4.attention.layer_norm_rms_epsilon", 1e-6f);
    w.set_bool("tokenizer.ggml.add_bos_token", true);
    const int32_t ff[] = {64, 128};
    w.set_i32_array("gemma4.feed_forward_length", ff);
    const uint32_t u[] = {1, 2, 3};
    w.set_u32_array("u32s", u);
    const bool pattern[] = {true, false};
    w.set_bool_array("gemma4.attention.sliding_window_pattern", pattern);
    add(w, "output_norm.weight", GgmlType::kF32, 8);
    add(w, "blk.0.attn_q.weight", GgmlType::kQ4_0, 64);
    add(w, "blk.0.ffn_up.weight", GgmlType::kQ8_0, 32);
    add(w, "blk.0.proj.weight", GgmlType::kF16, 16);
    add(w, "blk.0.inp_gate.weight", GgmlType::kBF16, 16);
    add(w, "blk.0.ffn_down.weight", GgmlType::kQ2_0, 64);
    ok &= write(w, dir + "/tiny.gguf");
  }
  {
    GgufWriter w(64);
    w.set_string("general.architecture", "gemma4");
    add(w, "token_embd.weight", GgmlType::kQ6_K, 256);
    add(w, "per_layer_token_embd.weight", GgmlType::kQ4_K, 256);
    ok &= write(w, dir + "/kquants_align64.gguf");
  }
  {
    GgufWriter w;
    w.set_string("general.architecture", "gemma4");
    w.set_string("tokenizer.ggml.model", "gemma4");
    const std::string tokens[] = {"<pad>", "<eos>", "<bos>", "<unk>",
                                  "a",     "b",     "ab",    "\xe2\x96\x81"};
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    const float scores[] = {-1000, -1000, -1000, -1000, -1000, -1000, -1000, -1000};
    w.set_f32_array("tokenizer.ggml.scores", scores);
    const int32_t types[] = {3, 3, 3, 3, 1, 1, 1, 1};
    w.set_i32_array("tokenizer.ggml.token_type", types);
    const std::string merges[] = {"a b"};
    w.set_string_array("tokenizer.ggml.merges", merges);
    w.set_u32("tokenizer.ggml.bos_token_id", 2);
    ok &= write(w, dir + "/vocab_only.gguf");
  }
  return ok ? 0 : 1;
}
