// `gemmactl generate [--model FILE] [-n N] [--temp T] [--top-k K] [--top-p P] [--seed S]
// [--ids "2 ..."] [--raw] [--ignore-eos] [--kv-type PRESET] [--schema FILE | --json-object]
// [--json] [PROMPT]`: a raw completion
// (docs/DESIGN.md command-line contract), computed in-process with --model, else by the daemon
// (GenerateRequest). The prompt gets <bos>; unless --raw it is wrapped as one user turn of the chat
// format. Text streams to stdout as tokens arrive (UTF-8 held back until a character is complete);
// --json prints one document at the end instead. Stops on the stop set, after -n tokens, or at the
// context limit; Ctrl-C stops with exit 130. --schema / --json-object (offline only) constrain the
// output to JSON under the schema / any JSON value (docs/CONSTRAINED.md); it ends when complete.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "chat/chat_format.h"
#include "cli.h"
#include "constrain/constrain.h"
#include "daemon_link.h"
#include "generate/generation.h"
#include "kernels/thread_pool.h"
#include "kv_type_option.h"
#include "models/gemma4.h"
#include "runtime/model.h"
#include "sampler/sampler.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::ctl {
namespace {

using Clock = std::chrono::steady_clock;

struct GenerateArgs {
  std::string model;
  std::string use_model;
  int n = generate::kDefaultMaxTokens;
  float temp = 1.0f;
  int top_k = 64;
  float top_p = 0.95f;
  uint64_t seed = 0;
  std::string ids;
  bool raw = false;
  bool ignore_eos = false;
  int threads = 0;
  std::string kv_type = "f16";
  std::string schema_file;
  bool json_object = false;
  std::string prompt;
};

// The grammar of --schema FILE / --json-object, or null without either.
Result<std::shared_ptr<const constrain::Grammar>> grammar_of(const GenerateArgs& a) {
  if (a.json_object) return constrain::any_json_value(constrain::Dialect::kJson);
  if (a.schema_file.empty()) return std::shared_ptr<const constrain::Grammar>{};
  std::ifstream in(a.schema_file, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, "--schema: cannot read " + a.schema_file);
  std::stringstream text;
  text << in.rdbuf();
  auto g = constrain::compile_json_schema(text.str(), constrain::Dialect::kJson);
  if (!g.ok()) return std::move(g).error().with_context(a.schema_file);
  return g;
}

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) {
  g_interrupted.store(true);
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// <bos> + the prompt (--raw), or the prompt as one user turn of the chat format (docs/GEMMA4.md
// §5.4).
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
  req.set_model(a.use_model);
  v1::SamplingParams* sp = req.mutable_sampling();
  sp->set_temperature(a.temp);
  sp->set_top_k(a.top_k);
  sp->set_top_p(a.top_p);
  sp->set_seed(a.seed);
  sp->set_max_tokens(static_cast<uint32_t>(a.n));
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
  if (a.model.empty() && (a.json_object || !a.schema_file.empty())) {
    return report_error(g, "invalid_argument",
                        "--schema and --json-object need --model (offline generation)", kExitUsage);
  }
  if (a.model.empty()) return run_generate_daemon(a, g);
  sampler::SamplingParams sp;
  sp.temperature = a.temp;
  sp.top_k = a.top_k;
  sp.top_p = a.top_p;
  sp.seed = a.seed;
  generate::Limits limits;
  limits.max_tokens = a.n;
  limits.ignore_eos = a.ignore_eos;
  if (Status st = sampler::validate(sp); !st.ok()) {
    return report_error(g, "invalid_argument", st.error().message, kExitUsage);
  }
  auto grammar = grammar_of(a);
  if (!grammar.ok())
    return report_error(g, "invalid_argument", grammar.error().message, kExitUsage);
  limits.grammar = grammar.value();
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
  const uint32_t n_ctx = m.config().n_ctx_train;
  if (ids.empty() || ids.size() > n_ctx) {
    return report_error(
        g, "invalid_argument",
        "prompt of " + std::to_string(ids.size()) + " tokens; must be 1.." + std::to_string(n_ctx),
        kExitUsage);
  }
  kernels::ThreadPool pool(a.threads);
  engine::Gemma4Forward fwd(m.config(), m.weights(), pool);
  runtime::KvCacheOptions kv_opts;
  kv_opts.n_ctx = n_ctx;  // the KV grows in chunks: only what is used is allocated
  kv_opts.type = kv_types_of(a.kv_type);
  runtime::KvCachePool kv = m.new_kv_pool(kv_opts);
  const double load_ms = ms_since(t_load);

  struct sigaction sa = {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_sa = {};
  sigaction(SIGINT, &sa, &old_sa);

  std::shared_ptr<const constrain::TokenIndex> index;
  if (limits.grammar) {
    if (!tok) {
      return report_error(g, "bad_model_file",
                          a.model + ": no tokenizer in the file; --schema needs one",
                          kExitBadModel);
    }
    auto built = constrain::build_token_index(*tok);
    if (!built.ok()) return report_error(g, built.error());
    index = std::move(built).value();
  }
  sampler::Sampler smp(sp);
  generate::Sequence seq(tok.get(), tok ? generate::stop_set_for(*tok) : generate::StopSet{},
                         limits, kv.options().n_ctx, index);
  const generate::RunResult r =
      generate::run_sequence(fwd, kv, 0, ids, smp, seq, [&](int32_t, const std::string& piece) {
        if (!g.json && !piece.empty()) {
          std::fwrite(piece.data(), 1, piece.size(), stdout);
          std::fflush(stdout);
        }
        return !g_interrupted.load();
      });
  sigaction(SIGINT, &old_sa, nullptr);
  if (!g.json) {
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  if (r.stop == generate::StopReason::kError) return report_error(g, r.error);
  const bool interrupted = r.stop == generate::StopReason::kCancelled;
  if (g.json) {
    const double n_gen = static_cast<double>(r.tokens.size());
    print_json({{"text", r.text},
                {"tokens", r.tokens.size()},
                {"token_ids", r.tokens},
                {"prompt_tokens", ids.size()},
                {"stop_reason", generate::stop_reason_name(r.stop)},
                {"timings",
                 {{"load_ms", load_ms},
                  {"prefill_ms", r.prefill_ms},
                  {"decode_ms", r.decode_ms},
                  {"prefill_tok_s", ids.size() / (r.prefill_ms / 1e3)},
                  {"decode_tok_s", r.decode_ms > 0 ? n_gen / (r.decode_ms / 1e3) : 0.0}}}});
  }
  return interrupted ? kExitInterrupted : kExitOk;
}

void add_generate_verb(VerbContext& ctx) {
  CLI::App* sub = ctx.root.add_subcommand("generate", "complete a prompt (offline with --model)");
  auto args = std::make_shared<GenerateArgs>();
  sub->add_option("--model", args->model, "GGUF model file: run in-process (else: the daemon)");
  sub->add_option("-m,--use", args->use_model,
                  "the daemon's model to answer (`gemmactl model ls`; default: its first)");
  sub->add_option("-n,--max-tokens", args->n, "tokens to generate at most")
      ->check(CLI::Range(1, 1 << 24))
      ->capture_default_str();
  sub->add_option("--temp", args->temp, "temperature (0 = greedy)")->capture_default_str();
  sub->add_option("--top-k", args->top_k, "top-k (0 = off)")->capture_default_str();
  sub->add_option("--top-p", args->top_p, "top-p (1 = off)")->capture_default_str();
  sub->add_option("--seed", args->seed, "sampling seed")->capture_default_str();
  sub->add_option("--ids", args->ids, "prompt as token ids instead of text, e.g. \"2 651\"");
  sub->add_flag("--raw", args->raw, "no chat format: <bos> + the prompt as it is");
  sub->add_flag("--ignore-eos", args->ignore_eos,
                "keep going through stop tokens until -n tokens (benchmarks)");
  add_kv_type_option(sub, args->kv_type, "--kv-type", "KV cache type of an offline (--model) run");
  auto* schema = sub->add_option("--schema", args->schema_file,
                                 "JSON Schema file: the output is JSON valid under it (offline)");
  sub->add_flag("--json-object", args->json_object, "the output is one JSON value (offline)")
      ->excludes(schema);
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
