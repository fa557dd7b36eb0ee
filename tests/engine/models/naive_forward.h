// Test oracle: a deliberately plain Gemma 4 forward pass (docs/GEMMA4.md §1.3-1.6) in double
// precision over a whole token sequence at once, with K/V recomputed for every position (no
// cache, no batching, no shortcut). It shares no code with the engine except the GGUF reader
// and the reference dequantiser, so the engine is checked against the spec, not itself.
#pragma once

#include <vector>

#include "gguf/gguf_file.h"
#include "models/gemma4_config.h"

namespace gemmad::engine::testing {

// Logits [tokens.size()][n_vocab] for tokens at positions 0..n-1 of one sequence.
std::vector<std::vector<double>> naive_logits(const gguf::GgufFile& f, const Gemma4Config& c,
                                              const std::vector<int>& tokens);

}  // namespace gemmad::engine::testing
