// Image preprocessing for the vision encoder (docs/ENCODERS.md §2.2): the target size for a
// soft-token budget, and the antialiased bicubic resize Hugging Face's processor applies.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"

namespace gemmad::vision {

struct Image;

struct TargetSize {
  uint32_t width = 0, height = 0;  // multiples of 48 (patch 16 x pool 3)
  uint32_t n_tokens() const { return (width / 48) * (height / 48); }
};

// The aspect-preserving size that fills `token_budget` soft tokens (upscaling small images).
// Errors name the field: zero or oversized dimensions, a budget outside [70, 1120].
Result<TargetSize> target_size(uint32_t width, uint32_t height, uint32_t token_budget);

// Separable bicubic (Keys, a = -0.5) with the kernel widened by the downscale factor
// (antialias), weights normalised per output pixel, computed in f32 without intermediate
// rounding. Returns [out_h][out_w][3] values in [0, 1] (÷255; no mean/std normalisation). An
// image already at the target size is only rescaled.
std::vector<float> resize_to_unit(const Image& image, uint32_t out_w, uint32_t out_h);

}  // namespace gemmad::vision
