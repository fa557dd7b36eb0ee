// Read-bandwidth probe: the roofline a memory-bound decode is measured against
// (docs/PERFORMANCE.md).
//
// A streaming read of a buffer much larger than the last-level cache, split over N threads,
// best of several passes (the machine is shared, so the best pass is the closest to what the
// memory system can give). Used by bench/bandwidth_probe, bench/matmul_bench and `gemmactl
// bench`, so a decode's GB/s and the probe's come from the same process and the same moment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace gemmad::kernels {

struct ReadBandwidth {
  int threads = 0;
  double gb_s = 0;           // bytes / wall second, best pass
  double per_core_gb_s = 0;  // bytes / CPU-second of the slowest thread: its rate while it ran
};

// A buffer filled once (so its pages are real, not the shared zero page), read many times.
class BandwidthProbe {
 public:
  explicit BandwidthProbe(size_t bytes);
  size_t bytes() const { return words_ * 8; }
  // Best of `passes` reads of the whole buffer by `threads` threads (each a contiguous slice).
  ReadBandwidth measure(int threads, int passes) const;

 private:
  size_t words_;
  std::unique_ptr<uint64_t[]> buf_;
};

// Default buffer: 1 GiB, far beyond any last-level cache this code meets.
inline constexpr size_t kProbeBytes = size_t{1} << 30;

// One measurement per thread count, alternating the counts pass by pass (A B A B) so a burst of
// background load hits them alike.
std::vector<ReadBandwidth> probe_read_bandwidth(size_t bytes, const std::vector<int>& threads,
                                                int passes);

}  // namespace gemmad::kernels
