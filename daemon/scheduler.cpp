// Continuous batching with fair admission; see scheduler.h for the contract.
#include "daemon/scheduler.h"

#include <algorithm>
#include <chrono>

#include "tokenizer/detokenizer.h"

namespace gemmad::daemon {
namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::kEos:
      return "eos";
    case StopReason::kStopToken:
      return "stop_token";
    case StopReason::kMaxTokens:
      return "max_tokens";
    case StopReason::kCancelled:
      return "cancelled";
    case StopReason::kContextFull:
      return "context_full";
    case StopReason::kError:
      return "error";
    case StopReason::kShutdown:
      return "shutdown";
  }
  return "unknown";
}

struct Scheduler::Active {
  Active(JobSpec s, const tokenizer::Tokenizer& tok)
      : spec(std::move(s)), sampler(spec.sampling), detok(tok, {.render_special = false}) {}
  JobSpec spec;
  uint32_t slot = 0;
  size_t n_fed = 0;         // prompt tokens already in the KV cache
  bool decoding = false;    // prompt done; feeding sampled tokens
  int32_t next_token = -1;  // sampled, not yet fed
  bool paused = false;
  bool cancel_requested = false;
  bool drained = false;  // cancel_requested by stop(), not by the client
  bool done = false;
  sampler::Sampler sampler;
  tokenizer::Detokenizer detok;
  JobResult result;
  Clock::time_point admitted, first_token;
};

Scheduler::Scheduler(const engine::Gemma4Config& config, const engine::Gemma4Weights& weights,
                     const tokenizer::Tokenizer& tokenizer, kernels::ThreadPool& pool,
                     SchedulerOptions options)
    : config_(config),
      tokenizer_(tokenizer),
      opts_(options),
      forward_(config, weights, pool),
      kv_(engine::gemma4_kv_layers(config), config.n_swa,
          runtime::KvCacheOptions{.n_ctx = options.n_ctx,
                                  .type = options.kv_type,
                                  .n_seq = options.max_active + options.session_cache,
                                  .swa_capacity = 0}),
      slots_(options.max_active + options.session_cache) {
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  stop(0);
}

Status Scheduler::submit(JobSpec job) {
  if (job.prompt.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "empty prompt");
  }
  if (job.prompt.size() + 1 >= opts_.n_ctx) {
    return make_error(ErrorCode::kOutOfRange, "prompt of " + std::to_string(job.prompt.size()) +
                                                  " tokens does not fit the context of " +
                                                  std::to_string(opts_.n_ctx));
  }
  for (int32_t t : job.prompt) {
    if (!tokenizer_.is_valid_id(t) || t >= static_cast<int32_t>(config_.n_vocab)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "token id " + std::to_string(t) + " is outside the vocabulary");
    }
  }
  std::lock_guard lock(mu_);
  if (stopping_) return make_error(ErrorCode::kCancelled, "gemmad is shutting down");
  if (queue_.size() >= opts_.max_queued) {
    return make_error(ErrorCode::kResourceExhausted, "busy: " + std::to_string(queue_.size()) +
                                                         " requests queued (limit " +
                                                         std::to_string(opts_.max_queued) + ")");
  }
  job.submitted = std::chrono::steady_clock::now();
  queue_.push(std::move(job));
  cv_.notify_one();
  return {};
}

void Scheduler::cancel(uint64_t job_id) {
  std::lock_guard lock(mu_);
  cancelled_.insert(job_id);
  cv_.notify_one();
}

void Scheduler::wake() {
  std::lock_guard lock(mu_);
  woken_ = true;
  cv_.notify_one();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(mu_);
  SchedulerStats s = stats_;
  s.queued = static_cast<uint32_t>(queue_.size());
  return s;
}

void Scheduler::stop(int grace_ms) {
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return;
    if (!stopping_) {
      stopping_ = true;
      deadline_ms_ = now_ms() + grace_ms;
    }
    cv_.notify_one();
  }
  thread_.join();
}

// Picks the slot for a job: its session's idle cache if any (reusing the common prefix),
// else a free slot, else the least recently used idle cache (evicted).
uint32_t Scheduler::pick_slot(const JobSpec& job, int32_t& n_reuse) {
  n_reuse = 0;
  int best = -1;
  if (!job.cache_key.empty()) {
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (!slots_[i].busy && slots_[i].cache_key == job.cache_key) best = static_cast<int>(i);
    }
  }
  if (best >= 0) {
    const auto& have = slots_[best].tokens;
    size_t common = 0;
    while (common < have.size() && common < job.prompt.size() &&
           have[common] == job.prompt[common]) {
      ++common;
    }
    // At least one prompt token must be fed to get logits for the first sample.
    if (common == job.prompt.size()) --common;
    runtime::SequenceKv& seq = kv_.seq(static_cast<uint32_t>(best));
    if (seq.can_truncate(static_cast<int32_t>(common)) &&
        seq.truncate(static_cast<int32_t>(common)).ok()) {
      n_reuse = static_cast<int32_t>(common);
    } else {
      seq.clear();
    }
  } else {
    uint64_t oldest = UINT64_MAX;
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].busy) continue;
      const uint64_t age = slots_[i].cache_key.empty() ? 0 : slots_[i].last_used + 1;
      if (age < oldest) {
        oldest = age;
        best = static_cast<int>(i);
      }
    }
    kv_.seq(static_cast<uint32_t>(best)).clear();
  }
  Slot& s = slots_[best];
  s.busy = true;
  s.cache_key = job.cache_key;
  s.tokens.assign(job.prompt.begin(), job.prompt.begin() + n_reuse);
  return static_cast<uint32_t>(best);
}

