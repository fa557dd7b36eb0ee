// `gemmactl eval --model Q.gguf [--reference R.gguf] (--text FILE | --ids LIST) [--kv-type P]
// [--reference-kv-type P] [--ctx N] [--max-tokens N] [--threads T] [--json]`: the quality
// meter (docs/PERFORMANCE.md "Quality"). Both models read the same tokens in chunks of --ctx
// (each a fresh sequence: <bos> + the next ctx - 1 tokens of the text; --ids are taken as
// given, one chunk per ctx ids) and predict every next token. Reported: the perplexity of
// each, the KL divergence KL(R || Q) per predicted position (mean and 99th percentile, nearest
// rank), and how often their top-1 tokens agree. Without --reference the model is compared
// with itself, so `--kv-type mobile --reference-kv-type f16` measures a KV type alone.
// Log-softmax and sums are in double; a model against itself gives KLD exactly 0.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "kv_type_option.h"
#include "models/gemma4.h"
#include "runtime/model.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::ctl {
namespace {

struct EvalArgs {
  std::string model, reference, text, ids;
  std::string kv_type = "f16", reference_kv_type = "f16";
  int ctx = 512;
  int max_tokens = 0;  // 0 = the whole text
  int threads = 0;
};

// Rows of logits computed per forward call: bounds memory at 32 x n_vocab floats per model.
constexpr int kRowsPerCall = 32;

// log-softmax of z[0..n) in double.
void log_softmax(const float* z, int64_t n, std::vector<double>& out) {
  out.resize(static_cast<size_t>(n));
  double m = z[0];
  for (int64_t i = 1; i < n; ++i)
    m = std::max(m, static_cast<double>(z[i]));
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i)
    sum += std::exp(static_cast<double>(z[i]) - m);
  const double lse = m + std::log(sum);
  for (int64_t i = 0; i < n; ++i)
    out[static_cast<size_t>(i)] = static_cast<double>(z[i]) - lse;
}

struct Side {
  const runtime::Model* model = nullptr;
  std::unique_ptr<engine::Gemma4Forward> fwd;
  std::unique_ptr<runtime::KvCachePool> kv;
  engine::ForwardOutput out;
  double nll = 0.0;
};

Status run_rows(Side& s, const std::vector<int32_t>& chunk, int32_t p0, int32_t p1) {
  runtime::Batch batch;
  for (int32_t p = p0; p < p1; ++p)
    batch.add(chunk[static_cast<size_t>(p)], p, 0, true);
  return s.fwd->forward(batch, *s.kv, s.out);
}

