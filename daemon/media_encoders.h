// A model's vision and audio encoders on demand (issue 11; docs/ENCODERS.md "On demand"):
// the mmproj file is mapped and its header, keys and tensor table validated when the model
// loads, but no encoder weight is read then. The first image binds the vision tower and its
// encode faults in only v.* / mm.input_projection pages; the first audio clip does the same
// for a.* / mm.a.*. A modality unused for media.encoder_idle_s has its pages dropped
// (madvise MADV_DONTNEED: they leave the daemon's RSS, stay in the page cache and fault back
// on the next use).
//
// Threads: encode_*() run on the inference thread; release_idle() and status() on the io
// thread. A modality being encoded is never released under it (a per-modality busy count).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audio/audio_encoder.h"
#include "common/result.h"
#include "kernels/thread_pool.h"
#include "mmproj/mmproj_file.h"
#include "models/gemma4_config.h"
#include "vision/vision_encoder.h"

namespace gemmad::daemon {

enum class Modality { kVision = 0, kAudio = 1 };
const char* modality_name(Modality m);  // "vision" | "audio"

struct ModalityStatus {
  Modality modality = Modality::kVision;
  bool bound = false;            // used and not released since (its pages may be resident)
  uint64_t weight_bytes = 0;     // of its tensors in the file
  uint64_t resident_bytes = 0;   // of its pages in this process's page tables now
  int64_t last_use_unix_ms = 0;  // 0 = never
  uint64_t encodes = 0;          // images or clips encoded since the model was mapped
};

class MediaEncoders {
 public:
  // Maps and validates `path` (MmprojFile::open) and checks that each tower present projects
  // into the text width `text.n_embd`; kBadModelFile naming the path and the width otherwise.
  static Result<std::unique_ptr<MediaEncoders>> open(const std::string& path,
                                                     const engine::Gemma4Config& text);

  const std::string& path() const { return path_; }
  bool has(Modality m) const;

  // Soft-token embeddings ([n][d], docs/ENCODERS.md §2, §3). The first call of a modality
  // binds its tower; kUnsupported when the file has no such tower.
  Result<mmproj::Embeddings> encode_image(const vision::Image& image, uint32_t token_budget,
                                          kernels::ThreadPool& pool);
  Result<mmproj::Embeddings> encode_audio(std::span<const float> pcm_16k,
                                          kernels::ThreadPool& pool);

  // Drops the pages of every modality unused for `idle` (not while it encodes). `next` gets
  // the earliest time a still-mapped modality becomes idle, if any is mapped.
  void release_idle(std::chrono::steady_clock::time_point now, std::chrono::milliseconds idle,
                    std::optional<std::chrono::steady_clock::time_point>& next);
  // One entry per tower the file holds.
  std::vector<ModalityStatus> status() const;

 private:
  struct Tower {
    bool present = false;
    bool bound = false;                     // guarded by mu_
    uint64_t encodes = 0;                   // guarded by mu_
    std::vector<mmproj::ByteRange> ranges;  // outward page-aligned: what release drops
    std::vector<mmproj::ByteRange> inner;   // inward: pages no other tower shares
    uint64_t weight_bytes = 0;
    std::chrono::steady_clock::time_point last_use{};  // guarded by mu_
    int64_t last_use_unix_ms = 0;                      // guarded by mu_
    uint32_t busy = 0;                                 // guarded by mu_
  };
  MediaEncoders() = default;
  Tower& tower(Modality m) { return towers_[static_cast<size_t>(m)]; }
  const Tower& tower(Modality m) const { return towers_[static_cast<size_t>(m)]; }
  // Marks `m` in use (busy, last use now) for the duration of an encode.
  void begin_use(Modality m);
  void end_use(Modality m);
  const uint8_t* file_base() const;

  std::string path_;
  engine::Gemma4Config text_;
  std::unique_ptr<mmproj::MmprojFile> file_;
  std::unique_ptr<vision::VisionEncoder> vision_;  // inference thread only, bound once
  std::unique_ptr<audio::AudioEncoder> audio_;     // inference thread only, bound once
  mutable std::mutex mu_;
  std::array<Tower, 2> towers_;
};

// Bytes of [base + r.offset, + r.size) for each range that are present in this process's
// page tables (/proc/self/pagemap "present" bit; mincore would report the shared page cache).
uint64_t present_bytes(const uint8_t* base, std::span<const mmproj::ByteRange> ranges);

}  // namespace gemmad::daemon
