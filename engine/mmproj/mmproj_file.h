// The separate encoder GGUF ("mmproj", docs/ENCODERS.md §5): header, keys and tensor table
// validated at open, tensor data never read there. Encoders (vision/, audio/) bind to it; the
// daemon asks it for the byte ranges of one modality's tensors to drop their pages when idle.
// Thread safety: immutable after open; const methods may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "gguf/gguf_file.h"
#include "mmproj/vision_layout.h"

namespace gemmad::mmproj {

struct ByteRange {
  uint64_t offset = 0, size = 0;  // file offsets, page-aligned outward
};
struct Embeddings {
  uint32_t n_tokens = 0, dim = 0;
  std::vector<float> data;  // [n_tokens][dim]
};

class MmprojFile {
 public:
  // Errors are kBadModelFile, prefixed with the path, naming the key or tensor.
  static Result<std::unique_ptr<MmprojFile>> open(const std::string& path);
  // The same over an already parsed file (tests, fuzzing).
  static Result<std::unique_ptr<MmprojFile>> from_gguf(std::unique_ptr<gguf::GgufFile> file);

  const gguf::GgufFile& gguf() const { return *file_; }
  bool has_vision() const { return has_vision_; }
  bool has_audio() const { return has_audio_; }
  // Valid when has_vision().
  const VisionHparams& vision_hparams() const { return vision_; }
  // Byte ranges (sorted, merged, page-aligned outward) of the tensors whose names start with
  // any of `prefixes` ("v.", "mm.input_projection" ...).
  std::vector<ByteRange> tensor_ranges(std::span<const std::string_view> prefixes) const;

 private:
  MmprojFile() = default;
  Status validate();

  std::unique_ptr<gguf::GgufFile> file_;
  bool has_vision_ = false;
  bool has_audio_ = false;
  VisionHparams vision_;
};

}  // namespace gemmad::mmproj
