// Counter-based random numbers for synthetic weights: element i of tensor `name` under `seed`
// is a pure function of (seed, name, i), so tensors can be filled in any order, in parallel,
// and the same seed always yields byte-identical files.
#pragma once

#include <cstdint>
#include <string_view>

namespace gemmad::synth {

// splitmix64's output function (a bijective 64-bit mixer).
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// FNV-1a of the name, then mixed with the seed: one 64-bit key per (seed, tensor name, salt).
inline uint64_t stream_key(uint64_t seed, std::string_view name, uint64_t salt = 0) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : name) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return mix64(mix64(seed ^ 0x6a09e667f3bcc909ULL) ^ h ^ mix64(salt + 0x3c6ef372fe94f82bULL));
}

// The counter-th 64-bit value of the stream `key` (splitmix64 state key + counter * gamma).
inline uint64_t stream_u64(uint64_t key, uint64_t counter) {
  return mix64(key + (counter + 1) * 0x9e3779b97f4a7c15ULL);
}

// Uniform in [-1, 1) from 32 random bits.
inline float bits_to_signed_unit(uint32_t bits) {
  return static_cast<float>(static_cast<int32_t>(bits)) * (1.0f / 2147483648.0f);
}

// Element i of a uniform [-1, 1) stream: two elements per 64-bit counter value.
inline float stream_unit(uint64_t key, uint64_t i) {
  const uint64_t r = stream_u64(key, i >> 1);
  return bits_to_signed_unit(static_cast<uint32_t>((i & 1) ? (r >> 32) : r));
}

}  // namespace gemmad::synth
