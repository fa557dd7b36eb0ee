// Prometheus metrics of gemmad (see metrics.h).
#include "daemon/http/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace gemmad::http {
namespace {

// Seconds. TTFT spans a short cached prompt (ms) to a long prefill on two cores (tens of s);
// per-output-token time spans a tiny test model (sub-ms) to E4B under load (~1 s).
const std::vector<double>& ttft_bounds() {
  static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                        1,     2.5,  5,     10,   30,  60};
  return b;
}
const std::vector<double>& tpot_bounds() {
  static const std::vector<double> b = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1,    2.5};
  return b;
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The shortest of %.15g / %.17g that reads back as v (0.005, not 0.0050000000000000001).
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.15g", v);
  if (std::strtod(buf, nullptr) != v) std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

void header(std::ostringstream& o, const char* name, const char* type, const char* help) {
  o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

std::string labels(std::initializer_list<std::pair<const char*, std::string>> kv) {
  std::string s = "{";
  for (const auto& [k, v] : kv) {
    if (s.size() > 1) s += ',';
    s += k;
    s += "=\"" + escape_label_value(v) + "\"";
  }
  return s + "}";
}

void counter2(std::ostringstream& o, const char* name, const char* help,
              const std::map<std::tuple<std::string, std::string>, uint64_t>& m) {
  header(o, name, "counter", help);
  for (const auto& [k, v] : m) {
    o << name << labels({{"front_end", std::get<0>(k)}, {"model", std::get<1>(k)}}) << ' ' << v
      << '\n';
  }
}

// Renders the series of one histogram; `label_prefix` is `a="x",` (or empty).
void histogram_series(std::ostringstream& o, const char* name, const std::string& label_prefix,
                      const std::vector<double>& bounds, const std::vector<uint64_t>& counts,
                      uint64_t count, double sum) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += counts[i];
    const std::string le = i < bounds.size() ? number(bounds[i]) : "+Inf";
    o << name << "_bucket{" << label_prefix << "le=\"" << le << "\"} " << cumulative << '\n';
  }
  const std::string l = label_prefix.empty()
                            ? std::string()
                            : "{" + label_prefix.substr(0, label_prefix.size() - 1) + "}";
  o << name << "_sum" << l << ' ' << number(sum) << '\n';
  o << name << "_count" << l << ' ' << count << '\n';
}

void histogram2(std::ostringstream& o, const char* name, const char* help,
                const std::map<std::tuple<std::string, std::string>, Histogram>& m) {
  header(o, name, "histogram", help);
  for (const auto& [k, h] : m) {
    const std::string prefix = "front_end=\"" + escape_label_value(std::get<0>(k)) + "\",model=\"" +
                               escape_label_value(std::get<1>(k)) + "\",";
    histogram_series(o, name, prefix, h.bounds(), h.counts(), h.count(), h.sum());
  }
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i])
    ++i;
  ++counts_[i];
  ++count_;
  sum_ += v;
}

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Metrics::record(const RequestRecord& r) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{r.front_end, r.model, r.outcome}];
  const Key2 k{r.front_end, r.model};
  prompt_tokens_[k] += static_cast<uint64_t>(std::max<int64_t>(r.prompt_tokens, 0));
  cached_tokens_[k] += static_cast<uint64_t>(std::max<int64_t>(r.cached_tokens, 0));
  generated_tokens_[k] += static_cast<uint64_t>(std::max<int64_t>(r.generated_tokens, 0));
  if (r.ttft_seconds) {
    ttft_.try_emplace(k, ttft_bounds()).first->second.observe(*r.ttft_seconds);
    // Time per output token after the first: the decode rate this request saw.
    if (r.generated_tokens > 1) {
      const double tpot = std::max(0.0, r.total_seconds - *r.ttft_seconds) /
                          static_cast<double>(r.generated_tokens - 1);
      tpot_.try_emplace(k, tpot_bounds()).first->second.observe(tpot);
    }
  }
}

std::string Metrics::render(const MetricsSnapshot& s) const {
  std::ostringstream o;
  {
    std::lock_guard<std::mutex> lock(mu_);
    header(o, "gemmad_requests_total", "counter",
           "Finished generation requests by front-end, model and outcome.");
    for (const auto& [k, v] : requests_) {
      o << "gemmad_requests_total"
        << labels({{"front_end", std::get<0>(k)},
                   {"model", std::get<1>(k)},
                   {"outcome", std::get<2>(k)}})
        << ' ' << v << '\n';
    }
    counter2(o, "gemmad_prompt_tokens_total", "Prompt tokens of finished requests.",
             prompt_tokens_);
    counter2(o, "gemmad_cached_prompt_tokens_total",
             "Prompt tokens whose KV cache was reused instead of prefilled.", cached_tokens_);
    counter2(o, "gemmad_generated_tokens_total", "Tokens generated by finished requests.",
             generated_tokens_);
    histogram2(o, "gemmad_time_to_first_token_seconds",
               "Time from request to its first generated token.", ttft_);
    histogram2(o, "gemmad_time_per_output_token_seconds",
               "Mean time per generated token after the first, per request.", tpot_);
  }
  header(o, "gemmad_queue_depth", "gauge", "Requests waiting for a sequence slot.");
  o << "gemmad_queue_depth " << s.queue_depth << '\n';
  header(o, "gemmad_active_sequences", "gauge", "Sequences being prefilled or decoded.");
  o << "gemmad_active_sequences " << s.active_sequences << '\n';
  {
    // The scheduler counts decode steps by batch size; as a histogram of sequences per step.
    static const std::vector<double> bounds = {1, 2, 4, 8, 16, 32, 64};
    std::vector<uint64_t> counts(bounds.size() + 1, 0);
    uint64_t count = 0;
    double sum = 0;
    for (const auto& [size, steps] : s.decode_batch_sizes) {
      size_t i = 0;
      while (i < bounds.size() && size > bounds[i])
        ++i;
      counts[i] += steps;
      count += steps;
      sum += static_cast<double>(size) * static_cast<double>(steps);
    }
    header(o, "gemmad_decode_batch_sequences", "histogram",
           "Sequences decoded together per decode step.");
    histogram_series(o, "gemmad_decode_batch_sequences", "", bounds, counts, count, sum);
  }
  header(o, "gemmad_resident_weight_bytes", "gauge",
         "Bytes of a model's weights resident in memory.");
  for (const auto& [model, bytes] : s.resident_weight_bytes)
    o << "gemmad_resident_weight_bytes" << labels({{"model", model}}) << ' ' << bytes << '\n';
  header(o, "gemmad_open_connections", "gauge", "Open client connections by front-end.");
  for (const auto& [fe, n] : s.open_connections)
    o << "gemmad_open_connections" << labels({{"front_end", fe}}) << ' ' << n << '\n';
  if (s.sessions_stored) {
    header(o, "gemmad_sessions_stored", "gauge", "Chat sessions in the session store.");
    o << "gemmad_sessions_stored " << *s.sessions_stored << '\n';
  }
  return o.str();
}

}  // namespace gemmad::http
