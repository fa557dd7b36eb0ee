// The service as its users feel it (docs/PERFORMANCE.md "Service"): aggregate decode tok/s of
// N concurrent streams (one client per stream, two apps), time to first token, the latency of
// a cancel, and (with --daemon) the first token of a long conversation's next turn after a
// restart against the same with its KV in memory.
//
//   service_bench --socket S [--streams 1,2,4,8] [--tokens 64] [--rounds 2]
//   service_bench --daemon build/daemon/gemmad --model F.gguf [--state-dir D]
//                 [--resume-tokens 2000] [--resume-rounds 3] [stream options]
//
// Streams run greedy generations of exactly --tokens tokens each (max_tokens with ignore_eos,
// so a stop token cannot end a stream early). The stream counts alternate (1 2 4 8 1 2 4 8 ...)
// so machine noise hits every setting alike. With --daemon, service_bench starts its own
// gemmad (state in --state-dir, default a fresh directory under /tmp), measures the streams,
// then the resume: one conversation of --resume-tokens prompt tokens, then alternately a short
// turn with its KV in memory and a short turn right after SIGTERM and a new gemmad (which
// restores the KV it saved at shutdown).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "clients/cpp/client.h"
#include "daemon_process.h"

namespace {
using gemmad::client::Client;
using Clock = std::chrono::steady_clock;
namespace v1 = gemmad::v1;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

v1::SamplingParams greedy(int tokens) {
  v1::SamplingParams s;
  s.set_temperature(0.0f);
  s.set_max_tokens(static_cast<uint32_t>(tokens));
  s.set_ignore_eos(true);
  return s;
}

v1::GenerateRequest request(int tokens, int i) {
  v1::GenerateRequest r;
  r.set_prompt("Write a long story about the sea, part " + std::to_string(i));
  *r.mutable_sampling() = greedy(tokens);
  return r;
}

// The daemon's CPU-seconds and generated tokens so far (Status), for CPU-s per token.
std::pair<double, uint64_t> cpu_and_tokens(const std::string& socket) {
  auto c = Client::connect(socket);
  if (!c.ok() || !c->hello("bench-status").ok()) return {0, 0};
  auto s = c->status();
  if (!s.ok()) return {0, 0};
  return {s->batch().cpu_seconds(), s->batch().total_tokens()};
}

struct StreamsResult {
  double tok_s = 0;          // aggregate generated tokens per second of wall time
  std::vector<double> ttft;  // per stream: request sent to its first token, ms
};

StreamsResult run_streams(const std::string& socket, int n, int tokens) {
  std::vector<std::thread> threads;
  std::vector<uint64_t> generated(static_cast<size_t>(n), 0);
  std::vector<double> ttft(static_cast<size_t>(n), -1);
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      auto c = Client::connect(socket);
      if (!c.ok() || !c->hello(i % 2 ? "bench-b" : "bench-a").ok()) return;
      const auto sent = Clock::now();
      double& first = ttft[static_cast<size_t>(i)];
      auto done = c->generate(request(tokens, i), [&](const v1::Token&) {
        if (first < 0) first = seconds_since(sent) * 1000.0;
      });
      if (done.ok()) generated[static_cast<size_t>(i)] = done->usage().completion_tokens();
    });
  }
  for (auto& t : threads)
    t.join();
  const double secs = seconds_since(t0);
  StreamsResult r;
  uint64_t total = 0;
  for (uint64_t g : generated)
    total += g;
  r.tok_s = static_cast<double>(total) / secs;
  for (double t : ttft)
    if (t >= 0) r.ttft.push_back(t);
  return r;
}

double cancel_latency_ms(const std::string& socket) {
  auto c = Client::connect(socket);
  if (!c.ok() || !c->hello("bench-cancel").ok()) return -1;
  v1::ClientMessage m;
  *m.mutable_generate() = request(100000, 0);
  m.mutable_generate()->mutable_sampling()->set_max_tokens(2000);
  auto id = c->send(m);
  if (!id.ok()) return -1;
  for (int got = 0; got < 3;) {
    auto msg = c->next();
    if (!msg.ok()) return -1;
    got += msg->has_token();
  }
  const auto t0 = Clock::now();
  if (!c->cancel(*id).ok()) return -1;
  for (;;) {
    auto msg = c->next();
    if (!msg.ok()) return -1;
    if (msg->has_done() && msg->request_id() == *id) break;
  }
  return seconds_since(t0) * 1000.0;
}

