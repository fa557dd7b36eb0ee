// Gemma 4 forward pass: embeddings, PLE, the layer stack of docs/GEMMA4.md §1.3, LM head.
#include "models/gemma4.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "kernels/act_i8.h"
#include "models/gemma4_impl.h"
#include "ops/gelu.h"
#include "ops/rms_norm.h"
#include "quant/ggml_type.h"

namespace gemmad::engine {
namespace {

void scale_inplace(float* y, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i)
    y[i] *= s;
}

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] += x[i];
}

}  // namespace

std::vector<runtime::KvLayerSpec> gemma4_kv_layers(const Gemma4Config& c) {
  std::vector<runtime::KvLayerSpec> out;
  for (uint32_t il = 0; il < c.first_shared_layer(); ++il) {
    out.push_back(runtime::KvLayerSpec{c.is_swa[il], c.n_head_kv * c.head_dim(il)});
  }
  return out;
}

Gemma4Forward::Impl::Impl(const Gemma4Config& config, const Gemma4Weights& weights,
                          kernels::ThreadPool& p, ForwardOptions o)
    : c(config), w(weights), pool(p), opt(o) {
  rope_swa = ops::RopeTable(static_cast<int>(c.n_rot_swa), c.rope_base_swa, {});
  rope_full = ops::RopeTable(static_cast<int>(c.n_rot_full), c.rope_base_full, c.rope_freq_factors);
  kv_specs = gemma4_kv_layers(c);
  for (uint32_t il = 0; il < c.n_layer; ++il) {
    kv_of_layer.push_back(static_cast<int>(c.kv_source_layer(il)));
    q_max = std::max<int64_t>(q_max, int64_t{c.n_head} * c.head_dim(il));
    kv_max = std::max<int64_t>(kv_max, int64_t{c.n_head_kv} * c.head_dim(il));
    ff_max = std::max<int64_t>(ff_max, c.n_ff[il]);
  }
  d = c.n_embd;
  n_ple = int64_t{c.n_layer} * c.n_embd_per_layer;
  opt.max_rows_per_pass = std::max(1, opt.max_rows_per_pass);
  attn_scratch.resize(pool.size());
  attn_segs.resize(pool.size());
  attn_queries.resize(pool.size());
}

void Gemma4Forward::Impl::matmul(const Linear& lin, const float* xin, int64_t rows, float* y) {
  kernels::matmul(lin.w, xin, rows, y, pool);
  if (lin.scale != 1.0f) scale_inplace(y, rows * lin.w.n_out, lin.scale);  // §3.4
  // Static output scale of the mobile schema (docs/FORMATS.md): int8 fake-quant.
  if (lin.out_scale > 0.0f) kernels::fake_quant_i8(y, rows * lin.w.n_out, lin.out_scale);
}

void Gemma4Forward::Impl::tap(std::string_view name, int layer, const float* data, int64_t n_cols) {
  if (!tap_fn) return;
  tap_fn(runtime::TapInfo{name, layer, data, n_act(), n_cols, pass.act_pos.data(),
                          pass.act_seq.data()});
}

Status Gemma4Forward::Impl::validate(const runtime::Batch& batch,
                                     const runtime::KvCachePool& kv) const {
  GEMMAD_TRY(validate_kv_formats(kv));
  std::vector<int64_t> next(kv.n_seq(), -1);
  for (size_t r = 0; r < batch.rows.size(); ++r) {
    const runtime::BatchRow& row = batch.rows[r];
    const std::string at = "batch row " + std::to_string(r) + ": ";
    if (row.token < 0 || static_cast<uint32_t>(row.token) >= c.n_vocab) {
      return make_error(ErrorCode::kInvalidArgument, at + "token id " + std::to_string(row.token) +
                                                         " outside [0, " +
                                                         std::to_string(c.n_vocab) + ")");
    }
    if (row.seq < 0 || static_cast<uint32_t>(row.seq) >= kv.n_seq()) {
      return make_error(ErrorCode::kInvalidArgument, at + "sequence slot " +
                                                         std::to_string(row.seq) + " outside [0, " +
                                                         std::to_string(kv.n_seq()) + ")");
    }
    const runtime::SequenceKv& s = kv.seq(static_cast<uint32_t>(row.seq));
    const int64_t expect = next[row.seq] < 0 ? s.n_pos() : next[row.seq];
    if (row.pos != expect) {
      return make_error(ErrorCode::kInvalidArgument,
                        at + "position " + std::to_string(row.pos) + " of sequence " +
                            std::to_string(row.seq) + "; expected " + std::to_string(expect) +
                            " (positions of a sequence must follow its cache)");
    }
    if (row.pos >= static_cast<int64_t>(s.n_ctx())) {
      return make_error(ErrorCode::kOutOfRange, at + "position " + std::to_string(row.pos) +
                                                    " reaches the context limit of " +
                                                    std::to_string(s.n_ctx()));
    }
    next[row.seq] = expect + 1;
  }
  return {};
}

