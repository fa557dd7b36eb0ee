// Scalar activation quantiser (act_q8.h), the natural-order block accessor, and ActQ8Buffer.
#include <cmath>
#include <cstring>

#include "common/fp16.h"
#include "kernels/act_q8.h"

namespace gemmad::kernels {

int64_t act_q8_index(int64_t nb, int64_t b, int i) {
  const int64_t quads = nb / kQuadBlocks;
  if (b >= quads * kQuadBlocks) return b * kQ8Block + i;
  const int64_t base = (b / kQuadBlocks) * kQuadBlocks * kQ8Block;
  const int64_t j = b % kQuadBlocks;
  return i < 16 ? base + j * 16 + i : base + 64 + j * 16 + (i - 16);
}

void act_q8_block_scales(float amax, float* stored, float* inv) {
  const float d = amax / 127.0f;
  *inv = d != 0.0f ? 1.0f / d : 0.0f;
  const float rounded = fp16_to_fp32(fp32_to_fp16(d));
  *stored = std::isinf(rounded) ? d : rounded;
}

void quantize_act_q8_ref(const float* x, int64_t n, int32_t offset, bool split,
                         const ActQ8Row& out) {
  const int64_t nb = n / kQ8Block;
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kQ8Block;
    float amax = 0.0f;
    for (int i = 0; i < kQ8Block; ++i)
      amax = std::fmax(amax, std::fabs(xb[i]));
    float inv = 0.0f;
    act_q8_block_scales(amax, &out.d[b], &inv);
    int8_t q[kQ8Block];
    int32_t sum = 0;
    for (int i = 0; i < kQ8Block; ++i) {
      // nearbyint rounds half to even in the default rounding mode, like cvtps2dq. The clamp
      // changes nothing for finite inputs (|x * inv| <= 127 + rounding) and keeps NaN defined.
      const float v = std::fmin(std::fmax(xb[i] * inv, -127.0f), 127.0f);
      q[i] = static_cast<int8_t>(std::nearbyint(v));
      out.qs[act_q8_index(nb, b, i)] = q[i];
      sum += q[i];
    }
    out.ds[b] = out.d[b] * static_cast<float>(sum);
    for (int l = 0; l < kLanesPerBlock; ++l) {
      const int32_t lo = q[4 * l] + q[4 * l + 1] + q[4 * l + 2] + q[4 * l + 3];
      const int32_t hi = q[16 + 4 * l] + q[16 + 4 * l + 1] + q[16 + 4 * l + 2] + q[16 + 4 * l + 3];
      out.dl[b * kLanesPerBlock + l] = out.d[b];
      out.bias[b * kLanesPerBlock + l] = -offset * (split ? lo : lo + hi);
      out.bias2[b * kLanesPerBlock + l] = split ? -offset * hi : 0;
    }
  }
}

void act_q8_block(const ActQ8& a, int64_t t, int64_t b, int8_t out[kQ8Block]) {
  const int64_t nb = a.n_in / kQ8Block;
  const int8_t* qs = a.qs + t * a.n_in;
  for (int i = 0; i < kQ8Block; ++i)
    out[i] = qs[act_q8_index(nb, b, i)];
}

void ActQ8Buffer::reserve(int64_t n_in, int64_t n_tok) {
  auto round_up = [](uint64_t v) { return (v + 63) & ~uint64_t{63}; };
  const int64_t nb = n_in / kQ8Block;
  const auto n_blocks = static_cast<uint64_t>(nb * n_tok);
  qs_off_ = 0;
  d_off_ = round_up(qs_off_ + static_cast<uint64_t>(n_in * n_tok));
  ds_off_ = round_up(d_off_ + n_blocks * sizeof(float));
  dl_off_ = round_up(ds_off_ + n_blocks * sizeof(float));
  bias_off_ = round_up(dl_off_ + n_blocks * kLanesPerBlock * sizeof(float));
  bias2_off_ = round_up(bias_off_ + n_blocks * kLanesPerBlock * sizeof(int32_t));
  const uint64_t total = round_up(bias2_off_ + n_blocks * kLanesPerBlock * sizeof(int32_t)) + 64;
  if (total > capacity_) {
    storage_.reset(new uint8_t[total]);
    capacity_ = total;
  }
  const auto addr = reinterpret_cast<uintptr_t>(storage_.get());
  base_ = storage_.get() + ((64 - (addr & 63)) & 63);
  n_in_ = n_in;
  nb_ = nb;
  n_tok_ = n_tok;
}

ActQ8 act_q8_tokens(const ActQ8& a, int64_t t0, int64_t n) {
  const int64_t nb = a.n_in / kQ8Block;
  ActQ8 v = a;
  v.qs += t0 * a.n_in;
  v.d += t0 * nb;
  v.ds += t0 * nb;
  v.dl += t0 * nb * kLanesPerBlock;
  v.bias += t0 * nb * kLanesPerBlock;
  v.bias2 += t0 * nb * kLanesPerBlock;
  v.n_tok = n;
  return v;
}

ActQ8 ActQ8Buffer::view() const {
  ActQ8 v;
  v.qs = ptr<const int8_t>(qs_off_);
  v.d = ptr<const float>(d_off_);
  v.ds = ptr<const float>(ds_off_);
  v.dl = ptr<const float>(dl_off_);
  v.bias = ptr<const int32_t>(bias_off_);
  v.bias2 = ptr<const int32_t>(bias2_off_);
  v.n_in = n_in_;
  v.n_tok = n_tok_;
  return v;
}

}  // namespace gemmad::kernels
