// Encoders bound on first use and released when idle; see media_encoders.h.
#include "daemon/media_encoders.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "runtime/page_advice.h"

namespace gemmad::daemon {
namespace {

using Clock = std::chrono::steady_clock;

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The whole pages strictly inside each range's tensors: `outward` ranges shrunk to the pages
// no tensor of another modality can share (the first and last page of a merged range may
// hold a neighbour's bytes).
std::vector<mmproj::ByteRange> inward(std::span<const mmproj::ByteRange> outward,
                                      std::span<const mmproj::ByteRange> other) {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  std::vector<mmproj::ByteRange> r;
  for (const mmproj::ByteRange& x : outward) {
    uint64_t lo = x.offset, hi = x.offset + x.size;
    for (const mmproj::ByteRange& o : other) {
      const uint64_t olo = o.offset, ohi = o.offset + o.size;
      if (olo < hi && lo < ohi) {  // shares a boundary page: leave that page out
        if (olo <= lo) lo = std::min(hi, ohi);
        if (ohi >= hi) hi = std::max(lo, olo);
      }
    }
    if (hi > lo + page) r.push_back({lo, hi - lo});
  }
  return r;
}

}  // namespace

const char* modality_name(Modality m) {
  return m == Modality::kVision ? "vision" : "audio";
}

uint64_t present_bytes(const uint8_t* base, std::span<const mmproj::ByteRange> ranges) {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  uint64_t bytes = 0;
  std::vector<uint64_t> entries;
  for (const mmproj::ByteRange& r : ranges) {
    const auto first = reinterpret_cast<uintptr_t>(base + r.offset) / page;
    const uint64_t n = (r.size + page - 1) / page;
    entries.resize(n);
    const ssize_t got = ::pread(fd, entries.data(), n * sizeof(uint64_t),
                                static_cast<off_t>(first * sizeof(uint64_t)));
    if (got < 0) continue;
    const size_t read = static_cast<size_t>(got) / sizeof(uint64_t);
    for (size_t i = 0; i < read; ++i) {
      if (entries[i] >> 63 & 1) bytes += page;  // bit 63: page present
    }
  }
  ::close(fd);
  return bytes;
}

Result<std::unique_ptr<MediaEncoders>> MediaEncoders::open(const std::string& path,
                                                           const engine::Gemma4Config& text) {
  GEMMAD_ASSIGN_OR_RETURN(std::unique_ptr<mmproj::MmprojFile> file, mmproj::MmprojFile::open(path));
  auto width_error = [&](const char* key, uint64_t dim) {
    return make_error(ErrorCode::kBadModelFile,
                      path + ": " + key + " is " + std::to_string(dim) +
                          " but the text model's width is " + std::to_string(text.n_embd) +
                          " (an mmproj belongs to the text model it was converted with)");
  };
  if (file->has_vision() && file->vision_hparams().proj_dim != text.n_embd) {
    return width_error("clip.vision.projection_dim", file->vision_hparams().proj_dim);
  }
  if (file->has_audio()) {
    auto dim = file->gguf().get_uint("clip.audio.projection_dim");
    if (!dim.ok()) return std::move(dim).error().with_context(path);
    if (*dim != text.n_embd) return width_error("clip.audio.projection_dim", *dim);
  }
  std::unique_ptr<MediaEncoders> e(new MediaEncoders());
  e->path_ = path;
  e->text_ = text;
  const std::string_view vision_prefixes[] = {"v.", "mm.input_projection"};
  const std::string_view audio_prefixes[] = {"a.", "mm.a."};
  Tower& v = e->tower(Modality::kVision);
  Tower& a = e->tower(Modality::kAudio);
  v.present = file->has_vision();
  a.present = file->has_audio();
  if (v.present) v.ranges = file->tensor_ranges(vision_prefixes);
  if (a.present) a.ranges = file->tensor_ranges(audio_prefixes);
  v.inner = inward(v.ranges, a.ranges);
  a.inner = inward(a.ranges, v.ranges);
  for (const gguf::TensorInfo& t : file->gguf().tensors()) {
    const bool is_audio = t.name.starts_with("a.") || t.name.starts_with("mm.a.");
    (is_audio ? a : v).weight_bytes += t.n_bytes;
  }
  e->file_ = std::move(file);
  return e;
}

bool MediaEncoders::has(Modality m) const {
  return tower(m).present;
}

const uint8_t* MediaEncoders::file_base() const {
  const auto& tensors = file_->gguf().tensors();
  if (tensors.empty()) return nullptr;
  return tensors.front().data - (file_->gguf().data_offset() + tensors.front().offset);
}

void MediaEncoders::begin_use(Modality m) {
  std::lock_guard lock(mu_);
  Tower& t = tower(m);
  ++t.busy;
  t.bound = true;
  t.last_use = Clock::now();
  t.last_use_unix_ms = unix_ms_now();
}

void MediaEncoders::end_use(Modality m) {
  std::lock_guard lock(mu_);
  Tower& t = tower(m);
  --t.busy;
  ++t.encodes;
  t.last_use = Clock::now();
  t.last_use_unix_ms = unix_ms_now();
}

Result<mmproj::Embeddings> MediaEncoders::encode_image(const vision::Image& image,
                                                       uint32_t token_budget,
                                                       kernels::ThreadPool& pool) {
  if (!has(Modality::kVision)) {
    return make_error(ErrorCode::kUnsupported, path_ + " has no vision encoder");
  }
  if (!vision_) {
    auto bound = vision::VisionEncoder::bind(*file_, text_);
    if (!bound.ok()) return std::move(bound).error().with_context(path_);
    vision_ = std::move(bound).value();
  }
  begin_use(Modality::kVision);
  auto out = vision_->encode(image, token_budget, pool);
  end_use(Modality::kVision);
  return out;
}

Result<mmproj::Embeddings> MediaEncoders::encode_audio(std::span<const float> pcm_16k,
                                                       kernels::ThreadPool& pool) {
  if (!has(Modality::kAudio)) {
    return make_error(ErrorCode::kUnsupported, path_ + " has no audio encoder");
  }
  if (!audio_) {
    auto bound = audio::AudioEncoder::bind(*file_, text_);
    if (!bound.ok()) return std::move(bound).error().with_context(path_);
    audio_ = std::move(bound).value();
  }
  begin_use(Modality::kAudio);
  auto out = audio_->encode(pcm_16k, pool);
  end_use(Modality::kAudio);
  return out;
}

void MediaEncoders::release_idle(Clock::time_point now, std::chrono::milliseconds idle,
                                 std::optional<Clock::time_point>& next) {
  const uint8_t* base = file_base();
  std::lock_guard lock(mu_);
  for (Tower& t : towers_) {
    if (!t.bound) continue;
    const Clock::time_point due = t.last_use + idle;
    if (t.busy > 0 || now < due) {
      const Clock::time_point at = t.busy > 0 ? now + idle : due;
      if (!next || at < *next) next = at;
      continue;
    }
    for (const mmproj::ByteRange& r : t.ranges)
      runtime::release_pages(base + r.offset, r.size);
    t.bound = false;
  }
}

std::vector<ModalityStatus> MediaEncoders::status() const {
  const uint8_t* base = file_base();
  std::vector<ModalityStatus> out;
  std::lock_guard lock(mu_);
  for (Modality m : {Modality::kVision, Modality::kAudio}) {
    const Tower& t = tower(m);
    if (!t.present) continue;
    out.push_back(ModalityStatus{.modality = m,
                                 .bound = t.bound,
                                 .weight_bytes = t.weight_bytes,
                                 .resident_bytes = present_bytes(base, t.inner),
                                 .last_use_unix_ms = t.last_use_unix_ms,
                                 .encodes = t.encodes});
  }
  return out;
}

}  // namespace gemmad::daemon