Result<std::vector<int32_t>> read_tokens(const EvalArgs& a, const runtime::Model& m) {
  if (!a.ids.empty()) return parse_token_ids(a.ids);
  std::ifstream in(a.text, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "--text: cannot open '" + a.text + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  GEMMAD_ASSIGN_OR_RETURN(std::unique_ptr<tokenizer::Tokenizer> tok,
                          tokenizer::Tokenizer::from_gguf(m.file()));
  const std::vector<tokenizer::TokenId> ids = tok->encode(ss.str(), {.add_bos = false});
  // Chunks of ctx positions: <bos> then ctx - 1 tokens of the text.
  std::vector<int32_t> out;
  const size_t step = static_cast<size_t>(a.ctx - 1);
  for (size_t i = 0; i < ids.size(); i += step) {
    out.push_back(tok->bos_id());
    for (size_t j = i; j < std::min(ids.size(), i + step); ++j)
      out.push_back(ids[j]);
  }
  return out;
}

int run_eval(const EvalArgs& a, const Globals& g) {
  if (a.text.empty() == a.ids.empty()) {
    return report_error(g, "invalid_argument", "give exactly one of --text FILE and --ids LIST",
                        kExitUsage);
  }
  auto q_model = runtime::Model::load(a.model);
  if (!q_model.ok()) return report_error(g, q_model.error());
  std::unique_ptr<runtime::Model> r_owned;
  const runtime::Model* r_model = q_model->get();
  if (!a.reference.empty() && a.reference != a.model) {
    auto r = runtime::Model::load(a.reference);
    if (!r.ok()) return report_error(g, r.error());
    r_owned = std::move(r).value();
    r_model = r_owned.get();
  }
  const uint32_t n_vocab = (*q_model)->config().n_vocab;
  if (r_model->config().n_vocab != n_vocab) {
    return report_error(g, "invalid_argument",
                        "--reference has n_vocab " + std::to_string(r_model->config().n_vocab) +
                            "; --model has " + std::to_string(n_vocab),
                        kExitUsage);
  }
  auto tokens = read_tokens(a, **q_model);
  if (!tokens.ok()) return report_error(g, tokens.error());
  if (a.max_tokens > 0 && tokens->size() > static_cast<size_t>(a.max_tokens)) {
    tokens->resize(static_cast<size_t>(a.max_tokens));
  }
  if (tokens->size() < 2) {
    return report_error(
        g, "invalid_argument",
        "eval needs at least 2 tokens; the input has " + std::to_string(tokens->size()),
        kExitUsage);
  }

  kernels::ThreadPool pool(a.threads);
  Side q, r;
  q.model = q_model->get();
  r.model = r_model;
  for (auto [side, kv_type] : {std::pair{&q, &a.kv_type}, std::pair{&r, &a.reference_kv_type}}) {
    side->fwd = std::make_unique<engine::Gemma4Forward>(side->model->config(),
                                                        side->model->weights(), pool);
    runtime::KvCacheOptions o;
    o.n_ctx = static_cast<uint32_t>(a.ctx);
    o.type = kv_types_of(*kv_type);
    side->kv = std::make_unique<runtime::KvCachePool>(side->model->new_kv_pool(o));
    if (side->kv->options().n_ctx < o.n_ctx) {
      return report_error(g, "out_of_range",
                          "--ctx " + std::to_string(a.ctx) + " exceeds the model's context of " +
                              std::to_string(side->kv->options().n_ctx),
                          kExitUsage);
    }
  }

  std::vector<double> kld;
  int64_t agree = 0;
  std::vector<double> lq, lr;
  const size_t n_chunks = (tokens->size() + a.ctx - 1) / a.ctx;
  for (size_t c = 0; c < n_chunks; ++c) {
    const size_t b = c * static_cast<size_t>(a.ctx);
    const std::vector<int32_t> chunk(
        tokens->begin() + static_cast<int64_t>(b),
        tokens->begin() + static_cast<int64_t>(std::min(tokens->size(), b + a.ctx)));
    q.kv->seq(0).clear();
    r.kv->seq(0).clear();
    const int32_t n_pred = static_cast<int32_t>(chunk.size()) - 1;  // positions with a next
    for (int32_t p0 = 0; p0 < n_pred; p0 += kRowsPerCall) {
      const int32_t p1 = std::min(n_pred, p0 + kRowsPerCall);
      for (Side* s : {&q, &r}) {
        if (Status st = run_rows(*s, chunk, p0, p1); !st.ok()) return report_error(g, st.error());
      }
      for (int32_t i = 0; i < p1 - p0; ++i) {
        const int32_t next = chunk[static_cast<size_t>(p0 + i + 1)];
        log_softmax(q.out.row_logits(static_cast<size_t>(i)), n_vocab, lq);
        log_softmax(r.out.row_logits(static_cast<size_t>(i)), n_vocab, lr);
        q.nll -= lq[static_cast<size_t>(next)];
        r.nll -= lr[static_cast<size_t>(next)];
        double k = 0.0;
        for (uint32_t v = 0; v < n_vocab; ++v)
          k += std::exp(lr[v]) * (lr[v] - lq[v]);
        kld.push_back(std::max(k, 0.0));  // rounding can make an exact match -1e-17
        agree += std::max_element(lq.begin(), lq.end()) - lq.begin() ==
                 std::max_element(lr.begin(), lr.end()) - lr.begin();
      }
    }
    std::fprintf(stderr, "eval: chunk %zu/%zu, %zu positions scored\n", c + 1, n_chunks,
                 kld.size());
  }

  const double n = static_cast<double>(kld.size());
  double mean = 0.0;
  for (double k : kld)
    mean += k;
  mean /= n;
  std::vector<double> sorted = kld;
  std::sort(sorted.begin(), sorted.end());
  const size_t rank = static_cast<size_t>(std::ceil(0.99 * n));  // nearest rank, 1-based
  const double p99 = sorted[std::max<size_t>(rank, 1) - 1];
  const double ppl_q = std::exp(q.nll / n), ppl_r = std::exp(r.nll / n);
  const double top1 = static_cast<double>(agree) / n;
  const std::string ref_name = a.reference.empty() ? a.model : a.reference;
  if (g.json) {
    print_json({{"model", a.model},
                {"reference", ref_name},
                {"kv_type", runtime::kv_types_name(kv_types_of(a.kv_type))},
                {"reference_kv_type", runtime::kv_types_name(kv_types_of(a.reference_kv_type))},
                {"ctx", a.ctx},
                {"chunks", n_chunks},
                {"positions", kld.size()},
                {"ppl", ppl_q},
                {"reference_ppl", ppl_r},
                {"kld_mean", mean},
                {"kld_p99", p99},
                {"top1_agreement", top1},
                {"kernels", kernels::kernel_set_name()}});
  } else {
    std::printf("positions       %zu (%zu chunks of up to %d)\n", kld.size(), n_chunks, a.ctx);
    std::printf("perplexity      %.4f (model, kv %s)\n", ppl_q,
                runtime::kv_types_name(kv_types_of(a.kv_type)).c_str());
    std::printf("                %.4f (reference, kv %s)\n", ppl_r,
                runtime::kv_types_name(kv_types_of(a.reference_kv_type)).c_str());
    std::printf("KLD mean        %.6g\n", mean);
    std::printf("KLD p99         %.6g\n", p99);
    std::printf("top-1 agreement %.2f %%\n", 100.0 * top1);
  }
  return kExitOk;
}

void add_eval_verb(VerbContext& ctx) {
  CLI::App* sub = ctx.root.add_subcommand(
      "eval", "quality of a model (or KV type) against a reference: perplexity, KLD, top-1");
  auto args = std::make_shared<EvalArgs>();
  sub->add_option("--model", args->model, "GGUF model file under test")->required();
  sub->add_option("--reference", args->reference,
                  "reference GGUF (same vocabulary; default: --model itself)");
  sub->add_option("--text", args->text, "text file to score (tokenized by --model's vocabulary)");
  sub->add_option("--ids", args->ids, "token ids to score instead of --text, e.g. \"2 651 ...\"");
  add_kv_type_option(sub, args->kv_type, "--kv-type", "KV cache type of --model");
  add_kv_type_option(sub, args->reference_kv_type, "--reference-kv-type",
                     "KV cache type of the reference");
  sub->add_option("--ctx", args->ctx, "positions per chunk (each chunk starts a new sequence)")
      ->check(CLI::Range(2, 131072))
      ->capture_default_str();
  sub->add_option("--max-tokens", args->max_tokens, "score at most this many tokens (0 = all)")
      ->check(CLI::Range(0, 1 << 30))
      ->capture_default_str();
  sub->add_option("--threads", args->threads, "worker threads (0 = all cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  sub->add_flag("--json", ctx.globals.json, "one JSON document on stdout");
  Globals* g = &ctx.globals;
  int* exit_code = &ctx.exit_code;
  sub->callback([args, g, exit_code] { *exit_code = run_eval(*args, *g); });
}

}  // namespace

GEMMACTL_VERB(37, add_eval_verb);

}  // namespace gemmad::ctl
