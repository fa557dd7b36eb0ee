// Time from starting `gemmad` to READY=1, the way systemd sees it (docs/PERFORMANCE.md
// "Start to READY"): each run a fresh state directory, a datagram socket of ours as
// NOTIFY_SOCKET, fork + exec of the real daemon; the clock stops when READY=1 arrives, the
// socket must then accept a connection (READY promises it), and SIGTERM stops the daemon
// before the next run.
//
//   start_bench --daemon build/daemon/gemmad --model F.gguf [--runs 10] [-- more gemmad args]
//
// Prints each run (and the daemon's own "start phases" log line), then the median, minimum
// and maximum. One warm-up run first, not counted (it brings the file into the page cache).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon_process.h"

namespace {

// The daemon's "start phases (ms): ..." line, without the log prefix.
std::string phases_line(const std::string& log) {
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find("start phases");
    if (at != std::string::npos) return line.substr(at);
  }
  return "no start phases line";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string exe, model;
  int runs = 10;
  std::vector<std::string> extra;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--") {
      extra.assign(argv + i + 1, argv + argc);
      break;
    }
    if (i + 1 >= argc) break;
    if (k == "--daemon") exe = argv[++i];
    if (k == "--model") model = argv[++i];
    if (k == "--runs") runs = std::atoi(argv[++i]);
  }
  if (exe.empty() || model.empty() || runs < 1) {
    std::fprintf(stderr,
                 "usage: start_bench --daemon PATH --model FILE [--runs N] [-- gemmad args]\n");
    return 2;
  }
  std::vector<double> ms;
  for (int r = 0; r <= runs; ++r) {
    char tmpl[] = "/tmp/start_bench.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return 1;
    auto d = gemmad::bench::start_daemon(exe, model, tmpl, extra);
    if (!d) return 1;
    gemmad::bench::stop_daemon(*d);
    const std::string phases = phases_line(d->log);
    std::error_code ec;
    std::filesystem::remove_all(tmpl, ec);
    if (r == 0) continue;  // warm-up
    ms.push_back(d->ready_ms);
    std::printf("run %2d  %7.1f ms to READY=1   (%s)\n", r, d->ready_ms, phases.c_str());
  }
  std::printf("start to READY=1 over %d runs: median %.1f ms, min %.1f, max %.1f\n", runs,
              median(ms), *std::min_element(ms.begin(), ms.end()),
              *std::max_element(ms.begin(), ms.end()));
  return 0;
}
