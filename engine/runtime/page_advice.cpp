// madvise() over the whole pages inside a byte range (page_advice.h); hints only, so their
// errors are ignored.
#include "runtime/page_advice.h"

#include <sys/mman.h>
#include <unistd.h>

namespace gemmad::runtime {
namespace {

void advise(const void* data, uint64_t n, int advice) {
  if (data == nullptr || n == 0) return;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(data);
  const uintptr_t first = (begin + page - 1) / page * page;  // whole pages inside the range
  const uintptr_t last = (begin + n) / page * page;
  if (last > first) (void)madvise(reinterpret_cast<void*>(first), last - first, advice);
}

}  // namespace

void advise_random_pages(const void* data, uint64_t n) {
  advise(data, n, MADV_RANDOM);
}

void release_pages(const void* data, uint64_t n) {
  advise(data, n, MADV_DONTNEED);
}

}  // namespace gemmad::runtime
