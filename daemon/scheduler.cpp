// Continuous batching with fair admission over one lane per model; see scheduler.h.
#include "daemon/scheduler.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <span>

namespace gemmad::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// Keeps the longest prefix of `have` (what `seq` holds) that `prompt` continues, leaving at
// least one prompt token to feed (its logits give the first sample); clears `seq` when the
// cache cannot roll back that far. Returns the positions kept.
int32_t reuse_prefix(runtime::SequenceKv& seq, std::span<const int32_t> have,
                     std::span<const int32_t> prompt) {
  size_t common = 0;
  while (common < have.size() && common < prompt.size() && have[common] == prompt[common]) {
    ++common;
  }
  if (common == prompt.size()) --common;
  if (seq.can_truncate(static_cast<int32_t>(common)) &&
      seq.truncate(static_cast<int32_t>(common)).ok()) {
    return static_cast<int32_t>(common);
  }
  seq.clear();
  return 0;
}

bool clean_stop(StopReason r) {
  return r == StopReason::kEos || r == StopReason::kStopToken || r == StopReason::kMaxTokens;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct Scheduler::Active {
  explicit Active(JobSpec s)
      : spec(std::move(s)),
        sampler(spec.sampling),
        seq(spec.model->tok.get(), spec.model->stops, spec.limits, spec.model->n_ctx,
            spec.limits.grammar ? spec.model->token_index() : nullptr) {}
  JobSpec spec;
  uint32_t slot = 0;
  size_t n_fed = 0;         // prompt tokens already in the KV cache
  bool decoding = false;    // prompt done; feeding sampled tokens
  int32_t next_token = -1;  // sampled, not yet fed
  bool paused = false;
  Clock::time_point paused_since;
  bool cancel_requested = false;
  bool drained = false;  // cancel_requested by stop(), not by the client
  bool done = false;
  sampler::Sampler sampler;
  generate::Sequence seq;  // stop rules and text
  JobResult result;
  Clock::time_point admitted, first_token;
};

// One model's share of the inference thread.
struct Scheduler::Lane {
  Lane(std::shared_ptr<const LoadedModel> m, kernels::ThreadPool& pool, const SchedulerOptions& o)
      : model(std::move(m)),
        forward(model->model->config(), model->model->weights(), pool),
        kv(model->model->new_kv_pool(
            runtime::KvCacheOptions{.n_ctx = model->n_ctx,
                                    .type = o.kv_type,
                                    .n_seq = o.max_active + o.session_cache,
                                    .swa_capacity = 0})),
        slots(o.max_active + o.session_cache) {}
  std::shared_ptr<const LoadedModel> model;
  engine::Gemma4Forward forward;
  runtime::KvCachePool kv;
  std::vector<Slot> slots;
  std::vector<std::unique_ptr<Active>> active;
  size_t prefill_cursor = 0;
};

Scheduler::Scheduler(kernels::ThreadPool& pool, SchedulerOptions options)
    : pool_(pool), opts_(options) {
  if (opts_.kv_store) resume_ = std::make_unique<KvResume>(*opts_.kv_store);
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  stop(0);
}

Status Scheduler::submit(JobSpec job, const std::function<void()>& on_accepted) {
  if (!job.model) return make_error(ErrorCode::kInternal, "job without a model");
  if (job.prompt.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "empty prompt");
  }
  const uint32_t n_ctx = job.model->n_ctx;
  if (job.prompt.size() > n_ctx) {
    return make_error(ErrorCode::kOutOfRange, "prompt of " + std::to_string(job.prompt.size()) +
                                                  " tokens does not fit the context of " +
                                                  std::to_string(n_ctx));
  }
  const auto n_vocab = static_cast<int32_t>(job.model->model->config().n_vocab);
  for (int32_t t : job.prompt) {
    if (!job.model->tok->is_valid_id(t) || t >= n_vocab) {
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
  if (opts_.max_queued_per_group > 0) {
    const std::string_view group = fair_group(job.fair_key);
    if (const size_t mine = queue_.queued_in_group(group); mine >= opts_.max_queued_per_group) {
      return make_error(ErrorCode::kResourceExhausted,
                        "busy: uid " + std::string(group) + " has " + std::to_string(mine) +
                            " requests queued (server.max_queued_per_uid " +
                            std::to_string(opts_.max_queued_per_group) + ")");
    }
  }
  release_.erase(job.model.get());
  job.submitted = std::chrono::steady_clock::now();
  if (on_accepted) on_accepted();
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

void Scheduler::release(const LoadedModel* model) {
  std::lock_guard lock(mu_);
  release_.insert(model);
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

Scheduler::Lane& Scheduler::lane_for(const std::shared_ptr<const LoadedModel>& model) {
  for (auto& l : lanes_) {
    if (l->model == model) return *l;
  }
  lanes_.push_back(std::make_unique<Lane>(model, pool_, opts_));
  return *lanes_.back();
}

// Picks the slot for a job: its session's idle cache if any (reusing the common prefix),
// else a free slot, else the least recently used idle cache (evicted).
uint32_t Scheduler::pick_slot(Lane& lane, const JobSpec& job, int32_t& n_reuse) {
  n_reuse = 0;
  int best = -1;
  auto& slots = lane.slots;
  if (!job.cache_key.empty()) {
    for (size_t i = 0; i < slots.size(); ++i) {
      if (!slots[i].busy && slots[i].cache_key == job.cache_key) best = static_cast<int>(i);
    }
  }
  if (best >= 0) {
    n_reuse =
        reuse_prefix(lane.kv.seq(static_cast<uint32_t>(best)), slots[best].tokens, job.prompt);
  } else {
    uint64_t oldest = UINT64_MAX;
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].busy) continue;
      const uint64_t age = slots[i].cache_key.empty() ? 0 : slots[i].last_used + 1;
      if (age < oldest) {
        oldest = age;
        best = static_cast<int>(i);
      }
    }
    save_slot(lane, static_cast<uint32_t>(best));
    lane.kv.seq(static_cast<uint32_t>(best)).clear();
    n_reuse = restore_slot(lane, static_cast<uint32_t>(best), job);
  }
  Slot& s = slots[best];
  s.busy = true;
  s.cache_key = job.cache_key;
  s.tokens.assign(job.prompt.begin(), job.prompt.begin() + n_reuse);
  return static_cast<uint32_t>(best);
}

// Moves queued jobs into free active places in FairQueue's order.
void Scheduler::admit_locked(std::vector<std::unique_ptr<Active>>& admitted) {
  size_t n_active = 0;
  for (const auto& l : lanes_)
    n_active += l->active.size();
  auto running = [&](const std::string& app) {
    uint32_t n = 0;
    for (const auto& l : lanes_) {
      for (const auto& a : l->active)
        n += !a->done && a->spec.fair_key == app;
    }
    for (const auto& a : admitted)
      n += a->spec.fair_key == app;
    return n;
  };
  // A uid holding its share of slots waits even when slots are free, so another uid arriving
  // later finds one.
  auto eligible = [&](const std::string& key) {
    if (opts_.max_active_per_group == 0) return true;
    const std::string_view group = fair_group(key);
    uint32_t n = 0;
    for (const auto& l : lanes_) {
      for (const auto& a : l->active)
        n += !a->done && fair_group(a->spec.fair_key) == group;
    }
    for (const auto& a : admitted)
      n += fair_group(a->spec.fair_key) == group;
    return n < opts_.max_active_per_group;
  };
  while (n_active + admitted.size() < opts_.max_active) {
    auto job = queue_.pop(running, eligible);
    if (!job) break;
    admitted.push_back(std::make_unique<Active>(std::move(*job)));
  }
}

void Scheduler::finish(Lane& lane, Active& a, StopReason reason, Error error) {
  if (a.done) return;
  a.done = true;
  if (reason != StopReason::kCancelled && reason != StopReason::kShutdown &&
      reason != StopReason::kError) {
    const std::string tail = a.seq.finish();
    if (!tail.empty()) a.spec.sink->on_token(-1, tail);
  }
  a.result.text = a.seq.text();
  a.result.tokens = a.seq.tokens();
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
  Slot& slot = lane.slots[a.slot];
  slot.busy = false;
  slot.last_used = ++clock_;
  {
    // What the saved KV file notes besides the rows (kv_resume.h).
    std::optional<std::vector<int32_t>> tail =
        unfed_tail(slot.tokens, a.result.prompt, a.result.tokens);
    slot.fair_key = a.spec.fair_key;
    slot.tail = tail ? std::move(*tail) : std::vector<int32_t>{};
    const bool continues =
        tail && clean_stop(reason) && (!a.spec.continuable || a.spec.continuable(a.result.text));
    slot.tag = continues ? a.spec.cache_tag : std::string();
  }
  if (reason == StopReason::kError || slot.cache_key.empty()) {
    slot.cache_key.clear();
    slot.tokens.clear();
    lane.kv.seq(a.slot).clear();
  }
  a.spec.sink->on_finish(std::move(a.result));
}

// One forward pass of one lane. Returns false when the lane had nothing to run.
bool Scheduler::step(Lane& lane) {
  batch_.clear();
  // Decode rows: every active, unpaused sequence advances by one token.
  uint32_t n_decode = 0;
  for (auto& a : lane.active) {
    if (a->done || !a->decoding) continue;
    if (a->paused) {
      if (!a->spec.sink->writable()) continue;
      a->paused = false;
    }
    runtime::SequenceKv& seq = lane.kv.seq(a->slot);
    batch_.add(a->next_token, seq.n_pos(), static_cast<int32_t>(a->slot), true);
    ++n_decode;
  }
  // Prefill rows: up to prefill_chunk prompt tokens, round-robin over prefilling sequences.
  uint32_t budget = opts_.prefill_chunk;
  bool encoded_this_step = false;
  const size_t n = lane.active.size();
  for (size_t k = 0; k < n && budget > 0; ++k) {
    Active& a = *lane.active[(lane.prefill_cursor + k) % n];
    if (a.done || a.decoding) continue;
    runtime::SequenceKv& seq = lane.kv.seq(a.slot);
    const size_t left = a.spec.prompt.size() - a.n_fed;
    size_t take = std::min<size_t>(left, budget);
    if (MediaPrompt* media = a.spec.media.get()) {
      // At most one encode per step: the next part's rows wait for a later step.
      if (media->ready_rows() < a.n_fed + take && !encoded_this_step) {
        encoded_this_step = true;
        if (Status es = media->encode_next(pool_); !es.ok()) {
          finish(lane, a, StopReason::kError, es.error());
          continue;
        }
      }
      take = std::min(take, media->ready_rows() - a.n_fed);
    }
    for (size_t i = 0; i < take; ++i) {
      const size_t row = a.n_fed + i;
      const bool last = row + 1 == a.spec.prompt.size();
      const int32_t pos = seq.n_pos() + static_cast<int32_t>(i);
      const float* embedding = a.spec.media ? a.spec.media->embedding(row) : nullptr;
      if (embedding) {
        batch_.add_embedding(a.spec.prompt[row], embedding, pos, static_cast<int32_t>(a.slot),
                             last);
      } else {
        batch_.add(a.spec.prompt[row], pos, static_cast<int32_t>(a.slot), last);
      }
    }
    budget -= static_cast<uint32_t>(take);
  }
  if (n > 0) lane.prefill_cursor = (lane.prefill_cursor + 1) % n;
  if (batch_.size() == 0) return false;

  Status st = lane.forward.forward(batch_, lane.kv, out_);
  {
    std::lock_guard lock(mu_);
    ++stats_.steps;
    if (n_decode > 0) {
      ++stats_.decode_steps;
      ++stats_.decode_batch_sizes[n_decode];
    }
    uint64_t kv_bytes = 0;
    for (const auto& l : lanes_)
      kv_bytes += l->kv.bytes_used();
    stats_.kv_bytes = kv_bytes;
  }
  // Map batch rows back to jobs (rows of one slot are consecutive per job).
  std::vector<Active*> by_slot(lane.slots.size(), nullptr);
  for (auto& a : lane.active) {
    if (!a->done) by_slot[a->slot] = a.get();
  }
  if (!st.ok()) {
    // A batch the engine refuses fails the jobs in it, not the daemon.
    std::vector<bool> seen(lane.slots.size(), false);
    for (const auto& row : batch_.rows) {
      if (!seen[row.seq] && by_slot[row.seq]) {
        seen[row.seq] = true;
        finish(lane, *by_slot[row.seq], StopReason::kError, st.error());
      }
    }
    return true;
  }
  // Record what each slot's KV now holds and advance prompt cursors.
  for (const auto& row : batch_.rows) {
    Active* a = by_slot[row.seq];
    if (!a) continue;
    lane.slots[a->slot].tokens.push_back(row.token);
    if (!a->decoding) {
      ++a->n_fed;
      std::lock_guard lock(mu_);
      ++stats_.prompt_tokens;
    }
  }
  // Sample for every logits row, then apply the generation rules (generate/generation.h).
  for (size_t i = 0; i < out_.rows.size(); ++i) {
    const auto& row = batch_.rows[static_cast<size_t>(out_.rows[i])];
    Active* a = by_slot[row.seq];
    if (!a || a->done) continue;
    const std::span<float> logits(out_.logits.data() + i * static_cast<size_t>(out_.n_vocab),
                                  static_cast<size_t>(out_.n_vocab));
    a->seq.constrain_logits(logits);                   // a no-op without a grammar
    if (a->spec.policy) a->spec.policy->mask(logits);  // the reply's channel rules
    const int32_t tok = a->sampler.sample(logits);
    if (!a->decoding) {
      a->decoding = true;
      a->first_token = Clock::now();
      a->result.timings.prefill_ms =
          std::chrono::duration<double, std::milli>(a->first_token - a->admitted).count();
    }
    if (a->spec.policy) {
      if (Status ps = a->spec.policy->accept(tok); !ps.ok()) {
        finish(lane, *a, StopReason::kError, ps.error());
        continue;
      }
    }
    generate::Sequence::Step step = a->seq.accept(tok, lane.kv.seq(a->slot).n_pos());
    if (step.stop_token) {
      finish(lane, *a, step.stop);
      continue;
    }
    if (step.stop == StopReason::kError) {
      finish(lane, *a, StopReason::kError, a->seq.error());
      continue;
    }
    {
      std::lock_guard lock(mu_);
      ++stats_.tokens_generated;
    }
    if (!a->spec.sink->on_token(tok, step.text)) {
      a->paused = true;
      a->paused_since = Clock::now();
    }
    a->next_token = tok;
    if (step.stop != StopReason::kNone) finish(lane, *a, step.stop);
  }
  return true;
}

// One batch of the next lane with work after the last one served: the lanes alternate.
bool Scheduler::step_next_lane() {
  const size_t n = lanes_.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (lane_cursor_ + k) % n;
    if (step(*lanes_[i])) {
      lane_cursor_ = (i + 1) % n;
      return true;
    }
  }
  return false;
}