Status Gemma4Forward::Impl::forward(const runtime::Batch& batch, runtime::KvCachePool& kv,
                                    ForwardOutput& out) {
  GEMMAD_TRY(validate(batch, kv));
  out.n_vocab = c.n_vocab;
  out.rows.clear();
  for (size_t r = 0; r < batch.rows.size(); ++r) {
    if (batch.rows[r].want_logits) out.rows.push_back(static_cast<int32_t>(r));
  }
  out.logits.resize(out.rows.size() * size_t{c.n_vocab});
  size_t out_row = 0;
  const int64_t n_total = batch.size();
  for (int64_t r0 = 0; r0 < n_total; r0 += opt.max_rows_per_pass) {
    pass.rows = batch.rows.data() + r0;
    pass.n = static_cast<int>(std::min<int64_t>(opt.max_rows_per_pass, n_total - r0));
    GEMMAD_TRY(run_pass(kv, out, out_row));
  }
  return {};
}

Status Gemma4Forward::Impl::run_pass(runtime::KvCachePool& kv, ForwardOutput& out,
                                     size_t& out_row) {
  const int n = pass.n;
  pass.act.resize(n);
  pass.act_pos.resize(n);
  pass.act_seq.resize(n);
  for (int r = 0; r < n; ++r) {
    pass.act[r] = r;
    pass.act_pos[r] = pass.rows[r].pos;
    pass.act_seq[r] = pass.rows[r].seq;
  }
  for (Scratch<float>* b : {&x, &h, &a, &o})
    b->ensure(size_t(n) * d);
  for (Scratch<float>* b : {&q, &attn})
    b->ensure(size_t(n) * q_max);
  for (Scratch<float>* b : {&k, &v})
    b->ensure(size_t(n) * kv_max);
  for (Scratch<float>* b : {&gate, &up})
    b->ensure(size_t(n) * ff_max);
  ple_tok.ensure(size_t(n) * std::max<int64_t>(n_ple, 1));
  ple.ensure(size_t(n) * std::max<int64_t>(n_ple, 1));
  g.ensure(size_t(n) * std::max<uint32_t>(c.n_embd_per_layer, 1));
  plan_inflight(kv);

  // RoPE angles of each row, once per pass for both layer types (§1.4).
  const int ps = rope_swa.n_pairs_active(), pf = rope_full.n_pairs_active();
  cos_swa.ensure(size_t(n) * ps + 1);
  sin_swa.ensure(size_t(n) * ps + 1);
  cos_full.ensure(size_t(n) * pf + 1);
  sin_full.ensure(size_t(n) * pf + 1);
  for (int r = 0; r < n; ++r) {
    rope_swa.angles(pass.rows[r].pos, cos_swa.get() + r * ps, sin_swa.get() + r * ps);
    rope_full.angles(pass.rows[r].pos, cos_full.get() + r * pf, sin_full.get() + r * pf);
  }

  embed();
  std::copy(x.get(), x.get() + size_t(n) * d, h.get());  // §1.3 step 5: h = x
  const uint32_t f0 = c.first_shared_layer();
  bool stopped = false;
  for (uint32_t il = 0; il < c.n_layer; ++il) {
    if (il == f0 && opt.prefill_shortcut) {
      // §1.7: layers >= F0 write no cache; only rows that want logits need them.
      std::vector<int32_t> keep;
      for (int32_t kk = 0; kk < n_act(); ++kk) {
        if (pass.rows[pass.act[kk]].want_logits) keep.push_back(kk);
      }
      keep_rows(keep);
      if (keep.empty()) {
        stopped = true;
        break;
      }
    }
    layer(static_cast<int>(il), kv);
  }
  GEMMAD_TRY(commit_inflight(kv));
  if (!stopped) output_head(out, out_row);
  return {};
}

