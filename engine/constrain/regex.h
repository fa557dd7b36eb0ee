// String `pattern` (docs/CONSTRAINED.md "pattern"): a plain regular expression (literals,
// classes, '.', * + ? {m} {m,} {m,n}, |, groups, ^ and $ at the ends of a top-level
// alternative) compiled into the grammar of a string value whose decoded text matches it
// (ECMA search semantics: unanchored sides accept any text). Anything else is an error naming
// it and its offset.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"
#include "constrain/value_rules.h"

namespace gemmad::constrain {

// Returns the rule of the whole string value (delimiters included).
Result<uint32_t> compile_pattern(ValueRules& v, std::string_view pattern);

}  // namespace gemmad::constrain
