// Sampler implementation: penalties, greedy, top-k by a bounded heap (no full sort of the 262k
// logits), top-p / min-p on the few survivors, and a deterministic xoshiro256** draw.
#include "sampler/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace gemmad::sampler {
namespace {

constexpr int32_t kMaxRepetitionWindow = 4096;

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

Error bad_param(const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "sampling: " + what);
}

}  // namespace

Status validate(const SamplingParams& p) {
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f || p.temperature > 100.0f) {
    return bad_param("temperature " + std::to_string(p.temperature) + " is outside [0, 100]");
  }
  if (p.top_k < 0) return bad_param("top_k " + std::to_string(p.top_k) + " is negative");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    return bad_param("top_p " + std::to_string(p.top_p) + " is outside (0, 1]");
  }
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) {
    return bad_param("min_p " + std::to_string(p.min_p) + " is outside [0, 1]");
  }
  if (!(p.repetition_penalty > 0.0f && p.repetition_penalty <= 100.0f)) {
    return bad_param("repetition_penalty " + std::to_string(p.repetition_penalty) +
                     " is outside (0, 100]");
  }
  if (p.repetition_window < 0 || p.repetition_window > kMaxRepetitionWindow) {
    return bad_param("repetition_window " + std::to_string(p.repetition_window) +
                     " is outside [0, " + std::to_string(kMaxRepetitionWindow) + "]");
  }
  return {};
}

Result<Sampler> Sampler::create(SamplingParams params) {
  GEMMAD_TRY(validate(params));
  return Sampler(std::move(params));
}

Sampler::Sampler(SamplingParams params) : params_(std::move(params)) {
  uint64_t s = params_.seed;
  for (uint64_t& word : rng_state_)
    word = splitmix64(s);
}

double Sampler::uniform() {
  // xoshiro256** (Blackman & Vigna): fixed algorithm, so draws are identical on every
  // platform and standard library, unlike std::uniform_real_distribution.
  uint64_t* st = rng_state_;
  const uint64_t result = rotl(st[1] * 5, 7) * 9;
  const uint64_t t = st[1] << 17;
  st[2] ^= st[0];
  st[3] ^= st[1];
  st[1] ^= st[2];
  st[0] ^= st[3];
  st[2] ^= t;
  st[3] = rotl(st[3], 45);
  return static_cast<double>(result >> 11) * 0x1.0p-53;
}

void Sampler::accept(TokenId id) {
  if (params_.repetition_window <= 0) return;
  recent_.push_back(id);
  while (recent_.size() > static_cast<size_t>(params_.repetition_window))
    recent_.pop_front();
}

// The distinct recent ids inside the vocabulary and their penalised logits (CTRL-style:
// positive logits divided by the penalty, negative ones multiplied).
void Sampler::penalized_logits(std::span<const float> logits) {
  penalized_ids_.clear();
  penalized_vals_.clear();
  if (params_.repetition_penalty == 1.0f) return;
  for (const TokenId id : recent_) {
    if (id >= 0 && static_cast<size_t>(id) < logits.size()) penalized_ids_.push_back(id);
  }
  // Each distinct id is penalised once, however often it occurred.
  std::sort(penalized_ids_.begin(), penalized_ids_.end());
  penalized_ids_.erase(std::unique(penalized_ids_.begin(), penalized_ids_.end()),
                       penalized_ids_.end());
  for (const TokenId id : penalized_ids_) {
    const float v = logits[static_cast<size_t>(id)];
    penalized_vals_.push_back(v > 0 ? v / params_.repetition_penalty
                                    : v * params_.repetition_penalty);
  }
}

TokenId Sampler::argmax(std::span<const float> logits) const {
  TokenId best = -1;
  float best_v = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] > best_v) {  // false for NaN
      best_v = logits[i];
      best = static_cast<TokenId>(i);
    }
  }
  return best;
}

// candidates_ = the k largest logits (NaN excluded), by a min-heap of size k: O(n) compares
// plus O(log k) per heap change, instead of sorting 262k values.
void Sampler::select_top_k(std::span<const float> logits, size_t k) {
  const auto greater = [](const Candidate& a, const Candidate& b) { return a.logit > b.logit; };
  candidates_.clear();
  candidates_.reserve(k);
  size_t i = 0;
  for (; i < logits.size() && candidates_.size() < k; ++i) {
    if (std::isnan(logits[i])) continue;
    candidates_.push_back({logits[i], static_cast<TokenId>(i)});
    std::push_heap(candidates_.begin(), candidates_.end(), greater);
  }
  if (candidates_.empty()) return;
  float floor = candidates_.front().logit;
  for (; i < logits.size(); ++i) {
    if (logits[i] > floor) {
      std::pop_heap(candidates_.begin(), candidates_.end(), greater);
      candidates_.back() = {logits[i], static_cast<TokenId>(i)};
      std::push_heap(candidates_.begin(), candidates_.end(), greater);
      floor = candidates_.front().logit;
    }
  }
}

// candidates_ = every logit that can matter (no top-k): finite ones, and when min_p is set,
// only those within T*ln(min_p) of the maximum.
void Sampler::select_all(std::span<const float> logits) {
  candidates_.clear();
  float threshold = -std::numeric_limits<float>::infinity();
  if (params_.min_p > 0.0f) {
    const TokenId m = argmax(logits);
    if (m >= 0) {
      threshold = logits[static_cast<size_t>(m)] + params_.temperature * std::log(params_.min_p);
    }
  }
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] >= threshold && logits[i] > -std::numeric_limits<float>::infinity()) {
      candidates_.push_back({logits[i], static_cast<TokenId>(i)});
    }
  }
}

