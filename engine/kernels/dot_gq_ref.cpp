// Scalar reference of the scaled-code dot kernels (dot_gq.h): decode each code with
// quant::decode_codes and multiply in int32.
#include "kernels/dot_gq.h"
#include "quant/scaled_codes.h"

namespace gemmad::kernels {
namespace {

void dot_ref(quant::GgmlType type, const uint8_t* w, uint64_t row_bytes, int64_t n_rows,
             const float* scales, const ActI8& a, float* y, int64_t ldy) {
  const int per_byte = 8 / quant::traits(type).code_bits;
  gq_rows(w, row_bytes, n_rows, scales, a, y, ldy, [&](const uint8_t* row, int64_t t, int64_t g) {
    int8_t k[64];
    const int8_t* q = a.qs + t * a.n_in + g * a.group;
    int32_t s = 0;
    for (int64_t i0 = 0; i0 < a.group; i0 += 64) {
      const int64_t n = a.group - i0 < 64 ? a.group - i0 : 64;
      quant::decode_codes(type, row + (g * a.group + i0) / per_byte, k, n);
      for (int64_t i = 0; i < n; ++i)
        s += int32_t{k[i]} * q[i0 + i];
    }
    return s;
  });
}

}  // namespace

float gq_combine(const float* sr, const float* dt, const int32_t* isum, int64_t n_groups) {
  float acc = 0.0f;
  for (int64_t g = 0; g < n_groups; ++g)
    acc += (sr[g] * dt[g]) * static_cast<float>(isum[g]);
  return acc;
}

void dot_gq2_ref(const uint8_t* w, uint64_t rb, int64_t n, const float* s, const ActI8& a, float* y,
                 int64_t ldy) {
  dot_ref(quant::GgmlType::kGQ2, w, rb, n, s, a, y, ldy);
}
void dot_gq4_ref(const uint8_t* w, uint64_t rb, int64_t n, const float* s, const ActI8& a, float* y,
                 int64_t ldy) {
  dot_ref(quant::GgmlType::kGQ4, w, rb, n, s, a, y, ldy);
}
void dot_gq8_ref(const uint8_t* w, uint64_t rb, int64_t n, const float* s, const ActI8& a, float* y,
                 int64_t ldy) {
  dot_ref(quant::GgmlType::kGQ8, w, rb, n, s, a, y, ldy);
}

}  // namespace gemmad::kernels