void Gemma4Forward::Impl::keep_rows(const std::vector<int32_t>& keep_k) {
  if (static_cast<int64_t>(keep_k.size()) == n_act()) return;
  for (size_t i = 0; i < keep_k.size(); ++i) {
    const int32_t src = keep_k[i];
    if (src == static_cast<int32_t>(i)) continue;
    std::copy(h.get() + src * d, h.get() + (src + 1) * d, h.get() + i * d);
    std::copy(ple.get() + src * n_ple, ple.get() + (src + 1) * n_ple, ple.get() + i * n_ple);
    pass.act[i] = pass.act[src];
    pass.act_pos[i] = pass.act_pos[src];
    pass.act_seq[i] = pass.act_seq[src];
  }
  pass.act.resize(keep_k.size());
  pass.act_pos.resize(keep_k.size());
  pass.act_seq.resize(keep_k.size());
}

void Gemma4Forward::Impl::embed() {
  const int n = pass.n;
  const int64_t p = c.n_embd_per_layer;
  // §1.3 step 1: x = token_embd[t] * sqrt(d); step 2: e = per_layer_token_embd[t] * sqrt(p).
  // One row of each table per token: the rest of the (mostly on-disk) PLE table is untouched.
  // §1.9: an embedding row (image/audio soft token) is used unscaled and takes PLE row 0.
  const float x_scale = std::sqrt(static_cast<float>(d));
  const float e_scale = std::sqrt(static_cast<float>(p));
  pool.parallel_for(n, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) {
      const runtime::BatchRow& row = pass.rows[r];
      const uint64_t tok = row.embedding != nullptr ? 0 : static_cast<uint64_t>(row.token);
      if (row.embedding != nullptr) {
        std::copy(row.embedding, row.embedding + d, x.get() + r * d);
      } else {
        kernels::dequantize_weight_row(w.token_embd, static_cast<int64_t>(tok), x.get() + r * d);
        scale_inplace(x.get() + r * d, d, x_scale);
      }
      if (p > 0) {
        const kernels::WeightView& pe = w.per_layer_token_embd;
        float* er = ple_tok.get() + r * n_ple;
        kernels::dequantize_weight_row(pe, static_cast<int64_t>(tok), er);
        scale_inplace(er, n_ple, e_scale);
      }
    }
  });
  tap("inp_embd", -1, x.get(), d);
  if (p == 0) return;
  tap("ple_tok", -1, ple_tok.get(), n_ple);
  // Step 3: c = per_layer_model_proj · x / sqrt(d), RMSNorm over each layer's p values.
  float* cpl = ple.get();
  matmul(w.per_layer_model_proj, x.get(), n, cpl);
  scale_inplace(cpl, n * n_ple, 1.0f / x_scale);
  tap("ple_proj", -1, cpl, n_ple);
  ops::rms_norm_rows(cpl, w.per_layer_proj_norm, cpl, int64_t{n} * c.n_layer, p, c.rms_eps);
  tap("ple_proj_norm", -1, cpl, n_ple);
  // Step 4: ple = (c + e) * 2^-1/2.
  const float inv_sqrt2 = 1.0f / std::sqrt(2.0f);
  for (int64_t i = 0; i < int64_t{n} * n_ple; ++i)
    cpl[i] = (cpl[i] + ple_tok.get()[i]) * inv_sqrt2;
  tap("ple_inp", -1, cpl, n_ple);
}

