// SHA-256 against the FIPS 180-4 example vectors and lengths around the padding boundary
// (the million-'a' vector exercises many blocks).
#include "common/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace gemmad {
namespace {

std::string hex_of(const std::string& s) {
  return sha256_hex({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

TEST(Sha256, MatchesTheStandardsVectors) {
  EXPECT_EQ(hex_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex_of(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, DiffersAcrossThePaddingBoundary) {
  // 55, 56 and 64 bytes put the length in the same block, the next one, and a block alone.
  EXPECT_EQ(hex_of(std::string(55, 'x')).size(), 64u);
  EXPECT_NE(hex_of(std::string(55, 'x')), hex_of(std::string(56, 'x')));
  EXPECT_NE(hex_of(std::string(63, 'x')), hex_of(std::string(64, 'x')));
}

}  // namespace
}  // namespace gemmad
