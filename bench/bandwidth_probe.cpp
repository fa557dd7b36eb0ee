// The read-bandwidth roofline of this machine (kernels/bandwidth_probe.h): GB/s of a streaming
// read of a buffer far beyond the last-level cache, with 1 and 2 threads (or --threads LIST),
// best of --passes alternated passes.
//
// Usage: bandwidth_probe [--mib N] [--passes N] [--threads 1,2]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/bandwidth_probe.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: bandwidth_probe [--mib N (>= 64)] [--passes N (>= 1)] [--threads 1,2]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  long mib = 1024;
  int passes = 5;
  std::vector<int> threads = {1, 2};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mib" && i + 1 < argc) {
      mib = std::atol(argv[++i]);
    } else if (a == "--passes" && i + 1 < argc) {
      passes = std::atoi(argv[++i]);
    } else if (a == "--threads" && i + 1 < argc) {
      threads.clear();
      for (const char* p = argv[++i]; *p != '\0';) {
        char* end = nullptr;
        threads.push_back(static_cast<int>(std::strtol(p, &end, 10)));
        if (end == p || threads.back() < 1) return usage();
        p = *end == ',' ? end + 1 : end;
      }
    } else {
      return usage();
    }
  }
  if (mib < 64 || passes < 1 || threads.empty()) return usage();
  const auto r =
      gemmad::kernels::probe_read_bandwidth(static_cast<size_t>(mib) << 20, threads, passes);
  std::printf("read bandwidth (%ld MiB buffer, best of %d passes):\n", mib, passes);
  for (const auto& b : r) {
    std::printf("  %d thread%s: %.2f GB/s (per core while running: %.2f GB/s)\n", b.threads,
                b.threads > 1 ? "s" : "", b.gb_s, b.per_core_gb_s);
  }
  return 0;
}
