// The GGUF tests' temporary directory: the shared one (tests/common/temp_dir.h).
#pragma once

#include "tests/common/temp_dir.h"

namespace gemmad::gguf::testing {
using gemmad::testing::TempDir;
}  // namespace gemmad::gguf::testing
