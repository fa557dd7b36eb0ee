// The inference loop of gemmad: continuous batching of every active sequence, fair across
// apps (shared/DESIGN.md "Data flow" step 4).
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
// Thread safety: submit/cancel/wake/stats/stop may be called from any thread. JobSink
// callbacks run on the inference thread and must not block.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/result.h"
#include "daemon/fair_queue.h"
#include "kernels/thread_pool.h"
#include "models/gemma4.h"
#include "runtime/kv_cache.h"
#include "sampler/sampler.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::daemon {

// kCancelled: the job's client asked (Cancel, hang-up); kShutdown: stop() drained it.
enum class StopReason { kEos, kStopToken, kMaxTokens, kCancelled, kContextFull, kError, kShutdown };
const char* stop_reason_name(StopReason r);

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
  uint64_t id = 0;        // unique per scheduler (the router assigns it)
  std::string fair_key;   // admission is fair across these (the app identity)
  std::string cache_key;  // KV reuse key (session id); empty = none
  std::vector<int32_t> prompt;
  sampler::SamplingParams sampling;  // includes max_tokens and the stop set
  std::shared_ptr<JobSink> sink;
  std::chrono::steady_clock::time_point submitted;  // set by submit()
};

struct SchedulerOptions {
  uint32_t max_active = 4;     // sequences decoded together
  uint32_t session_cache = 4;  // extra idle slots keeping sessions' KV
  uint32_t prefill_chunk = 64;
  uint32_t max_queued = 64;
  uint32_t n_ctx = 4096;
  runtime::KvType kv_type = runtime::KvType::kF16;
};

struct SchedulerStats {
  uint64_t steps = 0;
  uint64_t decode_steps = 0;
  uint64_t tokens_generated = 0;
  uint64_t prompt_tokens = 0;
  uint32_t active = 0;
  uint32_t queued = 0;
  uint64_t kv_bytes = 0;
  std::map<uint32_t, uint64_t> decode_batch_sizes;  // sequences per decode step -> steps
};

class Scheduler {
 public:
  Scheduler(const engine::Gemma4Config& config, const engine::Gemma4Weights& weights,
            const tokenizer::Tokenizer& tokenizer, kernels::ThreadPool& pool,
            SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a job. kResourceExhausted ("busy") past max_queued; kOutOfRange if the prompt
  // does not fit the context; kUnavailable-like kCancelled after stop().
  Status submit(JobSpec job);
  // Stops the job within one step (queued or running); its sink gets kCancelled.
  void cancel(uint64_t job_id);
  // A paused sink may have become writable.
  void wake();
  SchedulerStats stats() const;
  // Stops admitting; queued jobs finish as cancelled; running ones get `grace_ms` to finish,
  // then are cancelled. Blocks until the inference thread has exited.
  void stop(int grace_ms);

 private:
  struct Active;
  struct Slot {
    std::string cache_key;
    std::vector<int32_t> tokens;  // what the slot's KV holds, position by position
    bool busy = false;
    uint64_t last_used = 0;
  };

  void run();
  void admit_locked(std::vector<std::unique_ptr<Active>>& admitted);
  uint32_t pick_slot(const JobSpec& job, int32_t& n_reuse);
  void finish(Active& a, StopReason reason, Error error = {});
  bool step();

  const engine::Gemma4Config& config_;
  const tokenizer::Tokenizer& tokenizer_;
  SchedulerOptions opts_;
  engine::Gemma4Forward forward_;
  runtime::KvCachePool kv_;
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<Active>> active_;  // inference thread only
  uint64_t clock_ = 0;
  size_t prefill_cursor_ = 0;
  runtime::Batch batch_;
  engine::ForwardOutput out_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  FairQueue<JobSpec> queue_;  // guarded by mu_
  std::unordered_set<uint64_t> cancelled_;
  bool stopping_ = false;
  bool woken_ = false;
  int64_t deadline_ms_ = 0;
  SchedulerStats stats_;
  std::thread thread_;
};

}  // namespace gemmad::daemon