void Scheduler::free_released_lanes() {
  std::vector<std::unique_ptr<Lane>> freed;  // destroyed outside the lock
  {
    std::lock_guard lock(mu_);
    if (release_.empty()) return;
    for (auto it = lanes_.begin(); it != lanes_.end();) {
      // A job still queued for the model holds it and builds a new lane when admitted.
      const LoadedModel* m = (*it)->model.get();
      if (release_.count(m) && (*it)->active.empty()) {
        release_.erase(m);
        freed.push_back(std::move(*it));
        it = lanes_.erase(it);
      } else {
        ++it;
      }
    }
    // A released model without a lane has nothing to free.
    std::erase_if(release_, [&](const LoadedModel* m) {
      return std::none_of(lanes_.begin(), lanes_.end(),
                          [m](const auto& l) { return l->model.get() == m; });
    });
    stats_.lanes = static_cast<uint32_t>(lanes_.size());
    lane_cursor_ = 0;
  }
  for (auto& l : freed)
    save_all(*l);
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
        size_t n_active = 0;
        for (auto& l : lanes_) {
          n_active += l->active.size();
          for (auto& a : l->active) {
            if (!a->paused) return true;
          }
        }
        return !queue_.empty() && n_active < opts_.max_active;
      };
      // No polling (docs/PERFORMANCE.md "Idle"): submit, cancel, wake (a paused stream's
      // reader took data), release and stop notify; the only timed wake is a paused
      // sequence's server.max_pause_ms deadline.
      if (const auto deadline = next_pause_deadline()) {
        cv_.wait_until(lock, *deadline, runnable);
      } else {
        cv_.wait(lock, runnable);
      }
      woken_ = false;
      for (auto& l : lanes_) {
        for (auto& a : l->active) {
          if (cancelled_.count(a->spec.id)) a->cancel_requested = true;
        }
      }
      if (!cancelled_.empty()) {
        dropped = queue_.remove_if([&](const JobSpec& j) { return cancelled_.count(j.id) > 0; });
        cancelled_.clear();
      }
      size_t n_active = 0;
      for (auto& l : lanes_)
        n_active += l->active.size();
      cancelled_drops = dropped.size();
      if (stopping_) {
        for (auto& j : queue_.drain())
          dropped.push_back(std::move(j));
        if (now_ms() >= deadline_ms_) {
          for (auto& l : lanes_) {
            for (auto& a : l->active) {
              a->drained = !a->cancel_requested;
              a->cancel_requested = true;
            }
          }
        }
        stop_now = n_active == 0;
      } else {
        admit_locked(admitted);
      }
      stats_.active = static_cast<uint32_t>(n_active + admitted.size());
    }
    for (size_t i = 0; i < dropped.size(); ++i) {
      JobSpec& j = dropped[i];
      JobResult r;
      r.reason = i < cancelled_drops ? StopReason::kCancelled : StopReason::kShutdown;
      r.prompt_tokens = static_cast<int32_t>(j.prompt.size());
      r.prompt = std::move(j.prompt);
      j.sink->on_finish(std::move(r));
    }
    const auto now = Clock::now();
    for (auto& l : lanes_) {
      for (auto& a : l->active) {
        // A client that reads nothing keeps no slot hostage (docs/ARCHITECTURE.md "Limits").
        if (!a->done && a->paused && opts_.max_pause.count() > 0 &&
            now - a->paused_since >= opts_.max_pause && !a->spec.sink->writable()) {
          finish(*l, *a, StopReason::kCancelled,
                 make_error(ErrorCode::kCancelled,
                            "the client read none of this stream's tokens for " +
                                std::to_string(opts_.max_pause.count()) +
                                " ms (server.max_pause_ms): stored as interrupted, its sequence "
                                "slot freed"));
        }
        if (a->cancel_requested)
          finish(*l, *a, a->drained ? StopReason::kShutdown : StopReason::kCancelled);
      }
    }
    for (auto& a : admitted) {
      Lane& lane = lane_for(a->spec.model);
      int32_t reuse = 0;
      a->slot = pick_slot(lane, a->spec, reuse);
      a->n_fed = static_cast<size_t>(reuse);
      a->result.prompt_tokens = static_cast<int32_t>(a->spec.prompt.size());
      a->result.cached_tokens = reuse;
      a->admitted = Clock::now();
      a->result.timings.queue_ms =
          std::chrono::duration<double, std::milli>(a->admitted - a->spec.submitted).count();
      for (int32_t t : a->spec.prompt)
        a->sampler.accept(t);
      lane.active.push_back(std::move(a));
    }
    for (auto& l : lanes_)
      std::erase_if(l->active, [](const auto& a) { return a->done; });
    if (stop_now) {
      for (auto& l : lanes_)
        save_all(*l);
      return;
    }
    step_next_lane();
    size_t n_active = 0;
    for (auto& l : lanes_) {
      std::erase_if(l->active, [](const auto& a) { return a->done; });
      n_active += l->active.size();
    }
    free_released_lanes();
    std::lock_guard lock(mu_);
    stats_.active = static_cast<uint32_t>(n_active);
    stats_.lanes = static_cast<uint32_t>(lanes_.size());
  }
}

