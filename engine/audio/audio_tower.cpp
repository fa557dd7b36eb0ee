// The audio tower's forward pass (docs/ENCODERS.md §3.2-§3.3), on bound weights.
#include "audio/audio_tower.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "audio/conformer_ops.h"
#include "kernels/blocked_gemm.h"
#include "kernels/thread_pool.h"
#include "ops/rms_norm.h"

namespace gemmad::audio {
namespace {

// Activations of one chunk, reused across layers. [n][width] each.
struct Scratch {
  std::vector<float> a, b, q, k, v, o, wide, clip;
};

// x += scale * RMSNorm_post(down(silu(up(RMSNorm_pre(x))))) (§3.3 FFN halves).
void ffn_half(const AudioHparams& hp, const float* pre, const ClippedLinear& up,
              const ClippedLinear& down, const float* post, int64_t n, float* x, Scratch& s,
              kernels::ThreadPool& pool) {
  ops::rms_norm_rows(x, pre, s.a.data(), n, hp.hidden, kNormEps);
  clipped_matmul(up, s.a.data(), n, s.wide.data(), s.clip, pool);
  silu_inplace(s.wide.data(), n * hp.n_ff);
  clipped_matmul(down, s.wide.data(), n, s.b.data(), s.clip, pool);
  ops::rms_norm_rows(s.b.data(), post, s.b.data(), n, hp.hidden, kNormEps);
  for (int64_t i = 0; i < n * hp.hidden; ++i)
    x[i] += 0.5f * s.b[i];
}

void attention_block(const AudioHparams& hp, const AudioLayerWeights& l, int64_t n, float* x,
                     Scratch& s, kernels::ThreadPool& pool) {
  ops::rms_norm_rows(x, l.attn_pre_norm, s.a.data(), n, hp.hidden, kNormEps);
  clipped_matmul(l.attn_q, s.a.data(), n, s.q.data(), s.clip, pool);
  clipped_matmul(l.attn_k, s.a.data(), n, s.k.data(), s.clip, pool);
  clipped_matmul(l.attn_v, s.a.data(), n, s.v.data(), s.clip, pool);
  const std::vector<float> rel = relative_position_rows(l.attn_k_rel, hp.hidden, pool);
  local_attention(s.q.data(), s.k.data(), s.v.data(), rel.data(), l.per_dim_scale, n, hp.n_head,
                  hp.head_dim, s.o.data(), pool);
  clipped_matmul(l.attn_out, s.o.data(), n, s.b.data(), s.clip, pool);
  ops::rms_norm_rows(s.b.data(), l.attn_post_norm, s.b.data(), n, hp.hidden, kNormEps);
  for (int64_t i = 0; i < n * hp.hidden; ++i)
    x[i] += s.b[i];
}

void conv_block(const AudioHparams& hp, const AudioLayerWeights& l, int64_t n, float* x, Scratch& s,
                kernels::ThreadPool& pool) {
  ops::rms_norm_rows(x, l.conv_norm, s.a.data(), n, hp.hidden, kNormEps);
  clipped_matmul(l.conv_pw1, s.a.data(), n, s.wide.data(), s.clip, pool);  // [n][2 hidden]
  glu(s.wide.data(), n, hp.hidden, s.o.data());
  depthwise_causal_conv(s.o.data(), l.conv_dw, n, hp.hidden, s.a.data());
  ops::rms_norm_rows(s.a.data(), l.norm_conv, s.a.data(), n, hp.hidden, kNormEps);
  silu_inplace(s.a.data(), n * hp.hidden);
  clipped_matmul(l.conv_pw2, s.a.data(), n, s.b.data(), s.clip, pool);
  for (int64_t i = 0; i < n * hp.hidden; ++i)
    x[i] += s.b[i];
}

// Calls the tap (if any) with rows numbered 0..n-1 in chunk `chunk`.
class Tapper {
 public:
  Tapper(const Tap* tap, int32_t chunk) : tap_(tap), chunk_(chunk) {}
  void operator()(std::string_view name, int layer, const float* data, int64_t n_rows,
                  int64_t n_cols) {
    if (tap_ == nullptr || !*tap_) return;
    if (static_cast<int64_t>(pos_.size()) < n_rows) {
      pos_.resize(n_rows);
      for (int64_t i = 0; i < n_rows; ++i)
        pos_[i] = static_cast<int32_t>(i);
      seq_.assign(n_rows, chunk_);
    }
    (*tap_)(runtime::TapInfo{name, layer, data, n_rows, n_cols, pos_.data(), seq_.data()});
  }

