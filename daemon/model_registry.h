// The models one daemon serves (docs/ARCHITECTURE.md "Several models"): each configured
// file is mapped at most once (a LoadedModel shared by every request and the inference
// thread), unmapped after keep_alive of idleness, and mapped again by the next request.
//
// Threads: the registry is used on the io thread only. A LoadedModel is immutable and
// shared; it is unmapped when the last holder (the registry, a queued job, the scheduler's
// lane for it) lets go.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "chat/chat_format.h"
#include "common/result.h"
#include "constrain/constrain.h"
#include "daemon/config.h"
#include "daemon/media_encoders.h"
#include "daemon/media_prompt.h"
#include "generate/generation.h"
#include "runtime/model.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::daemon {

// One mapped model with what requests need of it.
struct LoadedModel {
  std::string name;
  std::string path;
  std::unique_ptr<runtime::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::optional<chat::ChatFormat> chat;
  generate::StopSet stops;
  uint32_t n_ctx = 0;  // effective: min(model.context_length, the file's n_ctx_train)
  // Its vision/audio encoders (media_encoders.h): the mmproj file validated at load, the
  // towers bound on first use; null without an mmproj. media_ids is set with it.
  std::shared_ptr<MediaEncoders> encoders;
  MediaTokenIds media_ids;

  // Errors are kBadModelFile naming the path. `mmproj` "" = text only.
  static Result<std::shared_ptr<LoadedModel>> load(const std::string& name, const std::string& path,
                                                   uint32_t context_length,
                                                   const std::string& mmproj = "");
  // Bytes of the weight mapping resident in this process now.
  uint64_t resident_bytes() const;
  std::string general_name() const;
  // The vocabulary's token trie for constrained decoding (docs/CONSTRAINED.md), built once
  // and shared (~1 s for 262,144 tokens). build_token_index_in_background() builds it on a
  // thread of its own (the daemon calls it after READY, so a constrained request finds it
  // ready and neither the io nor the inference thread spends that second); a call before
  // that build has finished waits for it, and a call when none was started builds it here.
  // Null when the vocabulary cannot be indexed (a token longer than 65,535 bytes).
  std::shared_ptr<const constrain::TokenIndex> token_index() const;
  void build_token_index_in_background();
  // How many times the index was built (at most once; for tests).
  uint32_t token_index_builds() const;

  LoadedModel() = default;
  LoadedModel(const LoadedModel&) = delete;
  LoadedModel& operator=(const LoadedModel&) = delete;
  ~LoadedModel();

 private:
  // Builds unless built or being built (then waits); the caller holds `lock`.
  void build_token_index_locked(std::unique_lock<std::mutex>& lock) const;

  mutable std::mutex token_index_mu_;
  mutable std::condition_variable token_index_cv_;
  mutable bool token_index_building_ = false;
  mutable bool token_index_built_ = false;
  mutable uint32_t token_index_builds_ = 0;
  mutable std::shared_ptr<const constrain::TokenIndex> token_index_;
  std::thread token_index_builder_;
};

struct ModelState {
  ModelConfig config;
  std::shared_ptr<LoadedModel> held;  // the registry's hold; null once unmapped
  std::weak_ptr<LoadedModel> alive;   // still mapped while anyone holds it
  uint32_t active = 0;                // requests started and not yet done
  int64_t keep_alive_ms = 0;          // of the last request (per-request override)
  std::chrono::steady_clock::time_point idle_since{};
  int64_t last_used_unix_ms = 0;
  uint32_t n_ctx = 0;  // remembered across unmapping, for listings
  std::string variant;
  uint32_t vocab_size = 0;
  uint64_t file_bytes = 0;
};

class ModelRegistry {
 public:
  explicit ModelRegistry(const Config& config);

  // Maps every configured model (start-up: a bad file is an error, gemmad exits 4).
  Status load_all();
  // From now on every mapped model builds its token index in the background (those mapped
  // already start now, those mapped again after keep_alive when they are mapped). The daemon
  // calls it after READY, on the io thread, so the builder threads are under its Landlock.
  void build_token_indexes_in_background();
  // The model a request names ("" = the first), mapped again if keep_alive unmapped it.
  // kNotFound names the configured models.
  Result<std::shared_ptr<LoadedModel>> acquire(const std::string& name);
  // A request of `name` started / finished (keep_alive counts from the last finish).
  void begin(const std::string& name);
  void end(const std::string& name, std::optional<std::chrono::milliseconds> keep_alive);
  // Drops the hold of every idle model whose keep_alive has passed; returns them (the
  // scheduler then frees their lanes), still held by the returned pointers: nothing else may
  // hold a model, and the caller still names it and releases its lanes. Releases the pages
  // of every encoder unused for media.encoder_idle_s. `next` gets the earliest pending
  // deadline, if any.
  std::vector<std::shared_ptr<LoadedModel>> expire(
      std::chrono::steady_clock::time_point now,
      std::optional<std::chrono::steady_clock::time_point>& next);

  const std::vector<ModelState>& states() const { return states_; }
  const std::string& default_name() const { return states_.front().config.name; }
  const std::string& models_dir() const { return models_dir_; }

 private:
  ModelState* find(const std::string& name);
  Result<std::shared_ptr<LoadedModel>> map(ModelState& s);

  std::vector<ModelState> states_;
  uint32_t context_length_;
  std::string models_dir_;
  bool background_token_index_ = false;
  std::chrono::milliseconds encoder_idle_;
};

}  // namespace gemmad::daemon
