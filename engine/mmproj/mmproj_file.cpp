// mmproj GGUF validation and tensor byte ranges (docs/ENCODERS.md §5).
#include "mmproj/mmproj_file.h"

#include <unistd.h>

#include <algorithm>

#include "mmproj/tensor_check.h"

namespace gemmad::mmproj {
namespace {

bool starts_with_any(std::string_view name, std::span<const std::string_view> prefixes) {
  for (std::string_view p : prefixes) {
    if (name.substr(0, p.size()) == p) return true;
  }
  return false;
}

Status expect_string(const gguf::GgufFile& f, std::string_view key, std::string_view want) {
  GEMMAD_ASSIGN_OR_RETURN(std::string_view v, f.get_string(key));
  if (v != want) {
    return make_error(ErrorCode::kBadModelFile, "key '" + std::string(key) + "' is '" +
                                                    std::string(v) + "'; expected '" +
                                                    std::string(want) + "'");
  }
  return {};
}

// A boolean key that may be absent (false).
Result<bool> flag(const gguf::GgufFile& f, std::string_view key) {
  if (f.find(key) == nullptr) return false;
  return f.get_bool(key);
}

Status check_audio_header(const gguf::GgufFile& f) {
  GEMMAD_TRY(expect_string(f, "clip.audio.projector_type", "gemma4a"));
  GEMMAD_ASSIGN_OR_RETURN(uint64_t dim, f.get_uint("clip.audio.projection_dim"));
  if (dim == 0 || dim > 65536) {
    return make_error(ErrorCode::kBadModelFile, "key 'clip.audio.projection_dim' is " +
                                                    std::to_string(dim) + "; expected 1..65536");
  }
  if (f.find_tensor("mm.a.input_projection.weight") == nullptr) {
    return make_error(ErrorCode::kBadModelFile,
                      "tensor 'mm.a.input_projection.weight' is missing "
                      "(clip.has_audio_encoder is true)");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<MmprojFile>> MmprojFile::open(const std::string& path) {
  auto g = gguf::GgufFile::open(path);
  if (!g.ok()) return g.error();
  auto m = from_gguf(std::move(g).value());
  if (!m.ok()) {
    Error e = m.error();
    if (e.message.rfind(path, 0) != 0) e.message = path + ": " + e.message;
    return e;
  }
  return m;
}

Result<std::unique_ptr<MmprojFile>> MmprojFile::from_gguf(std::unique_ptr<gguf::GgufFile> file) {
  std::unique_ptr<MmprojFile> m(new MmprojFile());
  m->file_ = std::move(file);
  GEMMAD_TRY(m->validate());
  return m;
}

Status MmprojFile::validate() {
  const gguf::GgufFile& f = *file_;
  GEMMAD_TRY(expect_string(f, "general.type", "mmproj"));
  GEMMAD_TRY(expect_string(f, "general.architecture", "clip"));
  GEMMAD_ASSIGN_OR_RETURN(has_vision_, flag(f, "clip.has_vision_encoder"));
  GEMMAD_ASSIGN_OR_RETURN(has_audio_, flag(f, "clip.has_audio_encoder"));
  if (!has_vision_ && !has_audio_) {
    return make_error(ErrorCode::kBadModelFile,
                      "neither clip.has_vision_encoder nor clip.has_audio_encoder is true");
  }
  // Every tensor belongs to a tower or a projector, and has a type the encoders compute with.
  for (const gguf::TensorInfo& t : f.tensors()) {
    const std::string_view n = t.name;
    const bool vision = n.rfind("v.", 0) == 0 || n.rfind("mm.input_projection", 0) == 0;
    const bool audio = n.rfind("a.", 0) == 0 || n.rfind("mm.a.", 0) == 0;
    if (!vision && !audio) {
      return make_error(ErrorCode::kBadModelFile,
                        "tensor '" + t.name + "' is not an encoder tensor (v.*, a.*, mm.*)");
    }
    if ((vision && !has_vision_) || (audio && !has_audio_)) {
      return make_error(ErrorCode::kBadModelFile,
                        "tensor '" + t.name + "' belongs to an encoder the file says it lacks (" +
                            (vision ? "clip.has_vision_encoder" : "clip.has_audio_encoder") +
                            " is false)");
    }
    GEMMAD_TRY(check_tensor_type(t));
  }
  if (has_vision_) {
    GEMMAD_ASSIGN_OR_RETURN(vision_, read_vision_hparams(f));
    GEMMAD_TRY(check_vision_tensors(f, vision_));
  }
  if (has_audio_) GEMMAD_TRY(check_audio_header(f));
  return {};
}

std::vector<ByteRange> MmprojFile::tensor_ranges(std::span<const std::string_view> prefixes) const {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  std::vector<ByteRange> r;
  for (const gguf::TensorInfo& t : file_->tensors()) {
    if (!starts_with_any(t.name, prefixes) || t.n_bytes == 0) continue;
    const uint64_t begin = file_->data_offset() + t.offset;
    const uint64_t lo = begin / page * page;
    const uint64_t hi = (begin + t.n_bytes + page - 1) / page * page;
    r.push_back({lo, hi - lo});
  }
  std::sort(r.begin(), r.end(),
            [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
  std::vector<ByteRange> merged;
  for (const ByteRange& x : r) {
    if (!merged.empty() && x.offset <= merged.back().offset + merged.back().size) {
      const uint64_t end = std::max(merged.back().offset + merged.back().size, x.offset + x.size);
      merged.back().size = end - merged.back().offset;
    } else {
      merged.push_back(x);
    }
  }
  return merged;
}

}  // namespace gemmad::mmproj
