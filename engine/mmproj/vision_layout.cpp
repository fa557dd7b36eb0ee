// Vision keys and tensor table of the mmproj GGUF (docs/ENCODERS.md §5).
#include "mmproj/vision_layout.h"

#include <string_view>

#include "gguf/gguf_file.h"
#include "mmproj/tensor_check.h"

namespace gemmad::mmproj {
namespace {

Result<uint32_t> key_in_range(const gguf::GgufFile& f, std::string_view key, uint64_t lo,
                              uint64_t hi) {
  GEMMAD_ASSIGN_OR_RETURN(uint64_t v, f.get_uint(key));
  if (v < lo || v > hi) {
    return make_error(ErrorCode::kBadModelFile, "key '" + std::string(key) + "' is " +
                                                    std::to_string(v) + "; expected " +
                                                    std::to_string(lo) + ".." + std::to_string(hi));
  }
  return static_cast<uint32_t>(v);
}

}  // namespace

Result<VisionHparams> read_vision_hparams(const gguf::GgufFile& f) {
  VisionHparams h;
  GEMMAD_ASSIGN_OR_RETURN(std::string_view proj, f.get_string("clip.vision.projector_type"));
  if (proj != "gemma4v") {
    return make_error(ErrorCode::kBadModelFile, "key 'clip.vision.projector_type' is '" +
                                                    std::string(proj) + "'; expected 'gemma4v'");
  }
  // Limits: generous above the real shape (768/3072/16/12), tight enough that no product
  // below overflows or asks for absurd scratch.
  GEMMAD_ASSIGN_OR_RETURN(h.n_embd, key_in_range(f, "clip.vision.embedding_length", 32, 8192));
  GEMMAD_ASSIGN_OR_RETURN(h.n_ff, key_in_range(f, "clip.vision.feed_forward_length", 32, 65536));
  GEMMAD_ASSIGN_OR_RETURN(h.n_layer, key_in_range(f, "clip.vision.block_count", 1, 128));
  GEMMAD_ASSIGN_OR_RETURN(h.n_head, key_in_range(f, "clip.vision.attention.head_count", 1, 256));
  GEMMAD_ASSIGN_OR_RETURN(h.patch, key_in_range(f, "clip.vision.patch_size", 16, 16));
  GEMMAD_ASSIGN_OR_RETURN(h.proj_dim, key_in_range(f, "clip.vision.projection_dim", 1, 65536));
  if (f.find("clip.vision.attention.layer_norm_epsilon") != nullptr) {
    GEMMAD_ASSIGN_OR_RETURN(h.eps, f.get_float("clip.vision.attention.layer_norm_epsilon"));
    if (!(h.eps > 0.0f && h.eps < 1e-2f)) {
      return make_error(ErrorCode::kBadModelFile,
                        "key 'clip.vision.attention.layer_norm_epsilon' is " +
                            std::to_string(h.eps) + "; expected a value in (0, 0.01)");
    }
  }
  // 2-D RoPE rotates each half of a head by NEOX pairs: the head width must split into four.
  if (h.n_embd % h.n_head != 0 || h.head_dim() % 4 != 0) {
    return make_error(ErrorCode::kBadModelFile,
                      "clip.vision.embedding_length " + std::to_string(h.n_embd) +
                          " / attention.head_count " + std::to_string(h.n_head) +
                          " must give a head width that is a multiple of 4");
  }
  const gguf::TensorInfo* pos = f.find_tensor("v.position_embd.weight");
  if (pos == nullptr) {
    return make_error(ErrorCode::kBadModelFile, "tensor 'v.position_embd.weight' is missing");
  }
  if (pos->ne[1] < 1 || pos->ne[1] > 65536) {
    return make_error(ErrorCode::kBadModelFile, "tensor 'v.position_embd.weight' has " +
                                                    std::to_string(pos->ne[1]) +
                                                    " positions; expected 1..65536");
  }
  h.n_pos = static_cast<uint32_t>(pos->ne[1]);
  return h;
}

std::vector<ExpectedTensor> vision_tensor_table(const VisionHparams& h) {
  const uint64_t e = h.n_embd, ff = h.n_ff, hd = h.head_dim(), p = h.patch;
  std::vector<ExpectedTensor> t;
  t.push_back({"v.patch_embd.weight", {p, p, 3, e}, false, false});
  t.push_back({"v.position_embd.weight", {e, h.n_pos, 2}, true, false});
  for (uint32_t il = 0; il < h.n_layer; ++il) {
    const std::string b = "v.blk." + std::to_string(il) + ".";
    t.push_back({b + "ln1.weight", {e}, true, false});
    t.push_back({b + "attn_q_norm.weight", {hd}, true, false});
    t.push_back({b + "attn_k_norm.weight", {hd}, true, false});
    t.push_back({b + "attn_post_norm.weight", {e}, true, false});
    t.push_back({b + "ln2.weight", {e}, true, false});
    t.push_back({b + "ffn_post_norm.weight", {e}, true, false});
    for (const char* lin : kVisionLinears) {
      const std::string_view l = lin;
      const uint64_t n_in = l == "ffn_down" ? ff : e;
      const uint64_t n_out = (l == "ffn_gate" || l == "ffn_up") ? ff : e;
      t.push_back({b + lin + ".weight", {n_in, n_out}, false, false});
      for (const char* bound : kClipBounds)
        t.push_back({b + lin + "." + bound, {1}, true, true});
    }
  }
  t.push_back({"mm.input_projection.weight", {e, h.proj_dim}, false, false});
  return t;
}

Status check_vision_tensors(const gguf::GgufFile& f, const VisionHparams& h) {
  for (const ExpectedTensor& want : vision_tensor_table(h)) {
    GEMMAD_TRY(check_tensor(f, want.name, want.ne, want.f32_only, want.optional));
  }
  return {};
}

}  // namespace gemmad::mmproj
