// The engine side of the vision reference test (vision_ref_test.py): encodes a raw RGB8 image
// with the real MmprojFile/VisionEncoder and, given a text model, runs a prompt holding the
// image's soft tokens through the forward pass as embedding rows.
//
//   vision_probe --mmproj M --image IMG.rgb --width W --height H --budget T --embd-out E.f32
//                [--model TEXT --ids "1 2 3" --image-at K --placeholder P --logits-out Z.f32]
// E: float32 [n_tokens][d]. Z: float32 [rows][vocab], rows = ids[0..K) + soft tokens + ids[K..).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/thread_pool.h"
#include "mmproj/mmproj_file.h"
#include "models/gemma4.h"
#include "runtime/model.h"
#include "vision/vision_encoder.h"

namespace {

using namespace gemmad;

int fail(const std::string& msg) {
  std::fprintf(stderr, "vision_probe: %s\n", msg.c_str());
  return 1;
}

bool write_floats(const std::string& path, const float* data, size_t n) {
  std::ofstream o(path, std::ios::binary);
  o.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(float)));
  return static_cast<bool>(o);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mmproj, image, embd_out, model, ids_s, logits_out;
  uint32_t width = 0, height = 0, budget = vision::kDefaultTokenBudget;
  int32_t image_at = 0, placeholder = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--mmproj")
      mmproj = v;
    else if (k == "--image")
      image = v;
    else if (k == "--width")
      width = static_cast<uint32_t>(std::stoul(v));
    else if (k == "--height")
      height = static_cast<uint32_t>(std::stoul(v));
    else if (k == "--budget")
      budget = static_cast<uint32_t>(std::stoul(v));
    else if (k == "--embd-out")
      embd_out = v;
    else if (k == "--model")
      model = v;
    else if (k == "--ids")
      ids_s = v;
    else if (k == "--image-at")
      image_at = std::stoi(v);
    else if (k == "--placeholder")
      placeholder = std::stoi(v);
    else if (k == "--logits-out")
      logits_out = v;
    else
      return fail("unknown option " + k);
  }
  std::ifstream in(image, std::ios::binary);
  vision::Image img;
  img.width = width;
  img.height = height;
  img.rgb.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  auto mm = mmproj::MmprojFile::open(mmproj);
  if (!mm.ok()) return fail(mm.error().message);
  std::unique_ptr<runtime::Model> text;
  engine::Gemma4Config cfg;
  if (!model.empty()) {
    auto m = runtime::Model::load(model);
    if (!m.ok()) return fail(m.error().message);
    text = std::move(m).value();
    cfg = text->config();
  } else {
    cfg.n_embd = (*mm)->vision_hparams().proj_dim;
  }
  auto enc = vision::VisionEncoder::bind(**mm, cfg);
  if (!enc.ok()) return fail(enc.error().message);
  kernels::ThreadPool pool(2);
  auto e = (*enc)->encode(img, budget, pool);
  if (!e.ok()) return fail(e.error().message);
  if (!write_floats(embd_out, e->data.data(), e->data.size()))
    return fail("cannot write " + embd_out);
  std::printf("%u tokens x %u\n", e->n_tokens, e->dim);
  if (!text) return 0;
  std::vector<int32_t> ids;
  std::istringstream is(ids_s);
  for (int32_t t; is >> t;)
    ids.push_back(t);
  runtime::Batch b;
  int32_t pos = 0;
  for (size_t i = 0; i <= ids.size(); ++i) {
    if (static_cast<int32_t>(i) == image_at) {
      for (uint32_t r = 0; r < e->n_tokens; ++r)
        b.add_embedding(placeholder, e->data.data() + size_t{r} * e->dim, pos++, 0, true);
    }
    if (i < ids.size()) b.add(ids[i], pos++, 0, true);
  }
  runtime::KvCacheOptions ko;
  ko.n_ctx = static_cast<uint32_t>(b.size()) + 1;
  ko.type = runtime::KvType::kF32;
  auto kv = text->new_kv_pool(ko);
  engine::Gemma4Forward fwd(text->config(), text->weights(), pool);
  engine::ForwardOutput out;
  Status st = fwd.forward(b, kv, out);
  if (!st.ok()) return fail(st.error().message);
  if (!write_floats(logits_out, out.logits.data(), out.logits.size()))
    return fail("cannot write " + logits_out);
  return 0;
}
