// `gemmactl chat`: one turn of a stored conversation, or a REPL without TEXT. Tokens stream
// to stdout as they arrive; Ctrl-C cancels the turn (not the session).
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "chat_options.h"
#include "cli.h"
#include "daemon_link.h"
#include "generate/generation.h"
#include "repl.h"

namespace gemmad::ctl {
namespace {

static_assert(SamplingArgs{}.max_tokens == generate::kDefaultMaxTokens,
              "gemmactl chat's -n default is the engine's one default");

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

// The --image and --audio files as media parts before the text (the daemon checks them).
// Consumed: a REPL sends them with its first turn only.
Status attach_media(ChatArgs& args, v1::ChatRequest& req) {
  auto add = [&](const std::string& path, v1::MediaKind kind) -> Status {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return make_error(ErrorCode::kInvalidArgument,
                        std::string(kind == v1::MEDIA_KIND_IMAGE ? "--image" : "--audio") + " '" +
                            path + "' cannot be read");
    }
    v1::MediaPart* part = req.add_media();
    part->set_kind(kind);
    part->set_data(std::string(std::istreambuf_iterator<char>(in), {}));
    return {};
  };
  for (const std::string& p : args.images)
    GEMMAD_TRY(add(p, v1::MEDIA_KIND_IMAGE));
  for (const std::string& p : args.audios)
    GEMMAD_TRY(add(p, v1::MEDIA_KIND_AUDIO));
  args.images.clear();
  args.audios.clear();
  return {};
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
  fill_sampling(args.sampling, req.mutable_sampling());
  if (Status st = attach_media(args, req); !st.ok()) {
    return report_error(g, "usage", st.error().message, kExitUsage);
  }
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
  }
  return stream_exit_code(g, done->stop_reason());
}

int run_chat(const Globals& g, ChatArgs args) {
  if (!args.session.empty() && args.new_session) {
    return report_error(g, "usage", "--session and --new exclude each other", kExitUsage);
  }
  int code = kExitOk;
  auto c = connect_daemon(g, code);
  if (!c) return code;
  if (!args.session.empty()) {
    auto full = resolve_session_id(*c, args.session);
    if (!full.ok()) return report_client_error(g, full.error());
    args.session = *full;
  }
  if (!args.text.empty()) {
    code = one_turn(*c, g, args, args.text);
    if (!args.json && code != kExitError) std::cerr << "session " << args.session << "\n";
    return code;
  }
  const int code_after = run_repl(*c, g, args, [&](ChatArgs& a, const std::string& text) {
    const int turn_code = one_turn(*c, g, a, text);
    InterruptScope::clear();
    return turn_code;
  });
  if (!args.session.empty() && !args.json) std::cerr << "session " << args.session << "\n";
  return code_after;
}

void add_chat_verb(VerbContext& ctx) {
  auto args = std::make_shared<ChatArgs>();
  CLI::App* cmd = ctx.root.add_subcommand(
      "chat", "a turn of a stored conversation (an interactive REPL without TEXT)");
  cmd->add_option("--session", args->session, "continue this session (id or a unique prefix)");
  cmd->add_flag("--new", args->new_session, "start a new session (the default without --session)");
  cmd->add_option("--system", args->system, "system prompt of a new session");
  cmd->add_option("--title", args->title, "title of a new session");
  cmd->add_flag("--think", args->think, "let the model think before answering");
  cmd->add_option("-m,--use", args->use_model,
                  "the daemon's model to answer (`gemmactl model ls`; default: the session's, "
                  "or the daemon's first)");
  add_sampling_options(cmd, args->sampling);
  // One file per flag, so `--image a.png TEXT` leaves TEXT to the message.
  cmd->add_option("--image", args->images, "a PNG or JPEG file sent with the turn; repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--audio", args->audios, "a WAV file sent with the turn; repeatable")
      ->allow_extra_args(false);
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
