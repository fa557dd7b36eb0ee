// A 64-bit checksum for saved KV files (docs/KV_CACHE.md "Saved KV"): four independent
// multiply-rotate lanes over 8-byte words, so it runs at memory speed on one core. It detects
// corruption (torn writes, flipped bytes); it is not a defence against a forger, who would need
// write access to the daemon's own 0700 directory anyway.
#pragma once

#include <cstdint>
#include <span>

namespace gemmad::daemon {

uint64_t kv_checksum(std::span<const uint8_t> bytes, uint64_t seed = 0);

}  // namespace gemmad::daemon
