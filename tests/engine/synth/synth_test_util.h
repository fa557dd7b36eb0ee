// Test helpers for engine/synth: a scratch directory and whole-file reads.
#pragma once

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/common/temp_dir.h"

namespace gemmad::synth::testing {

using ScratchDir = gemmad::testing::TempDir;

inline std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace gemmad::synth::testing
