// Scalar reference of the scaled-code dot kernels (dot_gq.h): decode each code with
// quant::decode_codes and multiply in int32.
#include "kernels/dot_gq.h"

namespace gemmad::kernels {
namespace {

void dot_ref(quant::GgmlType type, const uint8_t* w, uint64_t row_bytes, int64_t n_rows,
             const float* scales, const ActI8& a, float* y, int64_t ldy) {
  const int bits = quant::traits(type).code_bits;
  gq_rows(w, row_bytes, n_rows, scales, a, y, ldy, [&](const uint8_t* row, int64_t t, int64_t g) {
    const int8_t* q = a.qs + t * a.n_in + g * a.group;
    if (bits == 8) {
      int32_t s = 0;
      for (int64_t i = 0; i < a.group; ++i)
        s += int32_t{static_cast<int8_t>(row[g * a.group + i])} * q[i];
      return s;
    }
    const int64_t gb = a.group * bits / 8;  // bytes per group
    const int32_t offset = 1 << (bits - 1);
    return gq_packed_sum_ref(bits, row + g * gb, q, a.group, 0, gb) -
           offset * a.sum[t * a.n_groups + g];
  });
}

}  // namespace

int32_t gq_packed_sum_ref(int bits, const uint8_t* gbytes, const int8_t* q, int64_t group,
                          int64_t j0, int64_t j1) {
  const int phases = 8 / bits;
  const int64_t plane = group / phases;
  const uint32_t mask = (1u << bits) - 1;
  int32_t s = 0;
  for (int64_t j = j0; j < j1; ++j) {
    for (int p = 0; p < phases; ++p) {
      const int32_t c = static_cast<int32_t>((gbytes[j] >> (bits * p)) & mask);
      s += c * q[p * plane + j];
    }
  }
  return s;
}

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
