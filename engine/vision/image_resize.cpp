// Target size and antialiased bicubic resize (docs/ENCODERS.md §2.2).
#include "vision/image_resize.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "vision/vision_encoder.h"

namespace gemmad::vision {
namespace {

constexpr uint32_t kAlign = 48;          // patch 16 x pool 3
constexpr uint32_t kMaxSide = 1u << 16;  // far above any decoder's pixel limit

// Keys' cubic convolution kernel with a = -0.5 (the "bicubic" of PIL and of torch's antialias
// path); support 2.
double cubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// Per output index: the first input index and the normalised weights of the inputs it reads.
struct Taps {
  std::vector<uint32_t> first;
  std::vector<uint32_t> count;
  std::vector<float> weights;  // [out][max_taps]
  uint32_t max_taps = 0;
};

Taps make_taps(uint32_t in, uint32_t out) {
  const double scale = static_cast<double>(in) / out;
  const double fscale = std::max(scale, 1.0);
  const double support = 2.0 * fscale;
  Taps t;
  t.max_taps = static_cast<uint32_t>(std::ceil(support)) * 2 + 1;
  t.first.resize(out);
  t.count.resize(out);
  t.weights.assign(size_t{out} * t.max_taps, 0.0f);
  std::vector<double> w(t.max_taps);
  for (uint32_t i = 0; i < out; ++i) {
    const double center = (i + 0.5) * scale;
    const int64_t lo =
        std::max<int64_t>(0, static_cast<int64_t>(std::floor(center - support + 0.5)));
    const int64_t hi =
        std::min<int64_t>(in, static_cast<int64_t>(std::floor(center + support + 0.5)));
    const uint32_t n = static_cast<uint32_t>(std::min<int64_t>(hi - lo, t.max_taps));
    double sum = 0.0;
    for (uint32_t j = 0; j < n; ++j) {
      w[j] = cubic((static_cast<double>(lo + j) - center + 0.5) / fscale);
      sum += w[j];
    }
    t.first[i] = static_cast<uint32_t>(lo);
    t.count[i] = n;
    for (uint32_t j = 0; j < n; ++j)
      t.weights[size_t{i} * t.max_taps + j] = static_cast<float>(sum != 0.0 ? w[j] / sum : 0.0);
  }
  return t;
}

}  // namespace

Result<TargetSize> target_size(uint32_t width, uint32_t height, uint32_t token_budget) {
  if (token_budget < kMinTokenBudget || token_budget > kMaxTokenBudget) {
    return make_error(ErrorCode::kInvalidArgument,
                      "image token budget " + std::to_string(token_budget) + " is outside [" +
                          std::to_string(kMinTokenBudget) + ", " + std::to_string(kMaxTokenBudget) +
                          "]");
  }
  if (width == 0 || height == 0 || width > kMaxSide || height > kMaxSide) {
    return make_error(ErrorCode::kInvalidArgument, "image size " + std::to_string(width) + "x" +
                                                       std::to_string(height) + " must be 1.." +
                                                       std::to_string(kMaxSide) + " pixels a side");
  }
  // §2.2: f = sqrt(9T * 256 / (H W)); each side floored to a multiple of 48.
  const double max_patches = 9.0 * token_budget;
  const double f = std::sqrt(max_patches * 256.0 / (static_cast<double>(height) * width));
  uint64_t h = static_cast<uint64_t>(std::floor(f * height / kAlign)) * kAlign;
  uint64_t w = static_cast<uint64_t>(std::floor(f * width / kAlign)) * kAlign;
  if (h == 0 && w == 0) {
    return make_error(ErrorCode::kInvalidArgument, "image size " + std::to_string(width) + "x" +
                                                       std::to_string(height) +
                                                       " resizes to nothing");
  }
  // A very thin image: the short side becomes one pooled cell, the long side as many as the
  // aspect ratio gives, at most the budget.
  const uint64_t cap = uint64_t{token_budget} * kAlign;
  if (h == 0) {
    h = kAlign;
    w = std::min<uint64_t>(uint64_t{width / height} * kAlign, cap);
  } else if (w == 0) {
    w = kAlign;
    h = std::min<uint64_t>(uint64_t{height / width} * kAlign, cap);
  }
  return TargetSize{static_cast<uint32_t>(w), static_cast<uint32_t>(h)};
}

std::vector<float> resize_to_unit(const Image& image, uint32_t out_w, uint32_t out_h) {
  const uint32_t in_w = image.width, in_h = image.height;
  std::vector<float> out(size_t{out_w} * out_h * 3);
  constexpr float kInv255 = 1.0f / 255.0f;
  if (in_w == out_w && in_h == out_h) {
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = image.rgb[i] * kInv255;
    return out;
  }
  // Horizontal pass into [in_h][out_w][3], then vertical into [out_h][out_w][3].
  const Taps tx = make_taps(in_w, out_w), ty = make_taps(in_h, out_h);
  std::vector<float> mid(size_t{in_h} * out_w * 3);
  for (uint32_t y = 0; y < in_h; ++y) {
    const uint8_t* src = image.rgb.data() + size_t{y} * in_w * 3;
    float* dst = mid.data() + size_t{y} * out_w * 3;
    for (uint32_t x = 0; x < out_w; ++x) {
      const float* w = tx.weights.data() + size_t{x} * tx.max_taps;
      float acc[3] = {0.0f, 0.0f, 0.0f};
      for (uint32_t j = 0; j < tx.count[x]; ++j) {
        const uint8_t* p = src + size_t{tx.first[x] + j} * 3;
        for (int c = 0; c < 3; ++c)
          acc[c] += w[j] * p[c];
      }
      for (int c = 0; c < 3; ++c)  // PIL clamps to the 8-bit range after each pass
        dst[size_t{x} * 3 + c] = std::clamp(acc[c], 0.0f, 255.0f);
    }
  }
  for (uint32_t y = 0; y < out_h; ++y) {
    const float* w = ty.weights.data() + size_t{y} * ty.max_taps;
    float* dst = out.data() + size_t{y} * out_w * 3;
    for (uint32_t j = 0; j < ty.count[y]; ++j) {
      const float* src = mid.data() + size_t{ty.first[y] + j} * out_w * 3;
      for (size_t i = 0; i < size_t{out_w} * 3; ++i)
        dst[i] += w[j] * src[i];
    }
    // Clamp again (the cubic lobes overshoot), but never round to 8 bits (PIL does).
    for (size_t i = 0; i < size_t{out_w} * 3; ++i)
      dst[i] = std::clamp(dst[i], 0.0f, 255.0f) * kInv255;
  }
  return out;
}

}  // namespace gemmad::vision
