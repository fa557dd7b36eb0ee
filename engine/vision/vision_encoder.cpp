// Vision encoder forward pass (docs/ENCODERS.md §2.3-§2.5): f32 activations; the big products
// (thousands of patch rows) through kernels/blocked_gemm.h so F16/BF16/Q8_0 towers work at
// sgemm speed.
#include "vision/vision_encoder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include "kernels/blocked_gemm.h"
#include "ops/attention.h"
#include "ops/gelu.h"
#include "ops/rms_norm.h"
#include "quant/ggml_type.h"
#include "vision/image_resize.h"

namespace gemmad::vision {
namespace {

constexpr uint32_t kPool = 3;                            // §2.5: 3×3 average pooling
constexpr double kRopeTheta = 100.0;                     // §2.4
constexpr int64_t kScoreChunkFloats = int64_t{8} << 20;  // 32 MB of attention scores at once
// Query rows per score block: 64 rows of 2520 scores (645 KB) stay in L2 from the Q·Kᵀ product
// through the softmax to the product with V.
constexpr int64_t kAttnRows = 64;
const std::string_view kPrefixes[] = {"v.", "mm.input_projection"};

const gguf::TensorInfo& tensor(const gguf::GgufFile& f, const std::string& name) {
  return *f.find_tensor(name);  // MmprojFile validated the whole table
}

const float* f32_data(const gguf::GgufFile& f, const std::string& name) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  return t == nullptr ? nullptr : reinterpret_cast<const float*>(t->data);
}

// A matrix view over a tensor whose first `n_in_dims` dimensions form one input row.
Result<kernels::WeightView> view(const gguf::TensorInfo& t, int n_in_dims) {
  uint64_t n_in = 1;
  for (int i = 0; i < n_in_dims; ++i)
    n_in *= t.ne[i];
  GEMMAD_ASSIGN_OR_RETURN(uint64_t rb, quant::row_bytes(t.type, n_in));
  const uint64_t n_out = t.n_elements / n_in;
  return kernels::WeightView{t.type, static_cast<int64_t>(n_in), static_cast<int64_t>(n_out),
                             t.data, rb};
}

// Clamp to [lo, hi] where a bound tensor exists (absent = ±infinity, §1).
void clamp_rows(float* x, int64_t n, const float* lo, const float* hi) {
  const float l = lo != nullptr ? *lo : -std::numeric_limits<float>::infinity();
  const float u = hi != nullptr ? *hi : std::numeric_limits<float>::infinity();
  if (lo == nullptr && hi == nullptr) return;
  for (int64_t i = 0; i < n; ++i)
    x[i] = std::min(std::max(x[i], l), u);
}

// Scratch of one encode() call.
struct Work {
  int64_t n = 0;  // patches
  std::vector<float> h, a, q, k, v, o, tmp, gate, up;
  std::vector<int32_t> px, py;
};

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] += x[i];
}

}  // namespace

Result<std::unique_ptr<VisionEncoder>> VisionEncoder::bind(const mmproj::MmprojFile& file,
                                                           const engine::Gemma4Config& text) {
  if (!file.has_vision()) {
    return make_error(ErrorCode::kBadModelFile, file.gguf().path() +
                                                    ": the mmproj has no vision encoder "
                                                    "(clip.has_vision_encoder is false)");
  }
  const mmproj::VisionHparams& h = file.vision_hparams();
  if (h.proj_dim != text.n_embd) {
    return make_error(ErrorCode::kBadModelFile,
                      file.gguf().path() + ": vision projection width " +
                          std::to_string(h.proj_dim) +
                          " (clip.vision.projection_dim, mm.input_projection.weight) does not "
                          "match the text model's width " +
                          std::to_string(text.n_embd) + " (gemma4.embedding_length)");
  }
  std::unique_ptr<VisionEncoder> e(new VisionEncoder());
  e->file_ = &file;
  e->h_ = h;
  const gguf::GgufFile& f = file.gguf();
  GEMMAD_ASSIGN_OR_RETURN(e->patch_, view(tensor(f, "v.patch_embd.weight"), 3));
  e->pos_ = f32_data(f, "v.position_embd.weight");
  GEMMAD_ASSIGN_OR_RETURN(e->proj_, view(tensor(f, "mm.input_projection.weight"), 1));
  for (uint32_t il = 0; il < h.n_layer; ++il) {
    const std::string b = "v.blk." + std::to_string(il) + ".";
    Block blk;
    blk.ln1 = f32_data(f, b + "ln1.weight");
    blk.q_norm = f32_data(f, b + "attn_q_norm.weight");
    blk.k_norm = f32_data(f, b + "attn_k_norm.weight");
    blk.attn_post_norm = f32_data(f, b + "attn_post_norm.weight");
    blk.ln2 = f32_data(f, b + "ln2.weight");
    blk.ffn_post_norm = f32_data(f, b + "ffn_post_norm.weight");
    Linear* lin[] = {&blk.q, &blk.k, &blk.v, &blk.out, &blk.gate, &blk.up, &blk.down};
    for (size_t i = 0; i < std::size(mmproj::kVisionLinears); ++i) {
      const std::string n = b + mmproj::kVisionLinears[i];
      GEMMAD_ASSIGN_OR_RETURN(lin[i]->w, view(tensor(f, n + ".weight"), 1));
      lin[i]->in_min = f32_data(f, n + ".input_min");
      lin[i]->in_max = f32_data(f, n + ".input_max");
      lin[i]->out_min = f32_data(f, n + ".output_min");
      lin[i]->out_max = f32_data(f, n + ".output_max");
    }
    e->blocks_.push_back(blk);
  }
  return e;
}