void measure_streams(const std::string& socket, const std::vector<int>& counts, int tokens,
                     int rounds) {
  std::vector<std::vector<double>> tok_s(counts.size()), ttft(counts.size());
  std::vector<double> cpu_per_token(counts.size(), 0);
  run_streams(socket, 1, 8);  // warm the page cache
  for (int r = 0; r < rounds; ++r) {
    for (size_t k = 0; k < counts.size(); ++k) {
      const auto before = cpu_and_tokens(socket);
      StreamsResult res = run_streams(socket, counts[k], tokens);
      tok_s[k].push_back(res.tok_s);
      ttft[k].insert(ttft[k].end(), res.ttft.begin(), res.ttft.end());
      const auto after = cpu_and_tokens(socket);
      if (after.second > before.second) {
        cpu_per_token[k] =
            (after.first - before.first) / static_cast<double>(after.second - before.second);
      }
    }
  }
  std::printf(
      "streams  aggregate decode tok/s (per round)   best   ratio vs 1 stream   "
      "TTFT ms (median, max)   CPU-s/token (last round, whole daemon, prefill included)\n");
  double base = 0;
  for (size_t k = 0; k < counts.size(); ++k) {
    double best = 0;
    std::printf("%7d  ", counts[k]);
    for (double v : tok_s[k]) {
      std::printf("%8.2f ", v);
      best = std::max(best, v);
    }
    if (k == 0) base = best;
    const double worst = ttft[k].empty() ? 0 : *std::max_element(ttft[k].begin(), ttft[k].end());
    std::printf("  %8.2f   %.2fx   %7.0f %7.0f   %.3f\n", best, base > 0 ? best / base : 0.0,
                median(ttft[k]), worst, cpu_per_token[k]);
  }
  std::printf("cancel latency: %.1f ms\n", cancel_latency_ms(socket));
}

// One turn of the resume conversation, as the client sees it.
struct Turn {
  double ttft_ms = -1;  // ChatRequest sent to the first token
  v1::Done done;
};

std::optional<Turn> chat_turn(const std::string& socket, const std::string& session,
                              const std::string& text) {
  auto c = Client::connect(socket);
  if (!c.ok() || !c->hello("bench-resume").ok()) return std::nullopt;
  v1::ChatRequest req;
  if (session.empty()) req.set_new_session(true);
  req.set_session_id(session);
  req.set_user_text(text);
  *req.mutable_sampling() = greedy(4);
  Turn t;
  const auto sent = Clock::now();
  auto done = c->chat(req, [&](const v1::Token&) {
    if (t.ttft_ms < 0) t.ttft_ms = seconds_since(sent) * 1000.0;
  });
  if (!done.ok()) {
    std::fprintf(stderr, "resume: chat failed: %s\n", done.error().message.c_str());
    return std::nullopt;
  }
  t.done = *done;
  return t;
}

// A user message of about `tokens` tokens (counted by the daemon's own tokenizer).
std::string long_text(const std::string& socket, int tokens) {
  const std::string unit =
      "The harbour master counted the ships that came in with the evening tide, one by one. ";
  auto c = Client::connect(socket);
  size_t per_unit = 18;
  if (c.ok() && c->hello("bench-resume").ok()) {
    if (auto t = c->tokenize(unit, false, false); t.ok() && t->ids_size() > 0) {
      per_unit = static_cast<size_t>(t->ids_size());
    }
  }
  std::string text;
  for (size_t n = 0; n + per_unit <= static_cast<size_t>(tokens); n += per_unit)
    text += unit;
  return text;
}