// When the earliest paused sequence reaches server.max_pause_ms, if any is paused.
std::optional<std::chrono::steady_clock::time_point> Scheduler::next_pause_deadline() const {
  std::optional<Clock::time_point> next;
  if (opts_.max_pause.count() <= 0) return next;
  for (const auto& l : lanes_) {
    for (const auto& a : l->active) {
      if (a->done || !a->paused) continue;
      const auto at = a->paused_since + opts_.max_pause;
      if (!next || at < *next) next = at;
    }
  }
  return next;
}

// Saved KV (kv_resume.h): a slot's KV goes to a file when it leaves memory.
void Scheduler::save_slot(Lane& lane, uint32_t slot) {
  const Slot& s = lane.slots[slot];
  if (!resume_ || s.busy || s.cache_key.empty()) return;
  resume_->save(*lane.model, lane.kv.seq(slot),
                SlotNote{s.cache_key, s.fair_key, s.tag, s.tokens, s.tail});
}

int32_t Scheduler::restore_slot(Lane& lane, uint32_t slot, const JobSpec& job) {
  if (!resume_) return 0;
  runtime::SequenceKv& seq = lane.kv.seq(slot);
  const std::vector<int32_t> have = resume_->restore(*lane.model, seq, job.cache_key, job.prompt);
  if (have.empty()) return 0;
  {
    std::lock_guard lock(mu_);
    stats_.kv_restored = resume_->restored();
  }
  return reuse_prefix(seq, have, job.prompt);
}

void Scheduler::save_all(Lane& lane) {
  for (uint32_t i = 0; i < lane.slots.size(); ++i)
    save_slot(lane, i);
}

}  // namespace gemmad::daemon
