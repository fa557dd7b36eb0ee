// gemmad's Prometheus metrics: counters and histograms fed by one record per finished
// request, gauges read from a snapshot at scrape time, rendered in the Prometheus text
// exposition format 0.0.4 (docs/ARCHITECTURE.md "Metrics" lists the names).
//
// Thread safety: record() and render() may be called from any thread (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace gemmad::http {

// One finished request, from any front-end. Never carries content.
struct RequestRecord {
  std::string front_end;  // "protobuf" | "http"
  std::string model;
  std::string outcome;  // "ok" | "length" | "cancelled" | "error" | "busy" | ...
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t generated_tokens = 0;
  std::optional<double> ttft_seconds;  // submit to first generated token
  double total_seconds = 0;            // submit to done
};

// Values that exist independently of requests, read when /metrics is scraped.
struct MetricsSnapshot {
  std::map<std::string, uint64_t> resident_weight_bytes;  // by model
  std::map<std::string, uint64_t> open_connections;       // by front-end
  uint64_t queue_depth = 0;                               // requests waiting for a slot
  uint64_t active_sequences = 0;
  std::map<uint32_t, uint64_t> decode_batch_sizes;  // sequences per decode step -> steps
  std::optional<uint64_t> sessions_stored;
};

// Fixed-bucket histogram (cumulative counts rendered as _bucket{le=...}).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  const std::vector<uint64_t>& counts() const { return counts_; }  // per bucket, not cumulative
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // bounds_.size() + 1 (the last is +Inf)
  uint64_t count_ = 0;
  double sum_ = 0;
};

class Metrics {
 public:
  void record(const RequestRecord& r);
  std::string render(const MetricsSnapshot& s) const;

 private:
  using Key3 = std::tuple<std::string, std::string, std::string>;  // front_end, model, outcome
  using Key2 = std::tuple<std::string, std::string>;               // front_end, model
  mutable std::mutex mu_;
  std::map<Key3, uint64_t> requests_;
  std::map<Key2, uint64_t> prompt_tokens_, cached_tokens_, generated_tokens_;
  std::map<Key2, Histogram> ttft_, tpot_;
};

// Prometheus label value escaping: backslash, double quote and newline.
std::string escape_label_value(const std::string& v);

}  // namespace gemmad::http
