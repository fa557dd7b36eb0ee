// `gemmactl model import`: a Hugging Face Gemma 4 checkpoint (Google's mobile quantization in
// either layout, or unquantized bf16/f16/f32) -> a GGUF the engine runs (docs/FORMATS.md).
//
// Streaming: tensors are converted row chunk by row chunk straight from the mmap'd
// safetensors into the output (GgufWriter row fills), and each source tensor's pages are
// released once written, so peak memory is one chunk plus the page cache the kernel keeps;
// a 1 GB board can import the ~2.5 GB E2B checkpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "import/quant_config.h"

namespace gemmad::import {

// f32 keeps every value exactly (dequantized twins in tests); f16 is the default.
enum class FloatTarget { kF16, kF32, kQ4_0 };

struct ImportOptions {
  std::string dir;         // checkpoint directory (config.json, safetensors)
  std::string output;      // GGUF path
  std::string vocab_path;  // vocabulary GGUF to copy tokenizer.* from; empty: DIR/tokenizer.json
  FloatTarget float_target = FloatTarget::kF16;  // type of unquantized matrices
};

struct ImportSummary {
  Layout layout = Layout::kUnquantized;
  uint64_t n_shards = 0;
  uint64_t n_tensors = 0;  // written
  uint64_t file_bytes = 0;
  uint64_t n_quantized[3] = {};  // matrices imported as gq2, gq4, gq8
  uint64_t n_float = 0;          // matrices imported as F16/Q4_0/Q6_K/F32
  uint64_t n_input_scales = 0;   // static scales written
  uint64_t n_output_scales = 0;
  uint64_t n_zero_scales = 0;  // static scales of exactly 0: uncalibrated, skipped
  uint64_t n_kv_scales = 0;    // layers with a k or v cache scale
  uint64_t n_ignored = 0;      // checkpoint tensors not imported (encoders, shared K/V, ...)
  std::vector<std::string> warnings;
};

// `log` receives progress lines (for stderr).
Result<ImportSummary> import_checkpoint(const ImportOptions& opts,
                                        const std::function<void(const std::string&)>& log);

}  // namespace gemmad::import