void Gemma4Forward::Impl::layer(int il, runtime::KvCachePool& kv) {
  const Gemma4LayerWeights& lw = w.layers[il];
  const int64_t n = n_act();
  const int64_t hd = c.head_dim(il);
  const int64_t nh = c.n_head, nkv = c.n_head_kv;
  const int64_t q_dim = nh * hd, kv_dim = nkv * hd, ff = c.n_ff[il];
  const float eps = c.rms_eps;
  const bool swa = c.is_swa[il];
  const ops::RopeTable& rope = swa ? rope_swa : rope_full;
  const int np = rope.n_pairs_active();
  const float* cos_t = swa ? cos_swa.get() : cos_full.get();
  const float* sin_t = swa ? sin_swa.get() : sin_full.get();

  // 5.1 a = RMSNorm(h)
  ops::rms_norm_rows(h.get(), lw.attn_norm, a.get(), n, d, eps);
  tap("attn_norm", il, a.get(), d);
  // 5.2 q = attn_q · a; per-head RMSNorm; RoPE
  matmul(lw.attn_q, a.get(), n, q.get());
  tap("q", il, q.get(), q_dim);
  ops::rms_norm_rows(q.get(), lw.attn_q_norm, q.get(), n * nh, hd, eps);
  tap("q_norm", il, q.get(), q_dim);
  for (int64_t kk = 0; kk < n; ++kk) {
    const int64_t r = pass.act[kk];
    ops::rope_neox(q.get() + kk * q_dim, static_cast<int>(nh), static_cast<int>(hd), rope.n_rot(),
                   np, cos_t + r * np, sin_t + r * np);
  }
  tap("q_rope", il, q.get(), q_dim);
  // 5.3 KV-owning layers: k, v, k-norm + RoPE, weightless v-norm, into the in-flight store.
  if (c.owns_kv(static_cast<uint32_t>(il))) {
    matmul(lw.attn_k, a.get(), n, k.get());
    tap("k", il, k.get(), kv_dim);
    if (lw.attn_v.present()) {
      matmul(lw.attn_v, a.get(), n, v.get());
    } else {
      std::copy(k.get(), k.get() + n * kv_dim, v.get());  // attention_k_eq_v: V = raw K
    }
    tap("v", il, v.get(), kv_dim);
    ops::rms_norm_rows(k.get(), lw.attn_k_norm, k.get(), n * nkv, hd, eps);
    tap("k_norm", il, k.get(), kv_dim);
    for (int64_t kk = 0; kk < n; ++kk) {
      const int64_t r = pass.act[kk];
      ops::rope_neox(k.get() + kk * kv_dim, static_cast<int>(nkv), static_cast<int>(hd),
                     rope.n_rot(), np, cos_t + r * np, sin_t + r * np);
    }
    tap("k_rope", il, k.get(), kv_dim);
    ops::rms_norm_rows(v.get(), nullptr, v.get(), n * nkv, hd, eps);
    tap("v_norm", il, v.get(), kv_dim);
    store_inflight(kv_of_layer[il], k.get(), v.get());
  }
  // 5.4 attention over the KV source layer's cache + in-flight rows
  attention(il, kv);
  tap("kqv_out", il, attn.get(), q_dim);
  // 5.5-5.6 o = attn_output · heads; h += RMSNorm(o)
  matmul(lw.attn_output, attn.get(), n, o.get());
  tap("attn_out", il, o.get(), d);
  ops::rms_norm_rows(o.get(), lw.post_attention_norm, o.get(), n, d, eps);
  tap("attn_post_norm", il, o.get(), d);
  add_inplace(h.get(), o.get(), n * d);
  tap("attn_resid", il, h.get(), d);
  // 5.7 f = down · (gelu_tanh(gate · RMSNorm(h)) ⊙ up · RMSNorm(h))
  ops::rms_norm_rows(h.get(), lw.ffn_norm, a.get(), n, d, eps);
  tap("ffn_norm", il, a.get(), d);
  matmul(lw.ffn_gate, a.get(), n, gate.get());
  tap("ffn_gate", il, gate.get(), ff);
  matmul(lw.ffn_up, a.get(), n, up.get());
  tap("ffn_up", il, up.get(), ff);
  pool.parallel_for(n * ff, 4096, [&](int64_t b, int64_t e, int) {
    ops::geglu(gate.get() + b, up.get() + b, gate.get() + b, e - b);
  });
  tap("ffn_geglu", il, gate.get(), ff);
  matmul(lw.ffn_down, gate.get(), n, o.get());
  tap("ffn_out", il, o.get(), d);
  // 5.8 h += RMSNorm(f)
  ops::rms_norm_rows(o.get(), lw.post_ffw_norm, o.get(), n, d, eps);
  tap("ffn_post_norm", il, o.get(), d);
  add_inplace(h.get(), o.get(), n * d);
  tap("ffn_resid", il, h.get(), d);
  // 5.9 PLE: h += RMSNorm(proj · (gelu_tanh(inp_gate · h) ⊙ ple[il]))
  const int64_t p = c.n_embd_per_layer;
  if (p > 0) {
    matmul(lw.inp_gate, h.get(), n, g.get());
    for (int64_t kk = 0; kk < n; ++kk) {
      float* gr = g.get() + kk * p;
      ops::geglu(gr, ple.get() + kk * n_ple + il * p, gr, p);
    }
    tap("ple_gate", il, g.get(), p);
    matmul(lw.proj, g.get(), n, o.get());
    tap("ple_proj_out", il, o.get(), d);
    ops::rms_norm_rows(o.get(), lw.post_norm, o.get(), n, d, eps);
    tap("ple_post_norm", il, o.get(), d);
    add_inplace(h.get(), o.get(), n * d);
    tap("ple_resid", il, h.get(), d);
  }
  // 5.10 layer scalar
  if (lw.layer_output_scale != 1.0f) scale_inplace(h.get(), n * d, lw.layer_output_scale);
  tap("l_out", il, h.get(), d);
}

