// Time to encode one image with the vision encoder (docs/PERFORMANCE.md "Vision encoder"):
// the first encode (weights faulted in from the page cache) and warm repeats, for a given
// mmproj (e.g. the synthetic E2B one: `gemmactl model synth --preset e2b --mmproj F`).
//   vision_bench MMPROJ [--budget 280] [--width 640] [--height 480] [--threads N] [--repeat 2]
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "mmproj/mmproj_file.h"
#include "models/gemma4_config.h"
#include "vision/image_resize.h"
#include "vision/vision_encoder.h"

using namespace gemmad;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s MMPROJ [--budget T] [--width W] [--height H] [--threads N] "
                 "[--repeat R]\n",
                 argv[0]);
    return 2;
  }
  uint32_t budget = vision::kDefaultTokenBudget, width = 640, height = 480;
  int threads = static_cast<int>(std::thread::hardware_concurrency()), repeat = 2;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const unsigned long v = std::stoul(argv[i + 1]);
    if (k == "--budget")
      budget = static_cast<uint32_t>(v);
    else if (k == "--width")
      width = static_cast<uint32_t>(v);
    else if (k == "--height")
      height = static_cast<uint32_t>(v);
    else if (k == "--threads")
      threads = static_cast<int>(v);
    else if (k == "--repeat")
      repeat = static_cast<int>(v);
  }
  auto m = mmproj::MmprojFile::open(argv[1]);
  if (!m.ok()) {
    std::fprintf(stderr, "%s\n", m.error().message.c_str());
    return 1;
  }
  engine::Gemma4Config text;
  text.n_embd = (*m)->vision_hparams().proj_dim;
  auto enc = vision::VisionEncoder::bind(**m, text);
  if (!enc.ok()) {
    std::fprintf(stderr, "%s\n", enc.error().message.c_str());
    return 1;
  }
  vision::Image img{width, height, std::vector<uint8_t>(size_t{width} * height * 3)};
  for (size_t i = 0; i < img.rgb.size(); ++i)
    img.rgb[i] = static_cast<uint8_t>((i * 37 + i / 1913) % 256);
  kernels::ThreadPool pool(threads);
  const auto ts = vision::target_size(width, height, budget);
  std::printf(
      "mmproj %s: %.3f GB of vision weights; image %ux%u -> %ux%u, %u tokens, %u "
      "patches; %d threads, kernels %s\n",
      argv[1], (*enc)->weight_bytes() / 1e9, width, height, ts->width, ts->height, ts->n_tokens(),
      ts->n_tokens() * 9, threads, kernels::kernel_set_name());
  for (int r = 0; r <= repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    auto e = (*enc)->encode(img, budget, pool);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!e.ok()) {
      std::fprintf(stderr, "%s\n", e.error().message.c_str());
      return 1;
    }
    std::printf("%s encode: %.2f s (%u tokens x %u)\n", r == 0 ? "first" : "warm ", s, e->n_tokens,
                e->dim);
  }
  return 0;
}
