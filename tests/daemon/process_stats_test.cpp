// process_stats: the resident-weights figure counts the pages this process touched, not the
// page cache.
#include "daemon/process_stats.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "tests/common/temp_dir.h"

namespace gemmad::daemon {
namespace {

constexpr uint64_t kMiB = 1u << 20;

TEST(ProcessStats, ResidentWeightsAreThePagesThisProcessTouched) {
  gemmad::testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.file("weights.bin");
  {
    // Just written: all 16 MiB sit in the page cache (mincore would report every page).
    std::ofstream out(path, std::ios::binary);
    const std::vector<char> chunk(kMiB, 'w');
    for (int i = 0; i < 16; ++i)
      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  void* map = ::mmap(nullptr, 16 * kMiB, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  ASSERT_NE(map, MAP_FAILED);
  ::madvise(map, 16 * kMiB, MADV_RANDOM);  // no read-ahead mapping of untouched pages
  EXPECT_LT(resident_bytes_of(map, 16 * kMiB), 1 * kMiB);
  // Touch the first 4 MiB.
  const auto* bytes = static_cast<const volatile uint8_t*>(map);
  uint64_t sum = 0;
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  for (uint64_t off = 0; off < 4 * kMiB; off += page)
    sum += bytes[off];
  EXPECT_EQ(sum, 4 * kMiB / page * 'w');
  const uint64_t resident = resident_bytes_of(map, 16 * kMiB);
  EXPECT_GE(resident, 4 * kMiB);
  EXPECT_LT(resident, 6 * kMiB);
  // Memory outside the mapping is not counted.
  EXPECT_EQ(resident_bytes_of(nullptr, 0), 0u);
  ::munmap(map, 16 * kMiB);
}

TEST(ProcessStats, ResidentSetIsPositiveAndBelowItsPeak) {
  const uint64_t rss = resident_set_bytes();
  EXPECT_GT(rss, 0u);
  EXPECT_LE(rss, peak_resident_set_bytes());
}

}  // namespace
}  // namespace gemmad::daemon
