// Session ids: 128 random bits from the kernel (getrandom), written as 32 lowercase hex digits.
// Unguessable, so an id seen in a log or a screenshot does not help another app (which could
// not read the session anyway: every query is scoped by app).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace gemmad::store {

inline constexpr size_t kSessionIdChars = 32;

// A fresh id; kIo if the kernel's random source fails.
Result<std::string> new_session_id();

// True for exactly 32 characters from [0-9a-f].
bool is_valid_session_id(std::string_view id);

}  // namespace gemmad::store