void print_turn(const char* what, const Turn& t) {
  std::printf("%-22s ttft %9.1f ms   queue %7.1f ms   prefill %9.1f ms   cached %5u / %5u\n", what,
              t.ttft_ms, t.done.timings().queue_ms(), t.done.timings().prefill_ms(),
              t.done.usage().cached_tokens(), t.done.usage().prompt_tokens());
}

int measure_resume(const std::string& exe, const std::string& model, const std::string& dir,
                   const std::vector<std::string>& extra, int tokens, int rounds,
                   std::optional<gemmad::bench::DaemonProcess>& d) {
  const std::string text = long_text(d->socket, tokens);
  auto first = chat_turn(d->socket, "", text);
  if (!first) return 1;
  const std::string session = first->done.session_id();
  print_turn("turn 1 (fresh)", *first);
  std::vector<double> in_memory, restored, ready;
  for (int r = 0; r < rounds; ++r) {
    auto warm = chat_turn(d->socket, session, "Go on, part " + std::to_string(2 * r) + ".");
    if (!warm) return 1;
    print_turn("KV in memory", *warm);
    in_memory.push_back(warm->ttft_ms);
    gemmad::bench::stop_daemon(*d);
    d = gemmad::bench::start_daemon(exe, model, dir, extra);
    if (!d) return 1;
    ready.push_back(d->ready_ms);
    auto cold = chat_turn(d->socket, session, "Go on, part " + std::to_string(2 * r + 1) + ".");
    if (!cold) return 1;
    print_turn("after restart", *cold);
    restored.push_back(cold->ttft_ms);
  }
  const double m_in = median(in_memory), m_re = median(restored);
  std::printf(
      "resume (%d rounds): first token of the next turn, median %.1f ms in memory, %.1f ms "
      "after a restart: %.2fx (target <= 1.2x); restart to READY=1 median %.1f ms\n",
      rounds, m_in, m_re, m_in > 0 ? m_re / m_in : 0.0, median(ready));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket, exe, model, state_dir;
  std::string streams = "1,2,4,8";
  int tokens = 64, rounds = 2, resume_tokens = 2000, resume_rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--socket") socket = argv[i + 1];
    if (k == "--daemon") exe = argv[i + 1];
    if (k == "--model") model = argv[i + 1];
    if (k == "--state-dir") state_dir = argv[i + 1];
    if (k == "--streams") streams = argv[i + 1];
    if (k == "--tokens") tokens = std::atoi(argv[i + 1]);
    if (k == "--rounds") rounds = std::atoi(argv[i + 1]);
    if (k == "--resume-tokens") resume_tokens = std::atoi(argv[i + 1]);
    if (k == "--resume-rounds") resume_rounds = std::atoi(argv[i + 1]);
  }
  if (socket.empty() == exe.empty() || (!exe.empty() && model.empty())) {
    std::fprintf(stderr,
                 "usage: service_bench --socket S | --daemon GEMMAD --model F [--state-dir D]\n"
                 "         [--streams 1,2,4,8] [--tokens N] [--rounds R]\n"
                 "         [--resume-tokens 2000] [--resume-rounds 3] (with --daemon)\n");
    return 2;
  }
  std::vector<int> counts;
  std::stringstream ss(streams);
  for (std::string part; std::getline(ss, part, ',');)
    if (std::atoi(part.c_str()) > 0) counts.push_back(std::atoi(part.c_str()));
  if (exe.empty()) {
    measure_streams(socket, counts, tokens, rounds);
    return 0;
  }
  if (state_dir.empty()) {
    char tmpl[] = "/tmp/service_bench.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return 1;
    state_dir = tmpl;
  }
  const std::vector<std::string> extra;
  std::optional<gemmad::bench::DaemonProcess> d =
      gemmad::bench::start_daemon(exe, model, state_dir, extra);
  if (!d) return 1;
  std::printf("state %s, start to READY=1 %.1f ms\n", state_dir.c_str(), d->ready_ms);
  if (!counts.empty()) measure_streams(d->socket, counts, tokens, rounds);
  int rc = resume_rounds > 0
               ? measure_resume(exe, model, state_dir, extra, resume_tokens, resume_rounds, d)
               : 0;
  if (d) gemmad::bench::stop_daemon(*d);
  return rc;
}
