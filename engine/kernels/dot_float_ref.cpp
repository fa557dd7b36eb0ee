// Scalar reference F32 / F16 / BF16 x f32 dots: convert each weight exactly to f32
// (common/fp16.h), accumulate sequentially in f32.
#include <cstring>

#include "common/fp16.h"
#include "kernels/dot_float.h"

namespace gemmad::kernels {
namespace {

template <typename Load>
void dot_rows(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x, int64_t n_in,
              int64_t n_tok, float* y, int64_t ldy, Load load) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + r * row_bytes;
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* xt = x + t * n_in;
      float sum = 0.0f;
      for (int64_t i = 0; i < n_in; ++i)
        sum += load(row, i) * xt[i];
      y[t * ldy + r] = sum;
    }
  }
}

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

void dot_f32_ref(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x, int64_t n_in,
                 int64_t n_tok, float* y, int64_t ldy) {
  dot_rows(w, row_bytes, n_rows, x, n_in, n_tok, y, ldy, [](const uint8_t* row, int64_t i) {
    float v;
    std::memcpy(&v, row + 4 * i, sizeof v);
    return v;
  });
}

void dot_f16_ref(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x, int64_t n_in,
                 int64_t n_tok, float* y, int64_t ldy) {
  dot_rows(w, row_bytes, n_rows, x, n_in, n_tok, y, ldy,
           [](const uint8_t* row, int64_t i) { return fp16_to_fp32(load_u16(row + 2 * i)); });
}

void dot_bf16_ref(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x,
                  int64_t n_in, int64_t n_tok, float* y, int64_t ldy) {
  dot_rows(w, row_bytes, n_rows, x, n_in, n_tok, y, ldy,
           [](const uint8_t* row, int64_t i) { return bf16_to_fp32(load_u16(row + 2 * i)); });
}

}  // namespace gemmad::kernels
