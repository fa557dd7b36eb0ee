// Standard base64 (RFC 4648 §4, '=' padding optional) to bytes, for the media of OpenAI
// content parts (data: URLs, input_audio.data). Errors name the offset of the bad character.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace gemmad::http {

Result<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace gemmad::http
