// libFuzzer target for the mmproj reader (docs/ENCODERS.md §5): arbitrary bytes → GgufFile →
// MmprojFile validation → bind the encoders against a text model of the file's projection
// width → encode a small image and read every byte range. Whatever validation accepts must be
// safe to bind and run. Seed: tests/fuzz/seeds/mmproj (tests/engine/mmproj/
// make_mmproj_fuzz_seed.cpp writes it); an audio tower is bound and run on a short tone.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <cmath>
#include <vector>

#include "audio/audio_encoder.h"
#include "gguf/gguf_file.h"
#include "kernels/thread_pool.h"
#include "mmproj/mmproj_file.h"
#include "models/gemma4_config.h"
#include "vision/vision_encoder.h"

using namespace gemmad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto g = gguf::GgufFile::parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
  if (!g.ok()) return 0;
  auto m = mmproj::MmprojFile::from_gguf(std::move(g).value());
  if (!m.ok()) return 0;
  const mmproj::MmprojFile& f = **m;
  const std::string_view all[] = {"v.", "a.", "mm."};
  size_t sink = 0;
  for (const mmproj::ByteRange& r : f.tensor_ranges(all))
    sink += r.size;
  if (f.has_vision()) {
    engine::Gemma4Config text;
    text.n_embd = f.vision_hparams().proj_dim;
    auto enc = vision::VisionEncoder::bind(f, text);
    if (enc.ok()) {
      static kernels::ThreadPool pool(1);
      vision::Image img{48, 32, std::vector<uint8_t>(48 * 32 * 3)};
      for (size_t i = 0; i < img.rgb.size(); ++i)
        img.rgb[i] = static_cast<uint8_t>(i * 31);
      auto e = (*enc)->encode(img, vision::kMinTokenBudget, pool);
      if (e.ok()) sink += e->data.size();
      sink += (*enc)->weight_bytes();
    }
  }
  const gguf::TensorInfo* proj = f.gguf().find_tensor("mm.a.input_projection.weight");
  if (f.has_audio() && proj != nullptr && proj->n_dims == 2) {
    engine::Gemma4Config text;
    text.n_embd = static_cast<uint32_t>(proj->ne[1]);
    auto enc = audio::AudioEncoder::bind(f, text);
    if (enc.ok()) {
      static kernels::ThreadPool pool(1);
      std::vector<float> pcm(800);  // 50 ms: a few frames
      for (size_t i = 0; i < pcm.size(); ++i)
        pcm[i] = 0.5f * std::sin(0.07f * static_cast<float>(i));
      auto e = (*enc)->encode(pcm, pool);
      if (e.ok()) sink += e->data.size();
    }
  }
  volatile size_t keep = sink;
  (void)keep;
  return 0;
}
