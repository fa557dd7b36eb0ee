// The saved-KV checksum; see kv_checksum.h.
#include "daemon/kv_checksum.h"

#include <cstring>

namespace gemmad::daemon {
namespace {

constexpr uint64_t kP1 = 0x9e3779b185ebca87ULL;
constexpr uint64_t kP2 = 0xc2b2ae3d27d4eb4fULL;
constexpr uint64_t kP3 = 0x165667b19e3779f9ULL;

inline uint64_t rotl(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}
inline uint64_t lane(uint64_t h, uint64_t w) {
  return rotl(h + w * kP2, 31) * kP1;
}
inline uint64_t load64(const uint8_t* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
inline uint64_t avalanche(uint64_t h) {
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  return h ^ (h >> 32);
}

}  // namespace

uint64_t kv_checksum(std::span<const uint8_t> bytes, uint64_t seed) {
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  uint64_t a = seed + kP1 + kP2, b = seed + kP2, c = seed, d = seed - kP1;
  while (n >= 32) {
    a = lane(a, load64(p));
    b = lane(b, load64(p + 8));
    c = lane(c, load64(p + 16));
    d = lane(d, load64(p + 24));
    p += 32;
    n -= 32;
  }
  uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18);
  h += static_cast<uint64_t>(bytes.size()) * kP3;
  while (n >= 8) {
    h = lane(h, load64(p));
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    h = rotl(h ^ (*p * kP3), 11) * kP1;
    ++p;
    --n;
  }
  return avalanche(h);
}

}  // namespace gemmad::daemon