std::vector<mmproj::ByteRange> VisionEncoder::byte_ranges() const {
  return file_->tensor_ranges(kPrefixes);
}

uint64_t VisionEncoder::weight_bytes() const {
  uint64_t n = 0;
  for (const gguf::TensorInfo& t : file_->gguf().tensors()) {
    for (std::string_view p : kPrefixes) {
      if (std::string_view(t.name).substr(0, p.size()) == p) n += t.n_bytes;
    }
  }
  return n;
}

namespace {

// y = clamp(W · clamp(x, in), out) (§1 clipped linear); `tmp` holds the clamped input.
void clipped(const VisionEncoder::Linear& l, const float* x, int64_t n, float* y,
             std::vector<float>& tmp, kernels::ThreadPool& pool) {
  const float* in = x;
  if (l.in_min != nullptr || l.in_max != nullptr) {
    tmp.assign(x, x + n * l.w.n_in);
    clamp_rows(tmp.data(), n * l.w.n_in, l.in_min, l.in_max);
    in = tmp.data();
  }
  kernels::blocked_matmul(l.w, in, n, y, pool);
  clamp_rows(y, n * l.w.n_out, l.out_min, l.out_max);
}

// §2.4: per head, channels [0, hd/2) rotate by x, [hd/2, hd) by y; NEOX pairs (j, j + hd/4)
// inside each half at angle pos * theta^(-j / (hd/4)).
void rope_2d(float* x, const Work& w, int64_t n_head, int64_t hd, kernels::ThreadPool& pool) {
  const int64_t quarter = hd / 4;
  std::vector<double> inv_freq(quarter);
  for (int64_t j = 0; j < quarter; ++j)
    inv_freq[j] = std::pow(kRopeTheta, -static_cast<double>(j) / static_cast<double>(quarter));
  pool.parallel_for(w.n, 16, [&](int64_t b, int64_t e, int) {
    std::vector<float> cs(2 * quarter), sn(2 * quarter);
    for (int64_t r = b; r < e; ++r) {
      for (int64_t j = 0; j < quarter; ++j) {
        const double ax = w.px[r] * inv_freq[j], ay = w.py[r] * inv_freq[j];
        cs[j] = static_cast<float>(std::cos(ax));
        sn[j] = static_cast<float>(std::sin(ax));
        cs[quarter + j] = static_cast<float>(std::cos(ay));
        sn[quarter + j] = static_cast<float>(std::sin(ay));
      }
      for (int64_t hh = 0; hh < n_head; ++hh) {
        float* head = x + (r * n_head + hh) * hd;
        for (int half = 0; half < 2; ++half) {
          float* v = head + half * 2 * quarter;
          const float* c = cs.data() + half * quarter;
          const float* s = sn.data() + half * quarter;
          for (int64_t j = 0; j < quarter; ++j) {
            const float x0 = v[j], x1 = v[j + quarter];
            v[j] = x0 * c[j] - x1 * s[j];
            v[j + quarter] = x0 * s[j] + x1 * c[j];
          }
        }
      }
    }
  });
}

// o = softmax(q kᵀ · 1.0) v over all patches (bidirectional), head by head, queries in chunks
// so the score block stays under kScoreChunkFloats. Each pool task takes a run of query rows
// through both products and the softmax between them, reading q, k, v and writing o in place
// (a head is a column slice of stride `width`).
void attention(Work& w, int64_t n_head, int64_t hd, kernels::ThreadPool& pool) {
  const int64_t n = w.n, width = n_head * hd;
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(n, kScoreChunkFloats / n));
  std::vector<float> scores(chunk * n);
  for (int64_t hh = 0; hh < n_head; ++hh) {
    const float* kh = w.k.data() + hh * hd;
    const float* vh = w.v.data() + hh * hd;
    for (int64_t q0 = 0; q0 < n; q0 += chunk) {
      const int64_t m = std::min(chunk, n - q0);
      // Blocks of kAttnRows queries at fixed offsets: each query's products come from the
      // same sgemm call whatever the thread count.
      const int64_t n_blocks = (m + kAttnRows - 1) / kAttnRows;
      pool.parallel_for(n_blocks, 1, [&](int64_t first, int64_t last, int) {
        std::vector<float> mx(kAttnRows), sum(kAttnRows);
        for (int64_t b = first * kAttnRows; b < std::min(m, last * kAttnRows); b += kAttnRows) {
          const int64_t rows = std::min(kAttnRows, m - b);
          float* s0 = scores.data() + b * n;
          // scores[t][s] = q_t · k_s; e^(s - max) in place; o_t = sum_s e_ts v_s / sum_s e_ts.
          kernels::gemm_rows_here(true, rows, n, hd, w.q.data() + (q0 + b) * width + hh * hd, width,
                                  kh, width, s0, n);
          for (int64_t t = 0; t < rows; ++t)
            mx[t] = *std::max_element(s0 + t * n, s0 + (t + 1) * n);
          ops::attention_softmax(s0, static_cast<int>(rows), n, n, mx.data(), sum.data());
          float* o0 = w.o.data() + (q0 + b) * width + hh * hd;
          kernels::gemm_rows_here(false, rows, hd, n, s0, n, vh, width, o0, width);
          for (int64_t t = 0; t < rows; ++t) {
            const float inv = 1.0f / sum[t];
            for (int64_t c = 0; c < hd; ++c)
              o0[t * width + c] *= inv;
          }
        }
      });
    }
  }
}

}  // namespace

