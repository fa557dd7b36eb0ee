// base64 decoding: RFC 4648 §10 vectors, optional padding, errors naming the offset.
#include "daemon/http/base64.h"

#include <gtest/gtest.h>

namespace gemmad::http {
namespace {

std::string decoded(std::string_view s) {
  auto r = base64_decode(s);
  return r.ok() ? std::string(r->begin(), r->end()) : "error: " + r.error().message;
}

TEST(Base64, DecodesTheRfcVectorsWithOrWithoutPadding) {
  EXPECT_EQ(decoded(""), "");
  EXPECT_EQ(decoded("Zg=="), "f");
  EXPECT_EQ(decoded("Zm8="), "fo");
  EXPECT_EQ(decoded("Zm9v"), "foo");
  EXPECT_EQ(decoded("Zm9vYg"), "foob");
  EXPECT_EQ(decoded("Zm9vYmE="), "fooba");
  EXPECT_EQ(decoded("Zm9vYmFy"), "foobar");
  EXPECT_EQ(decoded("/+8="), "\xff\xef");
}

TEST(Base64, RefusesCharactersOutsideTheAlphabetAndLoneCharacters) {
  EXPECT_EQ(decoded("Zm9v!A"), "error: base64: character 33 at offset 4 is not in the alphabet");
  EXPECT_NE(decoded("Zm9vY").find("not a whole number of bytes"), std::string::npos);
}

}  // namespace
}  // namespace gemmad::http
