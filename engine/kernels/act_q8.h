// Activations quantised to Q8_0 blocks for the integer dot kernels (Q4_0, Q8_0, Q2_0, Q4_K,
// Q6_K weights), laid out so SIMD kernels need no shuffles on the activation side.
//
// Quantisation of one block of 32 floats (ggml quantize_row_q8_0 semantics):
//   amax = max |x|; d = amax / 127; q = round_half_even(x * (1/d)) (q = 0 when d = 0);
//   the stored scale is d rounded to fp16 and back (as ggml stores it), unless that rounding
//   overflows fp16 (|x| > ~8.3e6), where the f32 d is kept.
// Round-half-even is what the SIMD conversion instructions do, so every kernel set produces
// bit-identical codes and scales (tested). Non-finite inputs give unspecified codes.
//
// Layout of one token (n_in = 32 * nb values):
//   qs    int8 [n_in]   blocks in groups of 4 ("quads", 128 values): a quad holds the first
//                       halves (elements 0..15) of its 4 blocks, then their second halves
//                       (16..31): 64 + 64 bytes. The nb % 4 tail blocks follow in natural
//                       order. This is the order in which a Q4_0 block's low / high nibbles
//                       and a 512-bit register of 4 blocks line up.
//   d     f32 [nb]      block scales
//   ds    f32 [nb]      d * sum(q) of the block (the "min" term of Q4_K)
//   dl    f32 [4 nb]    block scale repeated for each of the block's 4 lanes
//   bias  int32 [4 nb]  lane l of block b: -offset * (sum of q[4l..4l+3] and q[16+4l..16+4l+3])
//   bias2 int32 [4 nb]  when split: bias holds the q[4l..4l+3] part and bias2 the
//                       q[16+4l..16+4l+3] part (Q6_K, whose 16-value groups have own scales)
// A "lane" is 4 consecutive codes of a half: the unit of a 32-bit lane of vpdpbusd/maddubs.
// `offset` is the zero point of the unsigned weight codes a kernel feeds to the unsigned x
// signed byte dot: code c stands for c - offset, so sum((c - offset) * q) = sum(c * q) +
// the bias lanes. Integer block sums are thus exact in every kernel set.
#pragma once

#include <cstdint>
#include <memory>

namespace gemmad::kernels {

inline constexpr int kQ8Block = 32;
inline constexpr int kQuadBlocks = 4;  // blocks per interleaved group
inline constexpr int kLanesPerBlock = 4;

// Read-only view of n_tok quantised rows of n_in (a multiple of 32) values. Token t's arrays
// start at t * (per-token length). Kernels in SIMD files read the fields directly.
struct ActQ8 {
  const int8_t* qs = nullptr;
  const float* d = nullptr;
  const float* ds = nullptr;
  const float* dl = nullptr;
  const int32_t* bias = nullptr;
  const int32_t* bias2 = nullptr;
  int64_t n_in = 0;
  int64_t n_tok = 0;
};

// Tokens [t0, t0 + n) of a as a view of their own (token 0 of the result is token t0 of a).
ActQ8 act_q8_tokens(const ActQ8& a, int64_t t0, int64_t n);

// Block b of token t's codes in natural element order (for scalar code and tails).
void act_q8_block(const ActQ8& a, int64_t t, int64_t b, int8_t out[kQ8Block]);

// Storage for ActQ8, reused across calls (grows, never shrinks). Pointers are per token.
class ActQ8Buffer {
 public:
  void reserve(int64_t n_in, int64_t n_tok);
  int8_t* qs(int64_t t) { return ptr<int8_t>(qs_off_) + t * n_in_; }
  float* d(int64_t t) { return ptr<float>(d_off_) + t * nb_; }
  float* ds(int64_t t) { return ptr<float>(ds_off_) + t * nb_; }
  float* dl(int64_t t) { return ptr<float>(dl_off_) + t * nb_ * kLanesPerBlock; }
  int32_t* bias(int64_t t) { return ptr<int32_t>(bias_off_) + t * nb_ * kLanesPerBlock; }
  int32_t* bias2(int64_t t) { return ptr<int32_t>(bias2_off_) + t * nb_ * kLanesPerBlock; }
  ActQ8 view() const;

 private:
  template <typename T>
  T* ptr(uint64_t off) const {
    return reinterpret_cast<T*>(base_ + off);
  }
  std::unique_ptr<uint8_t[]> storage_;
  uint64_t capacity_ = 0;
  uint8_t* base_ = nullptr;
  uint64_t qs_off_ = 0, d_off_ = 0, ds_off_ = 0, dl_off_ = 0, bias_off_ = 0, bias2_off_ = 0;
  int64_t n_in_ = 0;
  int64_t nb_ = 0;
  int64_t n_tok_ = 0;
};

// Output of quantising one token.
struct ActQ8Row {
  int8_t* qs;
  float* d;
  float* ds;
  float* dl;
  int32_t* bias;
  int32_t* bias2;
};

// Quantises x[0..n) (n a multiple of 32) into `out` as described above. One per kernel set;
// all produce identical output.
using QuantizeActFn = void (*)(const float* x, int64_t n, int32_t offset, bool split,
                               const ActQ8Row& out);
void quantize_act_q8_ref(const float* x, int64_t n, int32_t offset, bool split,
                         const ActQ8Row& out);
void quantize_act_q8_avx2(const float* x, int64_t n, int32_t offset, bool split,
                          const ActQ8Row& out);
void quantize_act_q8_avx512(const float* x, int64_t n, int32_t offset, bool split,
                            const ActQ8Row& out);
void quantize_act_q8_neon(const float* x, int64_t n, int32_t offset, bool split,
                          const ActQ8Row& out);

// Scales of a block whose largest magnitude is amax: *stored = the d kept in the layout above,
// *inv = the multiplier applied before rounding (1 / (amax / 127), 0 for an all-zero block).
void act_q8_block_scales(float amax, float* stored, float* inv);

// Where element i (0..31) of block b sits in a token's qs array, for nb blocks per token.
int64_t act_q8_index(int64_t nb, int64_t b, int i);

}  // namespace gemmad::kernels