 private:
  const Tap* tap_;
  int32_t chunk_;
  std::vector<int32_t> pos_, seq_;
};

}  // namespace

uint32_t audio_tokens_for_frames(uint32_t n_frames) {
  const uint32_t t1 = (n_frames + 1) / 2;
  return (t1 + 1) / 2;
}

uint64_t audio_token_count(uint64_t n_samples) {
  uint64_t tokens = 0;
  for (uint64_t start = 0; start < n_samples; start += kChunkSamples)
    tokens += audio_tokens_for_frames(
        mel_frame_count(std::min<uint64_t>(kChunkSamples, n_samples - start)));
  return tokens;
}

Status encode_features(const AudioWeights& w, const MelFeatures& f, kernels::ThreadPool& pool,
                       AudioRows& out, const Tap* tap, int32_t chunk) {
  const AudioHparams& hp = w.hp;
  Tapper taps(tap, chunk);
  taps("mel", -1, f.data.data(), f.n_frames, kMelBins);
  // §3.2 subsampling: [T][128][1] -> [T1][64][c1] -> [T2][32][c2], LayerNorm + ReLU after each.
  const uint32_t t1 = (f.n_frames + 1) / 2;
  const uint32_t t2 = (t1 + 1) / 2;
  const uint32_t f1 = kMelBins / 2, f2 = kMelBins / 4;
  std::vector<float> c1(size_t{t1} * f1 * hp.sscp_c1);
  conv2d_3x3_s2(f.data.data(), f.n_frames, kMelBins, 1, w.conv0_w, c1.data(), pool);
  layer_norm_relu_rows(c1.data(), w.conv0_norm, int64_t{t1} * f1, hp.sscp_c1, kNormEps);
  std::vector<float> c2(size_t{t2} * f2 * hp.sscp_c2);
  conv2d_3x3_s2(c1.data(), t1, f1, hp.sscp_c1, w.conv1_w, c2.data(), pool);
  std::vector<float>().swap(c1);
  layer_norm_relu_rows(c2.data(), w.conv1_norm, int64_t{t2} * f2, hp.sscp_c2, kNormEps);
  // c2 rows are already [t][f][c] = the channel-fastest flattening (index f * c2 + c).
  const int64_t n = t2;
  std::vector<float> x(size_t(n) * hp.hidden);
  kernels::blocked_matmul(w.input_projection, c2.data(), n, x.data(), pool);
  taps("sscp", -1, x.data(), n, hp.hidden);

  Scratch s;
  for (std::vector<float>* v : {&s.a, &s.b, &s.q, &s.k, &s.v, &s.o})
    v->resize(size_t(n) * hp.hidden);
  s.wide.resize(size_t(n) * std::max<uint32_t>(hp.n_ff, 2 * hp.hidden));
  for (uint32_t il = 0; il < hp.n_layer; ++il) {
    const AudioLayerWeights& l = w.layers[il];
    const int layer = static_cast<int>(il);
    ffn_half(hp, l.ffn_norm, l.ffn_up, l.ffn_down, l.ffn_post_norm, n, x.data(), s, pool);
    taps("ffn1", layer, x.data(), n, hp.hidden);
    attention_block(hp, l, n, x.data(), s, pool);
    taps("attn", layer, x.data(), n, hp.hidden);
    conv_block(hp, l, n, x.data(), s, pool);
    taps("conv", layer, x.data(), n, hp.hidden);
    ffn_half(hp, l.ffn_norm_1, l.ffn_up_1, l.ffn_down_1, l.ffn_post_norm_1, n, x.data(), s, pool);
    taps("ffn2", layer, x.data(), n, hp.hidden);
    ops::rms_norm_rows(x.data(), l.ln2, x.data(), n, hp.hidden, kNormEps);
    taps("layer_out", layer, x.data(), n, hp.hidden);
  }

  // §3.3 output: y = W_out x + b; e = W_a RMSNorm_weightless(y).
  std::vector<float> y(size_t(n) * hp.out_dim);
  kernels::blocked_matmul(w.out_proj, x.data(), n, y.data(), pool);
  for (int64_t t = 0; t < n; ++t) {
    float* row = y.data() + t * hp.out_dim;
    for (uint32_t i = 0; i < hp.out_dim; ++i)
      row[i] += w.out_bias[i];
  }
  taps("out_proj", -1, y.data(), n, hp.out_dim);
  ops::rms_norm_rows(y.data(), nullptr, y.data(), n, hp.out_dim, kNormEps);
  const size_t base = out.data.size();
  out.data.resize(base + size_t(n) * hp.text_d);
  kernels::blocked_matmul(w.embed_proj, y.data(), n, out.data.data() + base, pool);
  taps("embd", -1, out.data.data() + base, n, hp.text_d);
  out.n_tokens += static_cast<uint32_t>(n);
  return {};
}

Result<AudioRows> encode_pcm(const AudioWeights& w, std::span<const float> pcm,
                             kernels::ThreadPool& pool, const Tap* tap) {
  GEMMAD_TRY(check_pcm(pcm));
  if (pcm.size() < kMinSamples) {
    return make_error(ErrorCode::kInvalidArgument,
                      "audio: " + std::to_string(pcm.size()) + " samples (" +
                          std::to_string(pcm.size() * 1000.0 / kSampleRate) +
                          " ms) is shorter than one frame; at least " +
                          std::to_string(kMinSamples) + " samples at 16 kHz are needed");
  }
  AudioRows out;
  int32_t chunk_index = 0;
  for (size_t start = 0; start < pcm.size(); start += kChunkSamples, ++chunk_index) {
    const std::span<const float> chunk =
        pcm.subspan(start, std::min<size_t>(kChunkSamples, pcm.size() - start));
    GEMMAD_ASSIGN_OR_RETURN(MelFeatures f, log_mel_features(chunk));
    if (f.n_frames == 0) break;  // a trailing sliver of < 161 samples
    GEMMAD_TRY(encode_features(w, f, pool, out, tap, chunk_index));
  }
  return out;
}

}  // namespace gemmad::audio
