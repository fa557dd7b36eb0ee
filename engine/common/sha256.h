// SHA-256 (FIPS 180-4) of a byte string, as lowercase hex: the content address of stored
// media and the identity of a media span in the KV cache's remembered tokens.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace gemmad {

std::array<uint8_t, 32> sha256(std::span<const uint8_t> data);
std::string sha256_hex(std::span<const uint8_t> data);

}  // namespace gemmad
