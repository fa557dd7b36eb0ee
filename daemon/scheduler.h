// The inference loop of gemmad: continuous batching of every active sequence, fair across
// apps (docs/DESIGN.md "Data flow" step 4).
//
// One thread owns the engine. Each step it builds one Batch: one decode row for every active,
// unpaused sequence plus up to `prefill_chunk` prompt rows (round-robin over the sequences
// still prefilling), so a long prompt never freezes other apps' streams and N apps share each
// pass over the weights. Admission to the `max_active` sequence slots is fair by app (the
// "fair key"; see fair_queue.h), so one app with 10 requests cannot starve another with 1.
//
// KV reuse: a finished sequence's slot keeps its tokens under the job's cache key (the
// session id); the next job with that key reuses the longest common prefix and prefills only
// the rest. `session_cache` extra slots hold such idle caches (LRU).
//
// Several models: each job names its LoadedModel; the one inference thread keeps a lane per
// model (its forward scratch, KV slots, active sequences) and runs one batch per step,
// alternating between the lanes that have work, so two forward passes never run at once.
// `max_active` bounds the sequences of all lanes together. release() frees a lane (and with
// it the lane's hold on the model) once it is idle.
//
// Thread safety: submit/cancel/wake/release/stats/stop may be called from any thread.
// JobSink callbacks run on the inference thread and must not block.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/result.h"
#include "daemon/fair_queue.h"
#include "daemon/kv_resume.h"
#include "daemon/media_prompt.h"
#include "daemon/model_registry.h"
#include "generate/generation.h"
#include "generate/token_policy.h"
#include "kernels/thread_pool.h"
#include "models/gemma4.h"
#include "runtime/kv_cache.h"
#include "sampler/sampler.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::daemon {

// kCancelled: the job's client asked (Cancel, hang-up); kShutdown: stop() drained it.
// The stop rules are the engine's (generate/generation.h), shared with the offline verbs.
using StopReason = generate::StopReason;
using generate::stop_reason_name;

struct JobTimings {
  double queue_ms = 0, prefill_ms = 0, decode_ms = 0;
};

struct JobResult {
  StopReason reason = StopReason::kEos;
  std::string text;             // the completion, stop token excluded
  std::vector<int32_t> tokens;  // generated ids, stop token excluded
  std::vector<int32_t> prompt;  // the job's prompt
  int32_t prompt_tokens = 0;
  int32_t cached_tokens = 0;  // prompt tokens whose KV was reused
  JobTimings timings;
  Error error;  // when reason == kError
};

// Where a job's output goes. Called on the inference thread.
class JobSink {
 public:
  virtual ~JobSink() = default;
  // A piece of text became complete (may be empty when UTF-8 is held back). Return false when
  // the stream's bounded queue is full: the job pauses until writable() turns true.
  virtual bool on_token(int32_t token_id, const std::string& text) = 0;
  virtual bool writable() = 0;
  // Exactly once per submitted job.
  virtual void on_finish(JobResult result) = 0;
};

struct JobSpec {
  uint64_t id = 0;  // unique per scheduler (the turn service assigns it)
  std::shared_ptr<const LoadedModel> model;
  std::string fair_key;   // admission is fair across these (the app identity)
  std::string cache_key;  // KV reuse key (session id); empty = none
  // Saved with the session's KV when it leaves memory, if the job ends cleanly (kv_resume.h);
  // the turn service's note of the model and turn count.
  std::string cache_tag;
  // Whether a cleanly ended reply may be continued token for token (cache_tag kept): the
  // turn service's rule (its text is stored as it was generated). Null = always.
  std::function<bool(const std::string& text)> continuable;
  std::vector<int32_t> prompt;
  // Images and audio in the prompt (media_prompt.h; prompt == media->ids()); null = text.
  // Each part is encoded on the inference thread when its rows are next to prefill, one
  // part per step, so other sequences' decode rows run between encodes. Used by the
  // inference thread only once submitted.
  std::shared_ptr<MediaPrompt> media;
  sampler::SamplingParams sampling;
  generate::Limits limits;  // max_tokens, ignore_eos, stop strings
  // Which token may come next (thought budget, tool choice, grammars); null = any.
  std::shared_ptr<generate::TokenPolicy> policy;
  std::shared_ptr<JobSink> sink;
  std::chrono::steady_clock::time_point submitted;  // set by submit()
};