Result<mmproj::Embeddings> VisionEncoder::encode(const Image& image, uint32_t token_budget,
                                                 kernels::ThreadPool& pool) const {
  if (image.rgb.size() != size_t{image.width} * image.height * 3) {
    return make_error(ErrorCode::kInvalidArgument,
                      "image rgb holds " + std::to_string(image.rgb.size()) + " bytes; " +
                          std::to_string(image.width) + "x" + std::to_string(image.height) +
                          " RGB8 needs " + std::to_string(size_t{image.width} * image.height * 3));
  }
  GEMMAD_ASSIGN_OR_RETURN(TargetSize ts, target_size(image.width, image.height, token_budget));
  const uint32_t p = h_.patch;
  const int64_t gw = ts.width / p, gh = ts.height / p;
  if (gw > h_.n_pos || gh > h_.n_pos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "image patch grid " + std::to_string(gw) + "x" + std::to_string(gh) +
                          " exceeds the position table of " + std::to_string(h_.n_pos) +
                          " (v.position_embd.weight)");
  }
  const std::vector<float> pix = resize_to_unit(image, ts.width, ts.height);
  const int64_t E = h_.n_embd, nh = h_.n_head, hd = h_.head_dim(), ff = h_.n_ff;
  const int64_t pv = int64_t{p} * p * 3;
  Work w;
  w.n = gw * gh;
  const int64_t n = w.n;
  // §2.2 step 4 and §5.2: patch i at (x = i mod gw, y = i div gw); the GGUF kernel
  // {16, 16, 3, E} reads its input as (channel, py, px) with px fastest. §2.3: 2p - 1.
  std::vector<float> patches(n * pv);
  w.px.resize(n);
  w.py.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t gx = i % gw, gy = i / gw;
    w.px[i] = static_cast<int32_t>(gx);
    w.py[i] = static_cast<int32_t>(gy);
    float* dst = patches.data() + i * pv;
    for (uint32_t yy = 0; yy < p; ++yy) {
      const float* row = pix.data() + ((gy * p + yy) * int64_t{ts.width} + gx * p) * 3;
      for (uint32_t xx = 0; xx < p; ++xx) {
        for (int c = 0; c < 3; ++c)
          dst[(c * p + yy) * p + xx] = 2.0f * row[xx * 3 + c] - 1.0f;
      }
    }
  }
  w.h.resize(n * E);
  kernels::blocked_matmul(patch_, patches.data(), n, w.h.data(), pool);
  patches = {};
  const float* pos_x = pos_;
  const float* pos_y = pos_ + int64_t{h_.n_pos} * E;
  for (int64_t i = 0; i < n; ++i) {
    add_inplace(w.h.data() + i * E, pos_x + w.px[i] * E, E);
    add_inplace(w.h.data() + i * E, pos_y + w.py[i] * E, E);
  }
  for (std::vector<float>* b : {&w.a, &w.q, &w.k, &w.v, &w.o})
    b->resize(n * E);
  w.gate.resize(n * ff);
  w.up.resize(n * ff);
  const float eps = h_.eps;
  for (const Block& blk : blocks_) {
    ops::rms_norm_rows(w.h.data(), blk.ln1, w.a.data(), n, E, eps);
    clipped(blk.q, w.a.data(), n, w.q.data(), w.tmp, pool);
    clipped(blk.k, w.a.data(), n, w.k.data(), w.tmp, pool);
    clipped(blk.v, w.a.data(), n, w.v.data(), w.tmp, pool);
    ops::rms_norm_rows(w.q.data(), blk.q_norm, w.q.data(), n * nh, hd, eps);
    ops::rms_norm_rows(w.k.data(), blk.k_norm, w.k.data(), n * nh, hd, eps);
    ops::rms_norm_rows(w.v.data(), nullptr, w.v.data(), n * nh, hd, eps);
    rope_2d(w.q.data(), w, nh, hd, pool);
    rope_2d(w.k.data(), w, nh, hd, pool);
    attention(w, nh, hd, pool);
    clipped(blk.out, w.o.data(), n, w.a.data(), w.tmp, pool);
    ops::rms_norm_rows(w.a.data(), blk.attn_post_norm, w.a.data(), n, E, eps);
    add_inplace(w.h.data(), w.a.data(), n * E);
    ops::rms_norm_rows(w.h.data(), blk.ln2, w.a.data(), n, E, eps);
    clipped(blk.gate, w.a.data(), n, w.gate.data(), w.tmp, pool);
    clipped(blk.up, w.a.data(), n, w.up.data(), w.tmp, pool);
    pool.parallel_for(n * ff, 4096, [&](int64_t b, int64_t e, int) {
      ops::geglu(w.gate.data() + b, w.up.data() + b, w.gate.data() + b, e - b);
    });
    clipped(blk.down, w.gate.data(), n, w.a.data(), w.tmp, pool);
    ops::rms_norm_rows(w.a.data(), blk.ffn_post_norm, w.a.data(), n, E, eps);
    add_inplace(w.h.data(), w.a.data(), n * E);
  }
  // §2.5: average each 3×3 cell, row-major over the pooled grid, then × sqrt(E); weightless
  // RMSNorm; projection into the text width.
  const int64_t pw = gw / kPool, ph = gh / kPool, n_tok = pw * ph;
  std::vector<float> pooled(n_tok * E, 0.0f);
  const float cell = 1.0f / (kPool * kPool);
  const float out_scale = std::sqrt(static_cast<float>(E));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = (w.py[i] / kPool) * pw + w.px[i] / kPool;
    add_inplace(pooled.data() + t * E, w.h.data() + i * E, E);
  }
  for (float& x : pooled)
    x *= cell * out_scale;
  ops::rms_norm_rows(pooled.data(), nullptr, pooled.data(), n_tok, E, eps);
  mmproj::Embeddings out;
  out.n_tokens = static_cast<uint32_t>(n_tok);
  out.dim = h_.proj_dim;
  out.data.resize(size_t(n_tok) * out.dim);
  kernels::blocked_matmul(proj_, pooled.data(), n_tok, out.data.data(), pool);
  return out;
}

}  // namespace gemmad::vision
