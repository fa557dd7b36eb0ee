// The Gemma 4 vision encoder (docs/ENCODERS.md §2): image → resized patches → patch and 2-D
// position embedding → a ViT with 2-D RoPE and clipped linears → 3×3 pooling → ×sqrt(width) →
// weightless RMSNorm → projection into the text width. One d-vector per soft token, inserted
// unscaled between <|image> and <image|> (docs/GEMMA4.md §1.9).
//
// bind() checks the tower against the text model and builds views; it reads no tensor data
// (clip bounds are read at encode time), so weights are first touched by the first encode().
// Thread safety: immutable after bind; encode() may run concurrently on different pools.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/result.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "mmproj/mmproj_file.h"
#include "models/gemma4_config.h"

namespace gemmad::vision {

struct Image {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // RGB8 row-major, width * height * 3 bytes
};

inline constexpr uint32_t kDefaultTokenBudget = 280, kMinTokenBudget = 70, kMaxTokenBudget = 1120;

class VisionEncoder {
 public:
  static Result<std::unique_ptr<VisionEncoder>> bind(const mmproj::MmprojFile& file,
                                                     const engine::Gemma4Config& text);
  // Errors (kInvalidArgument) name the field: image size, rgb length, budget, a patch grid
  // wider than the position table.
  Result<mmproj::Embeddings> encode(const Image& image, uint32_t token_budget,
                                    kernels::ThreadPool& pool) const;  // dim == text d
  std::vector<mmproj::ByteRange> byte_ranges() const;                  // its weights in the file
  uint64_t weight_bytes() const;

  const mmproj::VisionHparams& hparams() const { return h_; }

  struct Linear {
    kernels::WeightView w;
    // Clip-bound tensors (F32 {1}, read at encode time); nullptr = unbounded.
    const float* in_min = nullptr;
    const float* in_max = nullptr;
    const float* out_min = nullptr;
    const float* out_max = nullptr;
  };
  struct Block {
    const float* ln1 = nullptr;
    const float* q_norm = nullptr;
    const float* k_norm = nullptr;
    const float* attn_post_norm = nullptr;
    const float* ln2 = nullptr;
    const float* ffn_post_norm = nullptr;
    Linear q, k, v, out, gate, up, down;
  };

 private:
  VisionEncoder() = default;
  const mmproj::MmprojFile* file_ = nullptr;
  mmproj::VisionHparams h_;
  kernels::WeightView patch_;
  const float* pos_ = nullptr;  // [2][n_pos][n_embd]
  std::vector<Block> blocks_;
  kernels::WeightView proj_;
};

}  // namespace gemmad::vision
