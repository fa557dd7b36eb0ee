// Aggregate decode throughput of a running gemmad with N concurrent streams (one client per
// stream, two apps), the latency of a cancel, and (with --daemon) time from start to ready.
//
//   service_bench --socket S [--streams 1,2,4] [--tokens 64] [--rounds 2]
//
// Streams run greedy generations of exactly --tokens tokens each (max_tokens with ignore_eos,
// so a stop token cannot end a stream early).
// Alternates the stream counts (1 2 4 1 2 4 ...) so machine noise hits every setting alike.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "clients/cpp/client.h"

namespace {
using gemmad::client::Client;
using Clock = std::chrono::steady_clock;
namespace v1 = gemmad::v1;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

v1::GenerateRequest request(int tokens, int i) {
  v1::GenerateRequest r;
  r.set_prompt("Write a long story about the sea, part " + std::to_string(i));
  r.mutable_sampling()->set_temperature(0.0f);
  r.mutable_sampling()->set_max_tokens(static_cast<uint32_t>(tokens));
  r.mutable_sampling()->set_ignore_eos(true);
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

// Runs n concurrent streams; returns aggregate generated tokens per second of wall time.
double run_streams(const std::string& socket, int n, int tokens) {
  std::vector<std::thread> threads;
  std::vector<uint64_t> generated(static_cast<size_t>(n), 0);
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      auto c = Client::connect(socket);
      if (!c.ok() || !c->hello(i % 2 ? "bench-b" : "bench-a").ok()) return;
      auto done = c->generate(request(tokens, i), [](const v1::Token&) {});
      if (done.ok()) generated[static_cast<size_t>(i)] = done->usage().completion_tokens();
    });
  }
  for (auto& t : threads)
    t.join();
  const double secs = seconds_since(t0);
  uint64_t total = 0;
  for (uint64_t g : generated)
    total += g;
  return static_cast<double>(total) / secs;
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

}  // namespace

int main(int argc, char** argv) {
  std::string socket;
  std::string streams = "1,2,4";
  int tokens = 64, rounds = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--socket") socket = argv[i + 1];
    if (k == "--streams") streams = argv[i + 1];
    if (k == "--tokens") tokens = std::atoi(argv[i + 1]);
    if (k == "--rounds") rounds = std::atoi(argv[i + 1]);
  }
  if (socket.empty()) {
    std::fprintf(stderr,
                 "usage: service_bench --socket S [--streams 1,2,4] [--tokens N] [--rounds R]\n");
    return 2;
  }
  std::vector<int> counts;
  std::stringstream ss(streams);
  for (std::string part; std::getline(ss, part, ',');)
    counts.push_back(std::atoi(part.c_str()));
  std::vector<std::vector<double>> results(counts.size());
  std::vector<double> cpu_per_token(counts.size(), 0);
  run_streams(socket, 1, 8);  // warm the page cache
  for (int r = 0; r < rounds; ++r) {
    for (size_t k = 0; k < counts.size(); ++k) {
      const auto before = cpu_and_tokens(socket);
      results[k].push_back(run_streams(socket, counts[k], tokens));
      const auto after = cpu_and_tokens(socket);
      if (after.second > before.second) {
        cpu_per_token[k] =
            (after.first - before.first) / static_cast<double>(after.second - before.second);
      }
    }
  }
  std::printf(
      "streams  aggregate decode tok/s (per round)   best   ratio vs 1 stream   "
      "CPU-s/token (last round, whole daemon, prefill included)\n");
  double base = 0;
  for (size_t k = 0; k < counts.size(); ++k) {
    double best = 0;
    std::printf("%7d  ", counts[k]);
    for (double v : results[k]) {
      std::printf("%8.2f ", v);
      best = std::max(best, v);
    }
    if (k == 0) base = best;
    std::printf("  %8.2f   %.2fx   %.3f\n", best, base > 0 ? best / base : 0.0, cpu_per_token[k]);
  }
  std::printf("cancel latency: %.1f ms\n", cancel_latency_ms(socket));
  return 0;
}
