// release_pages / advise_random_pages (runtime/page_advice.h) on a real read-only file
// mapping: released pages leave the process's page table (/proc/self/pagemap "present" bit)
// and read back with the same bytes.
#include "runtime/page_advice.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace gemmad::runtime {
namespace {

// Whether the page holding p is mapped into this process (pagemap bit 63).
bool page_present(const void* p) {
  const int fd = ::open("/proc/self/pagemap", O_RDONLY);
  if (fd < 0) return true;  // cannot tell: the caller's expectation of "absent" then fails
  const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t entry = 0;
  const off_t off = static_cast<off_t>(reinterpret_cast<uintptr_t>(p) / page * 8);
  const bool ok = ::pread(fd, &entry, 8, off) == 8;
  ::close(fd);
  return !ok || (entry >> 63) != 0;
}

TEST(PageAdvice, ReleasedPagesLeaveTheMappingAndReadBackTheSame) {
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t n = 16 * page;
  const std::string path =
      (std::filesystem::temp_directory_path() / ("gemmad-page-advice-" + std::to_string(getpid())))
          .string();
  std::vector<uint8_t> bytes(n);
  for (size_t i = 0; i < n; ++i)
    bytes[i] = static_cast<uint8_t>(i * 7 + i / page);
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(bytes.data(), 1, n, f), n);
  std::fclose(f);
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  void* base = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  std::filesystem::remove(path);
  ASSERT_NE(base, MAP_FAILED);
  const auto* m = static_cast<const uint8_t*>(base);
  uint32_t sum = 0;
  for (size_t i = 0; i < n; i += page)
    sum += m[i];  // touch every page
  for (size_t i = 0; i < n; i += page)
    ASSERT_TRUE(page_present(m + i)) << "page " << i / page << " (sum " << sum << ")";

  // A range that starts mid-page and ends mid-page: only the whole pages inside it go.
  release_pages(m + page / 2, 10 * page);
  EXPECT_TRUE(page_present(m));              // holds the range's first, partial page
  EXPECT_FALSE(page_present(m + page));      // whole pages 1..9
  EXPECT_FALSE(page_present(m + 9 * page));  //
  EXPECT_TRUE(page_present(m + 10 * page));  // the last, partial page
  EXPECT_TRUE(page_present(m + 11 * page));  // outside

  advise_random_pages(m, n);
  for (size_t i = 0; i < n; ++i)
    ASSERT_EQ(m[i], bytes[i]) << i;  // faulted back in from the file
  ::munmap(base, n);
}

}  // namespace
}  // namespace gemmad::runtime
