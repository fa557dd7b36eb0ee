// `gemmactl chat`: one turn of a stored conversation, or a REPL without TEXT. Tokens stream
// to stdout as they arrive; Ctrl-C cancels the turn (not the session).
#include <unistd.h>

#include <iostream>
#include <string>

#include "cli.h"
#include "daemon_link.h"
#include "generate/generation.h"

namespace gemmad::ctl {
namespace {

struct ChatArgs {
  std::string session;
  bool new_session = false;
  std::string system;
  std::string title;
  bool think = false;
  bool json = false;
  int max_tokens = generate::kDefaultMaxTokens;
  std::string use_model;
  bool ignore_eos = false;
  float temp = -1.0f;
  int64_t seed = -1;
  std::string text;
};

nlohmann::json done_json(const v1::Done& d, const std::string& text) {
  return {{"session", d.session_id()},
          {"text", text},
          {"stop_reason", stop_reason_name(d.stop_reason())},
          {"model", d.model()},
          {"usage",
           {{"prompt_tokens", d.usage().prompt_tokens()},
            {"completion_tokens", d.usage().completion_tokens()},
            {"cached_tokens", d.usage().cached_tokens()},
            {"turns_left_out", d.usage().turns_left_out()}}},
          {"timings",
           {{"queue_ms", d.timings().queue_ms()},
            {"prefill_ms", d.timings().prefill_ms()},
            {"decode_ms", d.timings().decode_ms()},
            {"prefill_tok_s", d.timings().prefill_tok_s()},
            {"decode_tok_s", d.timings().decode_tok_s()}}}};
}

// One turn. Returns the exit code; updates args.session to the turn's session.
int one_turn(client::Client& c, const Globals& g, ChatArgs& args, const std::string& text) {
  v1::ChatRequest req;
  req.set_session_id(args.session);
  req.set_new_session(args.session.empty());
  req.set_system_prompt(args.system);
  req.set_title(args.title);
  req.set_user_text(text);
  req.set_thinking(args.think);
  req.set_model(args.use_model);
  req.mutable_sampling()->set_max_tokens(static_cast<uint32_t>(args.max_tokens));
  req.mutable_sampling()->set_ignore_eos(args.ignore_eos);
  if (args.temp >= 0) req.mutable_sampling()->set_temperature(args.temp);
  if (args.seed >= 0) req.mutable_sampling()->set_seed(static_cast<uint64_t>(args.seed));
  std::string reply;
  InterruptScope scope(c);
  auto done = c.chat(req, [&](const v1::Token& t) {
    reply += t.text();
    if (!args.json) std::cout << t.text() << std::flush;
  });
  if (!done.ok()) return report_client_error(g, done.error());
  args.session = done->session_id();
  if (args.json) {
    print_json(done_json(*done, reply));
  } else {
    std::cout << "\n";
    if (done->stop_reason() == v1::STOP_REASON_CANCELLED) std::cerr << "[cancelled]\n";
  }
  return done->stop_reason() == v1::STOP_REASON_CANCELLED ? kExitInterrupted : kExitOk;
}

int run_chat(const Globals& g, ChatArgs args) {
  if (!args.session.empty() && args.new_session) {
    return report_error(g, "usage", "--session and --new exclude each other", kExitUsage);
  }
  int code = kExitOk;
  auto c = connect_daemon(g, code);
  if (!c) return code;
  if (!args.text.empty()) {
    code = one_turn(*c, g, args, args.text);
    if (!args.json && code != kExitError) std::cerr << "session " << args.session << "\n";
    return code;
  }
  // REPL: one turn per line until EOF or /exit.
  const bool tty = isatty(STDIN_FILENO);
  std::string line;
  for (;;) {
    if (tty) std::cerr << "> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line.empty()) continue;
    code = one_turn(*c, g, args, line);
    if (code != kExitOk && code != kExitInterrupted) return code;
    InterruptScope::clear();
  }
  if (!args.session.empty() && !args.json) std::cerr << "session " << args.session << "\n";
  return kExitOk;
}

void add_chat_verb(VerbContext& ctx) {
  auto args = std::make_shared<ChatArgs>();
  CLI::App* cmd = ctx.root.add_subcommand(
      "chat", "a turn of a stored conversation (an interactive REPL without TEXT)");
  cmd->add_option("--session", args->session, "continue this session");
  cmd->add_flag("--new", args->new_session, "start a new session (the default without --session)");
  cmd->add_option("--system", args->system, "system prompt of a new session");
  cmd->add_option("--title", args->title, "title of a new session");
  cmd->add_flag("--think", args->think, "let the model think before answering");
  cmd->add_option("-m,--use", args->use_model,
                  "the daemon's model to answer (`gemmactl model ls`; default: the session's, "
                  "or the daemon's first)");
  cmd->add_option("-n,--max-tokens", args->max_tokens, "most tokens in the reply")
      ->check(CLI::Range(1, 131072));
  cmd->add_flag("--ignore-eos", args->ignore_eos,
                "keep going through end-of-turn until -n tokens (benchmarks, tests)");
  cmd->add_option("--temp", args->temp, "sampling temperature (0 = greedy)")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--seed", args->seed, "sampling seed");
  cmd->add_flag("--json", args->json, "print one JSON document per turn");
  cmd->add_option("text", args->text, "the message (omit for a REPL)");
  cmd->callback([&ctx, args] {
    ctx.globals.json = args->json;
    ctx.exit_code = run_chat(ctx.globals, *args);
  });
}

}  // namespace
GEMMACTL_VERB(50, add_chat_verb);
}  // namespace gemmad::ctl