// Moves queued jobs into free active slots in FairQueue's order.
void Scheduler::admit_locked(std::vector<std::unique_ptr<Active>>& admitted) {
  auto running = [&](const std::string& app) {
    uint32_t n = 0;
    for (const auto& a : active_)
      n += !a->done && a->spec.fair_key == app;
    for (const auto& a : admitted)
      n += a->spec.fair_key == app;
    return n;
  };
  while (active_.size() + admitted.size() < opts_.max_active) {
    auto job = queue_.pop(running);
    if (!job) break;
    admitted.push_back(std::make_unique<Active>(std::move(*job), tokenizer_));
  }
}

void Scheduler::finish(Active& a, StopReason reason, Error error) {
  if (a.done) return;
  a.done = true;
  std::string tail;
  if (reason != StopReason::kCancelled && reason != StopReason::kShutdown &&
      reason != StopReason::kError) {
    a.detok.finish(tail);
    if (!tail.empty()) {
      a.result.text += tail;
      a.spec.sink->on_token(-1, tail);
    }
  }
  a.result.reason = reason;
  a.result.error = std::move(error);
  a.result.prompt = a.spec.prompt;
  const auto now = Clock::now();
  if (a.decoding) {
    a.result.timings.decode_ms =
        std::chrono::duration<double, std::milli>(now - a.first_token).count();
  } else if (a.admitted != Clock::time_point{}) {
    a.result.timings.prefill_ms =
        std::chrono::duration<double, std::milli>(now - a.admitted).count();
  }
  Slot& slot = slots_[a.slot];
  slot.busy = false;
  slot.last_used = ++clock_;
  if (reason == StopReason::kError || slot.cache_key.empty()) {
    slot.cache_key.clear();
    slot.tokens.clear();
    kv_.seq(a.slot).clear();
  }
  a.spec.sink->on_finish(std::move(a.result));
}

// One forward pass. Returns false when there was nothing to run.
bool Scheduler::step() {
  batch_.clear();
  std::vector<Active*> row_owner;  // logits row -> job
  // Decode rows: every active, unpaused sequence advances by one token.
  uint32_t n_decode = 0;
  for (auto& a : active_) {
    if (a->done || !a->decoding) continue;
    if (a->paused) {
      if (!a->spec.sink->writable()) continue;
      a->paused = false;
    }
    runtime::SequenceKv& seq = kv_.seq(a->slot);
    batch_.add(a->next_token, seq.n_pos(), static_cast<int32_t>(a->slot), true);
    ++n_decode;
  }
  // Prefill rows: up to prefill_chunk prompt tokens, round-robin over prefilling sequences.
  uint32_t budget = opts_.prefill_chunk;
  const size_t n = active_.size();
  for (size_t k = 0; k < n && budget > 0; ++k) {
    Active& a = *active_[(prefill_cursor_ + k) % n];
    if (a.done || a.decoding) continue;
    runtime::SequenceKv& seq = kv_.seq(a.slot);
    const size_t left = a.spec.prompt.size() - a.n_fed;
    const size_t take = std::min<size_t>(left, budget);
    for (size_t i = 0; i < take; ++i) {
      const bool last = a.n_fed + i + 1 == a.spec.prompt.size();
      batch_.add(a.spec.prompt[a.n_fed + i], seq.n_pos() + static_cast<int32_t>(i),
                 static_cast<int32_t>(a.slot), last);
    }
    budget -= static_cast<uint32_t>(take);
  }
  if (n > 0) prefill_cursor_ = (prefill_cursor_ + 1) % n;
  if (batch_.size() == 0) return false;

  Status st = forward_.forward(batch_, kv_, out_);
  {
    std::lock_guard lock(mu_);
    ++stats_.steps;
    if (n_decode > 0) {
      ++stats_.decode_steps;
      ++stats_.decode_batch_sizes[n_decode];
    }
    stats_.kv_bytes = kv_.bytes_used();
  }
  // Map batch rows back to jobs (rows of one slot are consecutive per job).
  std::vector<Active*> by_slot(slots_.size(), nullptr);
  for (auto& a : active_) {
    if (!a->done) by_slot[a->slot] = a.get();
  }
  if (!st.ok()) {
    // A batch the engine refuses fails the jobs in it, not the daemon.
    std::vector<bool> seen(slots_.size(), false);
    for (const auto& row : batch_.rows) {
      if (!seen[row.seq] && by_slot[row.seq]) {
        seen[row.seq] = true;
        finish(*by_slot[row.seq], StopReason::kError, st.error());
      }
    }
    return true;
  }
  // Record what each slot's KV now holds and advance prompt cursors.
  for (const auto& row : batch_.rows) {
    Active* a = by_slot[row.seq];
    if (!a) continue;
    slots_[a->slot].tokens.push_back(row.token);
    if (!a->decoding) {
      ++a->n_fed;
      {
        std::lock_guard lock(mu_);
        ++stats_.prompt_tokens;
      }
    }
  }
  // Sample for every logits row.
  for (size_t i = 0; i < out_.rows.size(); ++i) {
    const auto& row = batch_.rows[static_cast<size_t>(out_.rows[i])];
    Active* a = by_slot[row.seq];
    if (!a || a->done) continue;
    const int32_t tok = a->sampler.sample(
        std::span<const float>(out_.row_logits(i), static_cast<size_t>(out_.n_vocab)));
    const sampler::StopReason stop = a->sampler.check_stop(tok);
    if (!a->decoding) {
      a->decoding = true;
      a->first_token = Clock::now();
      a->result.timings.prefill_ms =
          std::chrono::duration<double, std::milli>(a->first_token - a->admitted).count();
    }
    if (stop == sampler::StopReason::kStopToken) {
      finish(*a, tok == 1 ? StopReason::kEos : StopReason::kStopToken);
      continue;
    }
    a->result.tokens.push_back(tok);
    {
      std::lock_guard lock(mu_);
      ++stats_.tokens_generated;
    }
    std::string piece;
    (void)a->detok.push(tok, piece);
    a->result.text += piece;
    if (!a->spec.sink->on_token(tok, piece)) a->paused = true;
    a->next_token = tok;
    if (stop == sampler::StopReason::kMaxTokens) {
      finish(*a, StopReason::kMaxTokens);
    } else if (kv_.seq(a->slot).n_pos() + 1 >= static_cast<int32_t>(opts_.n_ctx)) {
      finish(*a, StopReason::kContextFull);
    }
  }
  return true;
}

