// /proc and mincore readers for the Status reply.
#include "daemon/process_stats.h"

#include <sys/mman.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

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

}  // namespace

uint64_t resident_set_bytes() {
  return status_field_kib("VmRSS");
}
uint64_t peak_resident_set_bytes() {
  return status_field_kib("VmHWM");
}

uint64_t resident_bytes_of(const void* data, uint64_t size) {
  if (data == nullptr || size == 0) return 0;
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(data) & ~(page - 1);
  const auto end = reinterpret_cast<uintptr_t>(data) + size;
  const uint64_t n_pages = (end - begin + page - 1) / page;
  uint64_t resident = 0;
  // In slices, so a 5 GB mapping needs no 1.3 MB vector.
  constexpr uint64_t kSlice = 1u << 16;
  std::vector<unsigned char> vec(kSlice);
  for (uint64_t first = 0; first < n_pages; first += kSlice) {
    const uint64_t n = std::min(kSlice, n_pages - first);
    if (mincore(reinterpret_cast<void*>(begin + first * page), n * page, vec.data()) != 0) break;
    for (uint64_t i = 0; i < n; ++i)
      resident += vec[i] & 1u;
  }
  return resident * page;
}

}  // namespace gemmad::daemon
