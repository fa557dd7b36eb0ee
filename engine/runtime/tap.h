// Taps: named intermediates of the forward pass, so a
// mismatch against the NumPy reference can be pinned to one op of one layer. A tap is a
// callback the forward pass calls after each named step; with none set, nothing is done.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace gemmad::runtime {

struct TapInfo {
  std::string_view name;        // e.g. "attn_norm", "q_rope", "ffn_geglu", "result_output"
  int layer = -1;               // -1 for steps outside the layer stack
  const float* data = nullptr;  // [n_rows][n_cols] row-major f32
  int64_t n_rows = 0;
  int64_t n_cols = 0;
  const int32_t* pos = nullptr;  // [n_rows] position of each row
  const int32_t* seq = nullptr;  // [n_rows] sequence slot of each row
};

using TapFn = std::function<void(const TapInfo&)>;

// A tap that appends every call to files in `dir` (created if needed):
//   DIR/<name>.<layer>.f32  raw f32 rows, appended call after call
//   DIR/index.tsv           one line per call: name, layer, n_rows, n_cols, positions
//                           (comma-separated), sequence slots (comma-separated)
// Layer -1 is written as "g" in file names. Set via the GEMMAD_TAP environment variable.
Result<TapFn> make_dir_tap(const std::string& dir);

}  // namespace gemmad::runtime