void Scheduler::run() {
  for (;;) {
    std::vector<std::unique_ptr<Active>> admitted;
    std::vector<JobSpec> dropped;
    size_t cancelled_drops = 0;  // dropped[0, this) by their clients, the rest by stop()
    bool stop_now = false;
    {
      std::unique_lock lock(mu_);
      // Sleep when there is nothing runnable: no queued jobs, and every active job paused.
      auto runnable = [&] {
        if (stopping_ || !cancelled_.empty() || woken_) return true;
        if (!queue_.empty() && active_.size() < opts_.max_active) return true;
        for (auto& a : active_) {
          if (!a->paused) return true;
        }
        return false;
      };
      cv_.wait_for(lock, std::chrono::milliseconds(50), runnable);
      woken_ = false;
      for (auto& a : active_) {
        if (cancelled_.count(a->spec.id)) a->cancel_requested = true;
      }
      if (!cancelled_.empty()) {
        dropped = queue_.remove_if([&](const JobSpec& j) { return cancelled_.count(j.id) > 0; });
        cancelled_.clear();
      }
      cancelled_drops = dropped.size();
      if (stopping_) {
        for (auto& j : queue_.drain())
          dropped.push_back(std::move(j));
        if (now_ms() >= deadline_ms_) {
          for (auto& a : active_) {
            a->drained = !a->cancel_requested;
            a->cancel_requested = true;
          }
        }
        stop_now = active_.empty();
      } else {
        admit_locked(admitted);
      }
      stats_.active = static_cast<uint32_t>(active_.size() + admitted.size());
    }
    for (size_t i = 0; i < dropped.size(); ++i) {
      JobSpec& j = dropped[i];
      JobResult r;
      r.reason = i < cancelled_drops ? StopReason::kCancelled : StopReason::kShutdown;
      r.prompt_tokens = static_cast<int32_t>(j.prompt.size());
      j.sink->on_finish(std::move(r));
    }
    for (auto& a : active_) {
      if (a->cancel_requested)
        finish(*a, a->drained ? StopReason::kShutdown : StopReason::kCancelled);
    }
    for (auto& a : admitted) {
      int32_t reuse = 0;
      a->slot = pick_slot(a->spec, reuse);
      a->n_fed = static_cast<size_t>(reuse);
      a->result.prompt_tokens = static_cast<int32_t>(a->spec.prompt.size());
      a->result.cached_tokens = reuse;
      a->admitted = Clock::now();
      a->result.timings.queue_ms =
          std::chrono::duration<double, std::milli>(a->admitted - a->spec.submitted).count();
      for (int32_t t : a->spec.prompt)
        a->sampler.accept(t);
      active_.push_back(std::move(a));
    }
    std::erase_if(active_, [](const auto& a) { return a->done; });
    if (stop_now) return;
    step();
    std::erase_if(active_, [](const auto& a) { return a->done; });
    std::lock_guard lock(mu_);
    stats_.active = static_cast<uint32_t>(active_.size());
  }
}

}  // namespace gemmad::daemon
