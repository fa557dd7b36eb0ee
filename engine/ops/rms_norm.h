// RMSNorm as Gemma 4 uses it (docs/GEMMA4.md §1.2): y = x * (mean(x^2) + eps)^(-1/2) * w, in
// f32, with the stored weight multiplied directly (no 1 + w offset); w may be absent (the
// V-norm). Plain loops the compiler can vectorise; no CPU-specific code.
#pragma once

#include <cstdint>

namespace gemmad::ops {

// y[0..n) = rms(x) * w; w == nullptr means no weight. x and y may alias.
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

// The same for n_rows consecutive rows of n values each (e.g. the heads of a q row, or the
// tokens of a batch), all with the same weight [n]. x and y may alias.
void rms_norm_rows(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps);

// Sum of squares with 8 independent partial sums (a fixed, vectorisable order).
float sum_of_squares(const float* x, int64_t n);

// Dot product with the same fixed 8-lane order.
float dot(const float* a, const float* b, int64_t n);

}  // namespace gemmad::ops
