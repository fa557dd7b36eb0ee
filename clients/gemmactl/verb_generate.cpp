// `gemmactl generate [--model FILE] [-n N] [--temp T] [--top-k K] [--top-p P] [--seed S]
// [--ids "2 ..."] [--raw] [--ignore-eos] [--json] [PROMPT]`: a raw completion (DESIGN.md
// command-line contract), computed in-process with --model, else by the daemon (GenerateRequest).
// The prompt gets <bos>; unless --raw it is wrapped as one user turn of the chat format. Text
// streams to stdout as tokens arrive (UTF-8 held back until a character is complete); --json prints
// one document at the end instead. Stops on the stop set, after -n tokens, or at the context limit;
// Ctrl-C stops with exit 130.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "chat/chat_format.h"
#include "cli.h"
#include "daemon_link.h"
#include "kernels/thread_pool.h"
#include "models/gemma4.h"
#include "runtime/model.h"
#include "sampler/sampler.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::ctl {
namespace {

using Clock = std::chrono::steady_clock;

struct GenerateArgs {
  std::string model;
  int n = 256;
  float temp = 1.0f;
  int top_k = 64;
  float top_p = 0.95f;
  uint64_t seed = 0;
  std::string ids;
  bool raw = false;
  bool ignore_eos = false;
  int threads = 0;
  std::string prompt;
};

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) {
  g_interrupted.store(true);
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// <bos> + the prompt (--raw), or the prompt as one user turn of the chat format (spec §5.4).
Result<std::vector<int32_t>> prompt_ids(const tokenizer::Tokenizer& tok, const std::string& prompt,
                                        bool raw) {
  if (raw) {
    tokenizer::EncodeOptions eo;
    eo.add_bos = true;
    return tok.encode(prompt, eo);
  }
  GEMMAD_ASSIGN_OR_RETURN(chat::ChatFormat fmt, chat::ChatFormat::create(tok));
  const chat::Message turn{chat::Role::kUser, prompt};
  return fmt.render_ids({&turn, 1});
}

const char* stop_name(sampler::StopReason r, bool interrupted, bool context_full) {
  if (interrupted) return "cancelled";
  if (context_full) return "context_full";
  switch (r) {
    case sampler::StopReason::kStopToken:
      return "stop_token";
    case sampler::StopReason::kMaxTokens:
      return "max_tokens";
    case sampler::StopReason::kNone:
      return "none";
  }
  return "none";
}

// Without --model: the daemon tokenizes, formats, samples and streams.
int run_generate_daemon(const GenerateArgs& a, const Globals& g) {
  if (!a.ids.empty()) {
    return report_error(g, "invalid_argument", "--ids needs --model (offline)", kExitUsage);
  }
  int code = kExitOk;
  auto c = connect_daemon(g, code);
  if (!c) return code;
  v1::GenerateRequest req;
  req.set_prompt(a.prompt);
  req.set_raw(a.raw);
  v1::SamplingParams* sp = req.mutable_sampling();
  sp->set_temperature(a.temp);
  sp->set_top_k(a.top_k);
  sp->set_top_p(a.top_p);
  sp->set_seed(a.seed);
  if (a.n > 0) sp->set_max_tokens(static_cast<uint32_t>(a.n));
  sp->set_ignore_eos(a.ignore_eos);
  std::string text;
  std::vector<uint32_t> ids;
  InterruptScope scope(*c);
  auto done = c->generate(req, [&](const v1::Token& t) {
    text += t.text();
    ids.push_back(t.token_id());
    if (!g.json) {
      std::fwrite(t.text().data(), 1, t.text().size(), stdout);
      std::fflush(stdout);
    }
  });
  if (!done.ok()) return report_client_error(g, done.error());
  if (g.json) {
    print_json({{"text", text},
                {"tokens", ids.size()},
                {"token_ids", ids},
                {"prompt_tokens", done->usage().prompt_tokens()},
                {"stop_reason", stop_reason_name(done->stop_reason())},
                {"timings",
                 {{"prefill_ms", done->timings().prefill_ms()},
                  {"decode_ms", done->timings().decode_ms()},
                  {"prefill_tok_s", done->timings().prefill_tok_s()},
                  {"decode_tok_s", done->timings().decode_tok_s()}}}});
  } else {
    std::fputc('\n', stdout);
  }
  return stream_exit_code(g, done->stop_reason());
}

int run_generate(const GenerateArgs& a, const Globals& g) {
  if (a.model.empty()) return run_generate_daemon(a, g);
  sampler::SamplingParams sp;
  sp.temperature = a.temp;
  sp.top_k = a.top_k;
  sp.top_p = a.top_p;
  sp.seed = a.seed;
  sp.max_tokens = a.n;
  if (a.ignore_eos) sp.stop_ids.clear();
  if (Status st = sampler::validate(sp); !st.ok()) {
    return report_error(g, "invalid_argument", st.error().message, kExitUsage);
  }
  std::vector<int32_t> ids;
  if (!a.ids.empty()) {
    auto parsed = parse_token_ids(a.ids);
    if (!parsed.ok())
      return report_error(g, "invalid_argument", parsed.error().message, kExitUsage);
    ids = std::move(parsed).value();
  }

  const auto t_load = Clock::now();
  auto model = runtime::Model::load(a.model);
  if (!model.ok()) return report_model_error(g, model.error());
  const runtime::Model& m = **model;
  for (const std::string& note : m.shape_notes())
    std::fprintf(stderr, "gemmactl: note: %s\n", note.c_str());
  // A model without tokenizer keys still runs on --ids; its output is then token ids.
  std::unique_ptr<tokenizer::Tokenizer> tok;
  if (m.file().find("tokenizer.ggml.tokens") != nullptr) {
    auto t = tokenizer::Tokenizer::from_gguf(m.file());
    if (!t.ok()) return report_error(g, t.error());
    tok = std::move(t).value();
  }
  if (ids.empty()) {
    if (!tok) {
      return report_error(g, "bad_model_file",
                          a.model + ": no tokenizer in the file; pass --ids instead of a prompt",
                          kExitBadModel);
    }
    auto rendered = prompt_ids(*tok, a.prompt, a.raw);
    if (!rendered.ok()) return report_error(g, rendered.error());
    ids = std::move(rendered).value();
  }
  kernels::ThreadPool pool(a.threads);
  engine::Gemma4Forward fwd(m.config(), m.weights(), pool);
  runtime::KvCacheOptions kv_opts;
  kv_opts.n_ctx = static_cast<uint32_t>(std::min<uint64_t>(
      ids.size() + (a.n > 0 ? a.n : m.config().n_ctx_train), m.config().n_ctx_train));
  runtime::KvCachePool kv = m.new_kv_pool(kv_opts);
  const double load_ms = ms_since(t_load);

  struct sigaction sa = {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_sa = {};
  sigaction(SIGINT, &sa, &old_sa);

  sampler::Sampler smp(sp);
  for (int32_t id : ids)
    smp.accept(id);
  std::unique_ptr<tokenizer::Detokenizer> detok;
  if (tok) detok = std::make_unique<tokenizer::Detokenizer>(*tok);
  std::string text, piece;
  std::vector<int32_t> generated;
  auto emit = [&](int32_t id) {
    piece.clear();
    if (detok) {
      (void)detok->push(id, piece);
    } else {
      piece = (generated.size() > 1 ? " " : "") + std::to_string(id);
    }
    text += piece;
    if (!g.json && !piece.empty()) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
  };

  runtime::Batch batch;
  for (size_t i = 0; i < ids.size(); ++i) {
    batch.add(ids[i], static_cast<int32_t>(i), 0, i + 1 == ids.size());
  }
  engine::ForwardOutput out;
  const auto t_prefill = Clock::now();
  Status st = fwd.forward(batch, kv, out);
  const double prefill_ms = ms_since(t_prefill);
  sampler::StopReason reason = sampler::StopReason::kNone;
  bool context_full = false;
  const auto t_decode = Clock::now();
  while (st.ok() && !g_interrupted.load()) {
    const int32_t id = smp.sample({out.row_logits(0), static_cast<size_t>(out.n_vocab)});
    reason = smp.check_stop(id);
    if (reason == sampler::StopReason::kStopToken) break;
    generated.push_back(id);
    emit(id);
    if (reason == sampler::StopReason::kMaxTokens) break;
    const int32_t pos = kv.seq(0).n_pos();
    if (static_cast<uint32_t>(pos) >= kv.options().n_ctx) {
      context_full = true;
      break;
    }
    batch.clear();
    batch.add(id, pos, 0, true);
    st = fwd.forward(batch, kv, out);
  }
  const double decode_ms = ms_since(t_decode);
  sigaction(SIGINT, &old_sa, nullptr);
  if (detok) {
    piece.clear();
    detok->finish(piece);
    text += piece;
    if (!g.json) std::fwrite(piece.data(), 1, piece.size(), stdout);
  }
  if (!g.json) {
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  if (!st.ok()) return report_error(g, st.error());
  const bool interrupted = g_interrupted.load();
  if (g.json) {
    const double n_gen = static_cast<double>(generated.size());
    print_json({{"text", text},
                {"tokens", generated.size()},
                {"token_ids", generated},
                {"prompt_tokens", ids.size()},
                {"stop_reason", stop_name(reason, interrupted, context_full)},
                {"timings",
                 {{"load_ms", load_ms},
                  {"prefill_ms", prefill_ms},
                  {"decode_ms", decode_ms},
                  {"prefill_tok_s", ids.size() / (prefill_ms / 1e3)},
                  {"decode_tok_s", decode_ms > 0 ? n_gen / (decode_ms / 1e3) : 0.0}}}});
  }
  return interrupted ? kExitInterrupted : kExitOk;
}

void add_generate_verb(VerbContext& ctx) {
  CLI::App* sub = ctx.root.add_subcommand("generate", "complete a prompt (offline with --model)");
  auto args = std::make_shared<GenerateArgs>();
  sub->add_option("--model", args->model, "GGUF model file: run in-process (else: the daemon)");
  sub->add_option("-n,--max-tokens", args->n, "tokens to generate at most (0 = until stop)")
      ->check(CLI::Range(0, 1 << 24))
      ->capture_default_str();
  sub->add_option("--temp", args->temp, "temperature (0 = greedy)")->capture_default_str();
  sub->add_option("--top-k", args->top_k, "top-k (0 = off)")->capture_default_str();
  sub->add_option("--top-p", args->top_p, "top-p (1 = off)")->capture_default_str();
  sub->add_option("--seed", args->seed, "sampling seed")->capture_default_str();
  sub->add_option("--ids", args->ids, "prompt as token ids instead of text, e.g. \"2 651\"");
  sub->add_flag("--raw", args->raw, "no chat format: <bos> + the prompt as it is");
  sub->add_flag("--ignore-eos", args->ignore_eos,
                "keep going through stop tokens until -n tokens (benchmarks)");
  sub->add_option("--threads", args->threads, "worker threads (0 = all cores)")
      ->check(CLI::Range(0, 1024));
  sub->add_flag("--json", ctx.globals.json, "one JSON document at the end (no streaming)");
  sub->add_option("prompt", args->prompt, "prompt text");
  Globals* g = &ctx.globals;
  int* exit_code = &ctx.exit_code;
  sub->callback([args, g, exit_code] { *exit_code = run_generate(*args, *g); });
}

}  // namespace

GEMMACTL_VERB(40, add_generate_verb);

}  // namespace gemmad::ctl
