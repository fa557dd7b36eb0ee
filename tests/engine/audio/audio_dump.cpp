// Test tool for tests/reference/check_audio.py: runs the engine's audio front end or tower
// on raw little-endian f32 PCM and writes raw f32 output.
//   audio_dump features PCM.f32 OUT.f32            -> [frames][128]
//   audio_dump synth OUT.gguf PRESET D TYPE SEED   -> an audio-only mmproj (f32|f16|bf16|q8_0)
//   audio_dump encode MMPROJ D PCM.f32 OUT.f32     -> [tokens][D]; GEMMAD_TAP=DIR also dumps
//                                                     the tower's intermediates there
//   audio_dump encoder TEXT.gguf MMPROJ PCM OUT    -> [tokens][d]: through MmprojFile and
//                                                     AudioEncoder, paired with a text model
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "audio/audio_encoder.h"
#include "audio/audio_tower.h"
#include "audio/audio_weights.h"
#include "audio/mel_features.h"
#include "gguf/gguf_file.h"
#include "kernels/thread_pool.h"
#include "mmproj/mmproj_file.h"
#include "models/gemma4_config.h"
#include "tests/engine/audio/audio_test_util.h"

namespace {

std::vector<float> read_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / sizeof(float));
  std::copy(bytes.begin(), bytes.begin() + v.size() * sizeof(float),
            reinterpret_cast<char*>(v.data()));
  return v;
}

bool write_f32(const std::string& path, const std::vector<float>& v) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  return static_cast<bool>(out);
}

int fail(const std::string& msg) {
  std::cerr << "audio_dump: " << msg << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gemmad;
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 3 && a[0] == "features") {
    auto f = audio::log_mel_features(read_f32(a[1]));
    if (!f.ok()) return fail(f.error().message);
    return write_f32(a[2], f->data) ? 0 : fail("cannot write " + a[2]);
  }
  if (a.size() == 6 && a[0] == "synth") {
    quant::GgmlType type = quant::GgmlType::kF32;
    if (a[4] == "f16") type = quant::GgmlType::kF16;
    if (a[4] == "bf16") type = quant::GgmlType::kBF16;
    if (a[4] == "q8_0") type = quant::GgmlType::kQ8_0;
    if (!audio::synth_audio_shape(a[2])) return fail("unknown preset " + a[2]);
    Status s =
        audio::testing::write_audio_mmproj(a[1], a[2], std::stoul(a[3]), type, std::stoull(a[5]));
    return s.ok() ? 0 : fail(s.error().message);
  }
  if (a.size() == 5 && a[0] == "encode") {
    auto file = gguf::GgufFile::open(a[1]);
    if (!file.ok()) return fail(file.error().message);
    auto w = audio::AudioWeights::bind(**file, std::stoul(a[2]));
    if (!w.ok()) return fail(w.error().message);
    kernels::ThreadPool pool(0);
    // GEMMAD_TAP=DIR dumps the named intermediates (audio_tower.h) for check_audio.py.
    runtime::TapFn tap;
    if (const char* dir = std::getenv("GEMMAD_TAP")) {
      auto t = runtime::make_dir_tap(dir);
      if (!t.ok()) return fail(t.error().message);
      tap = std::move(*t);
    }
    auto rows = audio::encode_pcm(*w, read_f32(a[3]), pool, &tap);
    if (!rows.ok()) return fail(rows.error().message);
    return write_f32(a[4], rows->data) ? 0 : fail("cannot write " + a[4]);
  }
  if (a.size() == 5 && a[0] == "encoder") {
    auto text = gguf::GgufFile::open(a[1]);
    if (!text.ok()) return fail(text.error().message);
    auto cfg = engine::Gemma4Config::from_gguf(**text);
    if (!cfg.ok()) return fail(cfg.error().message);
    auto mm = mmproj::MmprojFile::open(a[2]);
    if (!mm.ok()) return fail(mm.error().message);
    auto enc = audio::AudioEncoder::bind(**mm, *cfg);
    if (!enc.ok()) return fail(enc.error().message);
    kernels::ThreadPool pool(0);
    auto e = (*enc)->encode(read_f32(a[3]), pool);
    if (!e.ok()) return fail(e.error().message);
    if (e->dim != cfg->n_embd || e->data.size() != size_t{e->n_tokens} * e->dim) {
      return fail("embeddings of the wrong shape");
    }
    return write_f32(a[4], e->data) ? 0 : fail("cannot write " + a[4]);
  }
  return fail(
      "usage: features PCM OUT | synth OUT PRESET D TYPE SEED | encode MMPROJ D PCM OUT | "
      "encoder TEXT MMPROJ PCM OUT");
}
