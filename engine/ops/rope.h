// Rotary position embedding with NEOX ("rotate half") pairing (docs/GEMMA4.md §1.4): element j
// of a head rotates with element j + n_rot/2. Sliding layers rotate the whole 256-dim head
// (theta 1e4); full layers use "proportional" RoPE: frequencies over the full 512 dims, but
// only the first 64 pairs rotate (rope_freqs divisors of 1e30 mark the others, HF sets their
// inverse frequency to 0). Applied after q-norm / k-norm.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace gemmad::ops {

// Per-pair inverse frequencies of one layer type, computed once.
class RopeTable {
 public:
  RopeTable() = default;
  // n_rot: rotated dims (pairs = n_rot / 2); base: theta; freq_factors: optional per-pair
  // divisors (empty or n_rot/2 values). A divisor >= kSkipFactor makes the pair an identity,
  // exactly as HF's zero inverse frequency does.
  RopeTable(int n_rot, float base, std::span<const float> freq_factors);

  static constexpr float kSkipFactor = 1e20f;

  int n_rot() const { return n_rot_; }
  // Pairs [0, n_pairs_active) may rotate; later pairs are identities and are skipped.
  int n_pairs_active() const { return n_active_; }

  // cos/sin of the n_pairs_active() angles at `pos` (angle = pos * inv_freq, in f32 like HF).
  void angles(int32_t pos, float* cos_out, float* sin_out) const;

 private:
  int n_rot_ = 0;
  int n_active_ = 0;
  std::vector<float> inv_freq_;  // [n_active_]; 0 for identity pairs inside the active range
};

// Rotates n_heads heads of head_dim values in place: for j < n_active, the pair
// (x[j], x[j + n_rot/2]) of each head by the angle whose cos/sin are given.
void rope_neox(float* x, int n_heads, int head_dim, int n_rot, int n_active, const float* cos_a,
               const float* sin_a);

}  // namespace gemmad::ops