struct SchedulerOptions {
  uint32_t max_active = 4;     // sequences decoded together
  uint32_t session_cache = 4;  // extra idle slots keeping sessions' KV
  uint32_t prefill_chunk = 64;
  uint32_t max_queued = 64;
  runtime::KvTypes kv_type;  // per layer type (model.kv_type)
  // Per fair group (the uid before ':' of fair_key; fair_queue.h), so one user filling its
  // share is told "busy" while another is served. 0 = no bound of its own.
  uint32_t max_active_per_group = 0;  // sequence (KV) slots held
  uint32_t max_queued_per_group = 0;  // jobs waiting
  // A sequence paused this long (its client reads none of its tokens) is ended: stored as
  // interrupted by the caller, its slot freed, its sink told why (JobResult.error with
  // reason kCancelled). 0 = never.
  std::chrono::milliseconds max_pause{0};
  // Where sessions' KV goes when it leaves memory (evicted, lane freed, stop()); null = off.
  KvStore* kv_store = nullptr;
};

struct SchedulerStats {
  uint64_t steps = 0;
  uint64_t decode_steps = 0;
  uint64_t tokens_generated = 0;
  uint64_t prompt_tokens = 0;
  uint32_t active = 0;
  uint32_t queued = 0;
  uint64_t kv_bytes = 0;
  uint64_t kv_restored = 0;                         // sessions continued from a saved KV file
  uint32_t lanes = 0;                               // models with a lane (forward + KV)
  std::map<uint32_t, uint64_t> decode_batch_sizes;  // sequences per decode step -> steps
};

class Scheduler {
 public:
  Scheduler(kernels::ThreadPool& pool, SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a job. kResourceExhausted ("busy") past max_queued; kOutOfRange if the prompt
  // does not fit the model's context; kCancelled after stop(). `on_accepted` runs (on the
  // caller's thread) once the job is certain to be queued and before any of its sink's
  // callbacks can run; it must not call into the scheduler.
  Status submit(JobSpec job, const std::function<void()>& on_accepted = {});
  // Stops the job within one step (queued or running); its sink gets kCancelled.
  void cancel(uint64_t job_id);
  // A paused sink may have become writable.
  void wake();
  // Frees the lane of `model` once it has no running or queued job (its KV and its hold on
  // the model go); a later job for the model builds a new lane.
  void release(const LoadedModel* model);
  SchedulerStats stats() const;
  KvStore* kv_store() const { return opts_.kv_store; }
  // Stops admitting; queued jobs finish as cancelled; running ones get `grace_ms` to finish,
  // then are cancelled. Blocks until the inference thread has exited.
  void stop(int grace_ms);

 private:
  struct Active;
  struct Lane;
  struct Slot {
    std::string cache_key;
    std::vector<int32_t> tokens;  // what the slot's KV holds, position by position
    bool busy = false;
    uint64_t last_used = 0;
    std::string fair_key, tag;  // saved with the KV (kv_resume.h)
    std::vector<int32_t> tail;  // generated, never fed
  };

  void run();
  void admit_locked(std::vector<std::unique_ptr<Active>>& admitted);
  Lane& lane_for(const std::shared_ptr<const LoadedModel>& model);
  uint32_t pick_slot(Lane& lane, const JobSpec& job, int32_t& n_reuse);
  void finish(Lane& lane, Active& a, StopReason reason, Error error = {});
  bool step(Lane& lane);
  bool step_next_lane();
  void free_released_lanes();
  void save_slot(Lane& lane, uint32_t slot);
  int32_t restore_slot(Lane& lane, uint32_t slot, const JobSpec& job);
  void save_all(Lane& lane);
  std::optional<std::chrono::steady_clock::time_point> next_pause_deadline() const;

  kernels::ThreadPool& pool_;
  SchedulerOptions opts_;
  std::vector<std::unique_ptr<Lane>> lanes_;  // inference thread only
  size_t lane_cursor_ = 0;
  uint64_t clock_ = 0;
  runtime::Batch batch_;
  engine::ForwardOutput out_;
  std::unique_ptr<KvResume> resume_;  // inference thread only; null without a kv_store

  mutable std::mutex mu_;
  std::condition_variable cv_;
  FairQueue<JobSpec> queue_;  // guarded by mu_
  std::unordered_set<uint64_t> cancelled_;
  std::unordered_set<const LoadedModel*> release_;
  bool stopping_ = false;
  bool woken_ = false;
  int64_t deadline_ms_ = 0;
  SchedulerStats stats_;
  std::thread thread_;
};

}  // namespace gemmad::daemon