void Gemma4Forward::Impl::output_head(ForwardOutput& out, size_t& out_row) {
  std::vector<int32_t> keep;
  for (int32_t kk = 0; kk < n_act(); ++kk) {
    if (pass.rows[pass.act[kk]].want_logits) keep.push_back(kk);
  }
  keep_rows(keep);
  const int64_t n = n_act();
  if (n == 0) return;
  // §1.3 steps 6-8: y = RMSNorm(h); z = token_embd · y (tied); z = cap * tanh(z / cap).
  ops::rms_norm_rows(h.get(), w.output_norm, a.get(), n, d, c.rms_eps);
  tap("result_norm", -1, a.get(), d);
  const int64_t nv = c.n_vocab;
  float* z = out.logits.data() + out_row * nv;
  matmul(w.output, a.get(), n, z);
  const float cap = c.final_logit_softcap;
  if (cap > 0.0f) {
    pool.parallel_for(n * nv, 16384,
                      [&](int64_t b, int64_t e, int) { ops::softcap_inplace(z + b, e - b, cap); });
  }
  tap("result_output", -1, z, nv);
  out_row += static_cast<size_t>(n);
}

Gemma4Forward::Gemma4Forward(const Gemma4Config& config, const Gemma4Weights& weights,
                             kernels::ThreadPool& pool, ForwardOptions opts)
    : impl_(std::make_unique<Impl>(config, weights, pool, opts)) {
  if (const char* dir = std::getenv("GEMMAD_TAP"); dir != nullptr && *dir != '\0') {
    auto t = runtime::make_dir_tap(dir);
    if (t.ok()) impl_->tap_fn = std::move(t).value();
  }
}

Gemma4Forward::~Gemma4Forward() = default;

Status Gemma4Forward::forward(const runtime::Batch& batch, runtime::KvCachePool& kv,
                              ForwardOutput& out) {
  return impl_->forward(batch, kv, out);
}

void Gemma4Forward::set_tap(runtime::TapFn tap) {
  impl_->tap_fn = std::move(tap);
}

}  // namespace gemmad::engine