// Draws from candidates_ (already cut by top-k / min-p threshold) at the temperature,
// applying top-p and min-p on the candidates in descending order. Only the prefix that top-p
// can keep is sorted: with no top-k, 262k candidates are partially ordered (nth_element) in
// growing prefixes until the prefix holds top_p of the mass.
TokenId Sampler::draw() {
  if (candidates_.empty()) return 0;
  const auto before = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);  // a strict total order
  };
  const double inv_t = 1.0 / static_cast<double>(params_.temperature);
  double top = -std::numeric_limits<double>::infinity();
  for (const Candidate& c : candidates_)
    top = std::max(top, static_cast<double>(c.logit));
  // Degenerate rows: all -inf (nothing is possible) or a +inf logit (it is certain).
  if (top == -std::numeric_limits<double>::infinity()) return 0;
  if (top == std::numeric_limits<double>::infinity()) {
    TokenId first = -1;
    for (const Candidate& c : candidates_) {
      if (std::isinf(c.logit) && (first < 0 || c.id < first)) first = c.id;
    }
    return first;
  }
  const auto weight = [&](const Candidate& c) {
    return std::exp((static_cast<double>(c.logit) - top) * inv_t);
  };
  double total = 0;
  for (const Candidate& c : candidates_)
    total += weight(c);

  const size_t n = candidates_.size();
  size_t sorted = n;
  const bool nucleus = params_.top_p < 1.0f;
  if (nucleus && n > 1024) {
    const double want = static_cast<double>(params_.top_p) * total;
    for (size_t m = 256;; m *= 8) {
      if (m >= n) {
        std::sort(candidates_.begin(), candidates_.end(), before);
        break;
      }
      std::nth_element(candidates_.begin(), candidates_.begin() + static_cast<ptrdiff_t>(m),
                       candidates_.end(), before);
      std::sort(candidates_.begin(), candidates_.begin() + static_cast<ptrdiff_t>(m), before);
      double mass = 0;
      for (size_t j = 0; j < m; ++j)
        mass += weight(candidates_[j]);
      if (mass >= want) {
        sorted = m;
        break;
      }
    }
  } else if (nucleus || params_.min_p > 0.0f) {
    std::sort(candidates_.begin(), candidates_.end(), before);
  }

  size_t keep = sorted;
  if (nucleus) {
    // Keep the shortest prefix whose mass reaches top_p; the token that crosses it is kept
    // (Hugging Face's TopPLogitsWarper).
    const double want = static_cast<double>(params_.top_p) * total;
    double cum = 0;
    for (size_t j = 0; j < sorted; ++j) {
      if (cum >= want) {
        keep = j;
        break;
      }
      cum += weight(candidates_[j]);
    }
  }
  if (params_.min_p > 0.0f) {
    // Keep p >= min_p * p_max; candidates_[0] is the maximum here (sorted above).
    const double floor = static_cast<double>(params_.min_p) * weight(candidates_[0]);
    size_t j = 1;
    while (j < keep && weight(candidates_[j]) >= floor)
      ++j;
    keep = j;
  }
  keep = std::max<size_t>(keep, 1);

  double mass = 0;
  for (size_t j = 0; j < keep; ++j)
    mass += weight(candidates_[j]);
  const double r = uniform() * mass;
  double acc = 0;
  for (size_t j = 0; j < keep; ++j) {
    acc += weight(candidates_[j]);
    if (r < acc) return candidates_[j].id;
  }
  return candidates_[keep - 1].id;
}

TokenId Sampler::sample(std::span<const float> raw) {
  penalized_logits(raw);
  // With a penalty, work on a copy with the few penalised values written in (one 1 MB copy
  // for a 262k vocabulary; cheap next to the forward pass that produced the logits).
  std::span<const float> logits = raw;
  if (!penalized_ids_.empty()) {
    penalized_row_.assign(raw.begin(), raw.end());
    for (size_t j = 0; j < penalized_ids_.size(); ++j) {
      penalized_row_[static_cast<size_t>(penalized_ids_[j])] = penalized_vals_[j];
    }
    logits = penalized_row_;
  }

  TokenId chosen = 0;
  if (is_greedy()) {
    chosen = std::max<TokenId>(argmax(logits), 0);
  } else {
    // Order (Hugging Face's): temperature, top-k, top-p, min-p. Top-k is the same on raw
    // logits as on logits / T, so it runs first on the raw row.
    const size_t k = params_.top_k > 0 ? static_cast<size_t>(params_.top_k) : logits.size();
    if (k < logits.size()) {
      select_top_k(logits, k);
    } else {
      select_all(logits);
    }
    chosen = draw();
  }
  accept(chosen);
  return chosen;
}

void sample_batch(std::span<Sampler* const> samplers, std::span<const float> logits, size_t vocab,
                  std::span<TokenId> out) {
  for (size_t s = 0; s < samplers.size(); ++s) {
    out[s] = samplers[s]->sample(logits.subspan(s * vocab, vocab));
  }
}

}  // namespace gemmad::sampler
