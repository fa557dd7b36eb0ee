// /proc readers for the Status reply.
#include "daemon/process_stats.h"

#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace gemmad::daemon {
namespace {

uint64_t status_field_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stoull(line.substr(prefix.size())) * 1024;
  }
  return 0;
}

// A mapping header of /proc/self/smaps: "start-end perms offset dev inode [path]".
bool parse_range(const std::string& line, uintptr_t& start, uintptr_t& end) {
  char* dash = nullptr;
  start = std::strtoull(line.c_str(), &dash, 16);
  if (dash == line.c_str() || *dash != '-') return false;
  char* space = nullptr;
  end = std::strtoull(dash + 1, &space, 16);
  return space != dash + 1 && *space == ' ';
}

}  // namespace

uint64_t resident_set_bytes() {
  return status_field_kib("VmRSS");
}
uint64_t peak_resident_set_bytes() {
  return status_field_kib("VmHWM");
}

uint64_t resident_bytes_of(const void* data, uint64_t size) {
  if (data == nullptr || size == 0) return 0;
  const auto lo = reinterpret_cast<uintptr_t>(data);
  const auto hi = lo + size;
  // Rss of a mapping counts the pages in this process's page tables: what it touched (plus
  // the kernel's fault-around), unlike mincore, which reports the shared page cache and so
  // counts a model file another process (or the writer) just read.
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool inside = false;
  uint64_t kib = 0;
  while (std::getline(in, line)) {
    uintptr_t start = 0, end = 0;
    if (parse_range(line, start, end)) {
      inside = start < hi && lo < end;
    } else if (inside && line.rfind("Rss:", 0) == 0) {
      kib += std::strtoull(line.c_str() + 4, nullptr, 10);
    }
  }
  return kib * 1024;
}

double process_cpu_seconds() {
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

}  // namespace gemmad::daemon
