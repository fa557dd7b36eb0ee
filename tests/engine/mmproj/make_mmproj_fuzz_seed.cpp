// Writes the mmproj fuzzer's seed (committed under tests/fuzz/seeds/mmproj; run by hand): a
// valid vision mmproj small enough for the fuzzer's 64 KB inputs (width 16, one block, 32
// position rows), through the real synthetic writer.
//   mmproj_make_fuzz_seed DIR
#include <cstdio>
#include <string>

#include "synth/synth_mmproj.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  gemmad::mmproj::VisionHparams h;
  h.n_embd = 16;
  h.n_ff = 32;
  h.n_layer = 1;
  h.n_head = 2;
  h.n_pos = 32;
  h.proj_dim = 32;
  auto r = gemmad::synth::write_vision_mmproj(h, gemmad::synth::MmprojQuant::kF16, 1, "fuzz-seed",
                                              std::string(argv[1]) + "/vision.gguf");
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  std::printf("%llu bytes\n", static_cast<unsigned long long>(r->file_bytes));
  return 0;
}
